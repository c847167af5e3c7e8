"""graflow-celery's settings, read once from a Celery app's configuration.

Set them like any Celery setting: ``app.conf.graflow_state_ttl = 3600``, or in Django settings
with ``app.config_from_object("django.conf:settings", namespace="CELERY")`` as
``CELERY_GRAFLOW_STATE_TTL = 3600``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from celery import Celery

from graflow_celery.backends.celery.leases import DEFAULT_STEP_LEASE
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
    step_lease: float = DEFAULT_STEP_LEASE  # seconds a running step's lease lasts unless renewed:
    # how long a dead worker's step waits before a live worker sends it again

    @classmethod
    def from_app(cls, app: Celery) -> GraflowSettings:
        conf = app.conf
        state_url = conf.get("graflow_state_url")
        url = state_url or conf.get("broker_url") or ""
        if not url.startswith(("redis://", "rediss://", "unix://")):
            if state_url:
                raise ConfigurationError(f"graflow_state_url must be a Redis URL (redis://, rediss:// or "
                                         f"unix://), got {redact(state_url)!r}")
            raise ConfigurationError(
                "graflow-celery keeps run state in Redis: set app.conf.graflow_state_url "
                f"(the broker URL {redact(url)!r} is not a Redis URL)"
            )
        ttl = int(conf.get("graflow_state_ttl") or DEFAULT_TTL)
        if ttl <= 0:
            raise ConfigurationError(f"graflow_state_ttl must be a positive number of seconds, got {ttl}")
        return cls(url, ttl, conf.get("graflow_default_queue"), conf.get("graflow_pickle_key"),
                   step_lease=_step_lease(conf.get("graflow_step_lease")))


def _step_lease(raw: Any) -> float:
    """``graflow_step_lease``: a number of seconds, at least 1 (a lease is renewed every third of it)."""
    if raw is None:
        return DEFAULT_STEP_LEASE
    try:
        seconds = float(raw) if not isinstance(raw, bool) else math.nan
    except (TypeError, ValueError):
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= 1):
        raise ConfigurationError(f"graflow_step_lease must be a number of seconds >= 1, got {raw!r}")
    return seconds
