"""Which arguments a task function receives.

In order: the task context (``inject_context=True``), the ``next_iteration`` data, then each
remaining parameter from, first to last: the task instance's bound kwargs, the result of a task
whose id is the parameter's name, a channel key of that name, the parameter's default.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import lru_cache
from typing import Any

_KW_KINDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


@lru_cache(maxsize=4096)
def _param_names(func: Callable[..., Any]) -> tuple[str, ...]:
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return ()
    return tuple(p.name for p in params if p.kind in _KW_KINDS)


def build_call(
    func: Callable[..., Any],
    *,
    leading: list[Any],
    bound: dict[str, Any],
    resolve: bool,
    lookup: Callable[[list[str]], dict[str, Any]],
) -> tuple[list[Any], dict[str, Any]]:
    """Positional args and kwargs for ``func``; ``lookup`` finds results/channel values by name."""
    names = _param_names(func)[len(leading):]
    kwargs = {k: v for k, v in bound.items()}
    wanted = [n for n in names if n not in kwargs]
    if resolve and wanted:
        kwargs.update(lookup(wanted))
    return leading, kwargs
