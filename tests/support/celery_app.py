"""The Celery app the tests' workers run. Its broker (and state store) comes from the
GRAFLOW_TEST_REDIS_URL environment variable set by the fixtures; GRAFLOW_TEST_STATE_URL, if set,
puts run state on another Redis."""

from __future__ import annotations

import os

from celery import Celery

import graflow_celery
import tests.contract.flows
import tests.support.app_tasks
import tests.support.celery_flows
import tests.support.signal_recorder  # noqa: F401

app = Celery("graflow_tests", broker=os.environ.get("GRAFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
app.conf.update(
    worker_prefetch_multiplier=1,
    task_acks_late=True,
    broker_transport_options={
        "visibility_timeout": int(os.environ.get("GRAFLOW_TEST_VISIBILITY", "3600")),
        "unacked_restore_interval": 1,
    },
    worker_hijack_root_logger=False,
    result_backend=os.environ.get("GRAFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
)
if os.environ.get("GRAFLOW_TEST_STATE_URL"):
    app.conf.graflow_state_url = os.environ["GRAFLOW_TEST_STATE_URL"]
if os.environ.get("GRAFLOW_TEST_PICKLE_KEY"):
    app.conf.graflow_pickle_key = os.environ["GRAFLOW_TEST_PICKLE_KEY"]
graflow_celery.install(app)
