"""``ConsoleTracer``: a run as it happens, one line per event on stdout.

    → [12:00:01.120] TRACE START: etl (trace_id=..., start_node=extract)
      → [12:00:01.121] SPAN START: extract (task_type=TaskWrapper)
      ✓ [12:00:01.130] SPAN END: extract (9.1ms)
      ✗ [12:00:01.140] SPAN END: load - ERROR: boom (2.0ms)
    ✓ [12:00:01.150] TRACE END: etl (30.2ms)

Members of a parallel group are indented under it.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from graflow_celery.trace.base import Tracer

if TYPE_CHECKING:
    from graflow_celery.core.context import ExecutionContext

_COLORS = {"cyan": "36", "blue": "34", "green": "32", "red": "31", "yellow": "33", "gray": "90"}


class ConsoleTracer(Tracer):
    def __init__(self, enable_runtime_graph: bool = True, enable_colors: bool = True,
                 show_metadata: bool = True, indent_size: int = 2) -> None:
        super().__init__(enable_runtime_graph)
        self.enable_colors = enable_colors
        self.show_metadata = show_metadata
        self.indent_size = indent_size
        self._started: dict[str, float] = {}  # span or trace name -> when it started
        self._parents: dict[str, str | None] = {}  # span -> the group it runs in
        self._print_lock = threading.Lock()

    # --- formatting -------------------------------------------------------------------------------

    def _color(self, text: str, color: str) -> str:
        return f"\033[{_COLORS[color]}m{text}\033[0m" if self.enable_colors else text

    def _meta(self, metadata: dict[str, Any] | None) -> str:
        shown = {k: v for k, v in (metadata or {}).items() if v is not None}
        if not self.show_metadata or not shown:
            return ""
        return " (" + ", ".join(f"{k}={v}" for k, v in shown.items()) + ")"

    def _depth(self, name: str | None) -> int:
        depth = 0
        while name is not None and depth < 50:  # a group inside a group inside...
            depth += 1
            name = self._parents.get(name)
        return depth

    def _took(self, name: str) -> str:
        started = self._started.pop(name, None)
        return "" if started is None else f" ({(time.monotonic() - started) * 1000:.1f}ms)"

    def _print(self, depth: int, icon: str, color: str, text: str, text_color: str | None = None) -> None:
        stamp = self._color(f"[{datetime.now().strftime('%H:%M:%S.%f')[:-3]}]", "gray")
        line = f"{' ' * (depth * self.indent_size)}{self._color(icon, color)} {stamp} "
        with self._print_lock:
            print(line + self._color(text, text_color or color), flush=True)

    # --- output -----------------------------------------------------------------------------------

    def _output_trace_start(self, name: str, trace_id: str | None, metadata: dict[str, Any] | None) -> None:
        self._started[name] = time.monotonic()
        shown = self._meta({"trace_id": trace_id, **(metadata or {})})
        self._print(0, "→", "cyan", f"TRACE START: {name}{shown}")

    def _output_trace_end(self, name: str, output: Any, metadata: dict[str, Any] | None) -> None:
        self._print(0, "✓", "green", f"TRACE END: {name}{self._took(name)}", "cyan")

    def _output_span_start(self, name: str, parent_name: str | None, metadata: dict[str, Any] | None) -> None:
        self._parents[name] = parent_name
        self._started[name] = time.monotonic()
        self._print(self._depth(name), "→", "blue", f"SPAN START: {name}{self._meta(metadata)}")

    def _output_span_end(self, name: str, output: Any, metadata: dict[str, Any] | None) -> None:
        error = (metadata or {}).get("error")
        if error is not None:
            self._print(self._depth(name), "✗", "red", f"SPAN END: {name} - ERROR: {error}{self._took(name)}")
        else:
            self._print(self._depth(name), "✓", "green", f"SPAN END: {name}{self._took(name)}", "blue")

    def _output_event(self, name: str, parent_span: str | None, metadata: dict[str, Any] | None) -> None:
        self._print(self._depth(parent_span) + 1, "⚡", "yellow", f"EVENT: {name}{self._meta(metadata)}")

    # --- groups show as events --------------------------------------------------------------------

    def on_parallel_group_start(self, group_id: str, member_ids: list[str],
                                context: ExecutionContext) -> None:
        self._parents[group_id] = context.graph.owner(group_id)
        self.event(f"parallel_group_start: {group_id}", parent_span=self._parents[group_id],
                   metadata={"members": len(member_ids)})

    def on_parallel_group_end(self, group_id: str, member_ids: list[str], context: ExecutionContext,
                              results: dict[str, Any] | None = None) -> None:
        outcome = "completed" if results is not None else "failed"
        self.event(f"parallel_group_end: {group_id}", parent_span=self._parents.get(group_id),
                   metadata={"outcome": outcome, "members": len(member_ids)})
