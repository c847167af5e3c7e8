"""Finding what the command line names: ``MODULE:WORKFLOW``, ``--app MODULE:APP``, ``key=json``."""

from __future__ import annotations

import importlib
import json
import os
import sys
from typing import Any

import click

from graflow_celery.core.workflow import WorkflowContext, workflows


class CliError(click.ClickException):
    """One line on stderr and exit code 2, as click does for a usage error."""

    exit_code = 2


def _import(module_name: str) -> Any:
    # Like ``celery -A`` and ``python -m``: modules of the current directory are importable.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        raise CliError(f"cannot import module {module_name!r}: {exc}") from exc


def load_workflow(spec: str) -> WorkflowContext:
    """``module:name``: the module's attribute ``name`` (a workflow, or a function without
    arguments that builds one), else the workflow defined under that name by importing it.
    A name alone: a workflow this process has defined already (``manage.py graflow`` has
    imported every app's ``workflows`` module)."""
    module_name, sep, name = spec.partition(":")
    if not sep and spec in workflows():
        return workflows()[spec]
    if not sep or not module_name or not name:
        raise CliError(f"expected MODULE:WORKFLOW, got {spec!r}")
    module = _import(module_name)
    found = getattr(module, name, None)
    if isinstance(found, WorkflowContext):
        return found
    if name in workflows():
        return workflows()[name]
    if callable(found):
        built = found()
        if isinstance(built, WorkflowContext):
            return built
    raise CliError(f"no workflow {name!r} in module {module_name!r}; known workflows: "
                   f"{', '.join(sorted(workflows())) or 'none'}")


def load_app(spec: Any) -> Any:
    """The Celery app of ``--app``, found the way ``celery -A`` finds it (or the app itself, under
    ``celery -A proj graflow`` and ``manage.py graflow``)."""
    if spec is not None and not isinstance(spec, str):
        return spec
    if not spec:
        raise CliError("this command needs the Celery app: --app MODULE:APP (or GRAFLOW_CELERY_APP)")
    from celery.app.utils import find_app

    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return find_app(spec)
    except (ImportError, AttributeError) as exc:
        raise CliError(f"cannot load the Celery app {spec!r}: {exc}") from exc


def parse_inputs(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``key=json`` pairs; a value that is not JSON is taken as a string."""
    inputs: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise CliError(f"expected --input KEY=JSON, got {pair!r}")
        try:
            inputs[key] = json.loads(raw)
        except ValueError:
            inputs[key] = raw
    return inputs


def show(value: Any) -> str:
    """A result as JSON where it can be, else its repr."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
