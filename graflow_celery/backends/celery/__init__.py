"""The Celery backend: every step a Celery message, run state in Redis, no master process."""

from __future__ import annotations

from celery import Celery

from graflow_celery.backends.celery import (  # noqa: F401 (redis_channel_runs registers "redis")
    feedback_due,
    handoff,
    parked_states,
    redis_channel_runs,
    worker,
)
from graflow_celery.backends.celery.feedback_store import redis_feedback
from graflow_celery.backends.celery.feedback_sweep import add_deadline_sweep
from graflow_celery.backends.celery.run import (
    WorkflowRun,
    celery_run,
    recent_runs,
    resume,
    runs_for,
    submit,
)
from graflow_celery.backends.celery.sweep import add_sweep
from graflow_celery.celery_task_step import CeleryTaskStep, from_celery
from graflow_celery.core.context import register_run_factory
from graflow_celery.core.feedback_store import register_feedback_backend
from graflow_celery.errors import ConfigurationError

register_run_factory("celery", celery_run)
register_feedback_backend("redis", redis_feedback)  # an in-process run's requests, kept in Redis


def install(app: Celery, **settings: object) -> Celery:
    """Make ``app`` run graflow workflows and check its settings now rather than at the first
    submit. Keyword arguments set ``graflow_*`` settings: ``install(app, state_ttl=3600)``. Every
    worker of ``app`` also runs the lease sweep, which re-sends the steps of dead workers. In eager
    mode (``task_always_eager``) runs stay in this process: no Redis is needed, none is checked.
    Workers also sweep parked steps' deadlines (``feedback_sweep.py``)."""
    for key, value in settings.items():
        app.conf[f"graflow_{key}"] = value
    if worker.run_step.name not in app.tasks:  # app.tasks finalizes the app, adding shared tasks
        raise ConfigurationError(f"the {worker.run_step.name} task is not registered on {app.main}")
    runs_for(app)  # reads and checks the settings
    add_sweep(app)
    add_deadline_sweep(app)  # parked steps' deadlines, should a worker holding their wake-up die
    return app


__all__ = ["CeleryTaskStep", "WorkflowRun", "feedback_due", "from_celery", "handoff", "install",
           "recent_runs", "resume", "submit"]
