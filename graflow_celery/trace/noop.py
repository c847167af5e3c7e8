"""``NoopTracer``: writes nothing (graflow's default tracer); it still lists the tasks started."""

from __future__ import annotations

from graflow_celery.trace.base import Tracer


class NoopTracer(Tracer):
    pass
