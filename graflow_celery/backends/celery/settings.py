"""graflow-celery's settings, read once from a Celery app's configuration.

Set them like any Celery setting: ``app.conf.graflow_state_ttl = 3600``, or in Django settings
with ``app.config_from_object("django.conf:settings", namespace="CELERY")`` as
``CELERY_GRAFLOW_STATE_TTL = 3600``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from celery import Celery

from graflow_celery.backends.celery.leases import DEFAULT_STEP_LEASE
from graflow_celery.backends.celery.sent_index import DEFAULT_SEND_GRACE
from graflow_celery.backends.celery.state_redis import check_state_url, is_redis_url
from graflow_celery.backends.celery.store import DEFAULT_TTL
from graflow_celery.errors import ConfigurationError
from graflow_celery.redact import redact

DEFAULT_RUN_INDEX_SIZE = 1000


@dataclass(frozen=True)
class GraflowSettings:
    state_url: str  # Redis holding run state; defaults to the broker when that is Redis
    state_ttl: int = DEFAULT_TTL  # seconds a run's state lives after its last step (a channel
    # value: after it was last written)
    default_queue: str | None = None  # queue for steps whose task names none
    pickle_key: str | None = None  # enables signed pickle for values and functions
    step_lease: float = DEFAULT_STEP_LEASE  # seconds a running step's lease lasts unless renewed:
    # how long a dead worker's step waits before a live worker sends it again
    # for a Sentinel state_url: master_name, sentinel_kwargs, ... (state_redis.py); read from
    # graflow_state_transport_options, else broker_transport_options when state_url is the broker's
    state_transport_options: Mapping[str, Any] = field(default_factory=dict)
    run_index_size: int = DEFAULT_RUN_INDEX_SIZE  # runs the app's index keeps (recent_runs); 0: none
    send_grace: float = DEFAULT_SEND_GRACE  # seconds a step message may wait unstarted before a live
    # worker's sweep sends it again (a lost message); 0: not watched

    @classmethod
    def from_app(cls, app: Celery) -> GraflowSettings:
        conf = app.conf
        broker = conf.get("broker_url") or ""
        url = conf.get("graflow_state_url") or broker
        if not is_redis_url(url):
            what = "graflow_state_url" if conf.get("graflow_state_url") else "the broker URL"
            raise ConfigurationError(
                "graflow-celery keeps run state in Redis: set app.conf.graflow_state_url to a Redis URL "
                "(redis://, rediss://, unix://) or a Redis Sentinel URL list "
                f"(sentinel://host:26379;sentinel://host2:26379); {what} {redact(url)!r} is neither")
        options_setting = "graflow_state_transport_options"
        options = conf.get(options_setting)
        if options is None and url == broker:  # one Sentinel group for broker and state
            options_setting = "broker_transport_options"
            options = conf.get(options_setting)
        check_state_url(url, options or {}, options_setting)
        ttl = int(conf.get("graflow_state_ttl") or DEFAULT_TTL)
        if ttl <= 0:
            raise ConfigurationError(f"graflow_state_ttl must be a positive number of seconds, got {ttl}")
        return cls(url, ttl, conf.get("graflow_default_queue"), conf.get("graflow_pickle_key"),
                   step_lease=_step_lease(conf.get("graflow_step_lease")),
                   state_transport_options=dict(options or {}),
                   run_index_size=_run_index_size(conf.get("graflow_run_index_size")),
                   send_grace=_send_grace(conf.get("graflow_send_grace")))


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


def _run_index_size(raw: Any) -> int:
    """``graflow_run_index_size``: how many of the newest runs ``recent_runs`` can list (0: no index)."""
    if raw is None:
        return DEFAULT_RUN_INDEX_SIZE
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise ConfigurationError(f"graflow_run_index_size must be a whole number >= 0, got {raw!r}")
    return raw


def _send_grace(raw: Any) -> float:
    """``graflow_send_grace``: a number of seconds >= 0 (0: step messages are not watched)."""
    if raw is None:
        return DEFAULT_SEND_GRACE
    try:
        seconds = float(raw) if not isinstance(raw, bool) else math.nan
    except (TypeError, ValueError):
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ConfigurationError(f"graflow_send_grace must be a number of seconds >= 0 (0: off), got {raw!r}")
    return seconds
