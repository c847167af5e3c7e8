"""The Celery app the tests' workers run. Its broker (and state store) comes from the
GRAFLOW_TEST_REDIS_URL environment variable set by the fixtures; GRAFLOW_TEST_STATE_URL, if set,
puts run state on another Redis. With GRAFLOW_TEST_MASTER_NAME, GRAFLOW_TEST_REDIS_URL is a Redis
Sentinel URL list (sentinel://h:p;sentinel://h:p2) and this the name of the master the sentinels watch:
broker, results and run state (the broker's transport options) all on that group."""

from __future__ import annotations

import os

from celery import Celery

import graflow_celery
import tests.contract.flows
import tests.support.app_tasks
import tests.support.celery_flows
import tests.support.signal_recorder  # noqa: F401

app = Celery("graflow_tests", broker=os.environ.get("GRAFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
MASTER_NAME = {"master_name": os.environ["GRAFLOW_TEST_MASTER_NAME"]} if os.environ.get(
    "GRAFLOW_TEST_MASTER_NAME") else {}
app.conf.update(
    worker_prefetch_multiplier=1,
    task_acks_late=True,
    broker_transport_options={
        "visibility_timeout": int(os.environ.get("GRAFLOW_TEST_VISIBILITY", "3600")),
        "unacked_restore_interval": 1,
        **MASTER_NAME,
    },
    result_backend_transport_options=MASTER_NAME,
    worker_hijack_root_logger=False,
    result_backend=os.environ.get("GRAFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
)
if os.environ.get("GRAFLOW_TEST_STATE_URL"):
    app.conf.graflow_state_url = os.environ["GRAFLOW_TEST_STATE_URL"]
if os.environ.get("GRAFLOW_TEST_PICKLE_KEY"):
    app.conf.graflow_pickle_key = os.environ["GRAFLOW_TEST_PICKLE_KEY"]
graflow_celery.install(app)
