"""graflow-celery's settings, read once from a Celery app's configuration.

Set them like any Celery setting: ``app.conf.graflow_state_ttl = 3600``, or in Django settings
with ``app.config_from_object("django.conf:settings", namespace="CELERY")`` as
``CELERY_GRAFLOW_STATE_TTL = 3600``.
"""

from __future__ import annotations

from dataclasses import dataclass

from celery import Celery

from graflow_celery.backends.celery.store import DEFAULT_TTL
from graflow_celery.errors import ConfigurationError
from graflow_celery.redact import redact


@dataclass(frozen=True)
class GraflowSettings:
    state_url: str  # Redis holding run state; defaults to the broker when that is Redis
    state_ttl: int = DEFAULT_TTL  # seconds a run's state lives after its last step (a channel
    # value: after it was last written)
    default_queue: str | None = None  # queue for steps whose task names none
    pickle_key: str | None = None  # enables signed pickle for values and functions

    @classmethod
    def from_app(cls, app: Celery) -> GraflowSettings:
        conf = app.conf
        url = conf.get("graflow_state_url") or conf.get("broker_url") or ""
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigurationError(
                "graflow-celery keeps run state in Redis: set app.conf.graflow_state_url "
                f"(the broker URL {redact(url)!r} is not a Redis URL)"
            )
        ttl = int(conf.get("graflow_state_ttl") or DEFAULT_TTL)
        if ttl <= 0:
            raise ConfigurationError(f"graflow_state_ttl must be a positive number of seconds, got {ttl}")
        return cls(url, ttl, conf.get("graflow_default_queue"), conf.get("graflow_pickle_key"))
