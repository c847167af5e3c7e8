"""A Celery app for the tests of dead workers' steps (``tests/celery/test_worker_death.py``): the
broker keeps its default visibility timeout (kombu's Redis transport: one hour), so only the step
leases can bring a dead worker's step back in time.

Environment: GRAFLOW_TEST_REDIS_URL (broker and run state), GRAFLOW_TEST_STEP_LEASE (sets
``graflow_step_lease``), GRAFLOW_TEST_SEND_GRACE (sets ``graflow_send_grace``: the lost-message
tests), GRAFLOW_TEST_VISIBILITY (only for a worker that plays the broker giving a dead worker's
message back: a short visibility timeout, restored at once).
"""

from __future__ import annotations

import os

from celery import Celery

import graflow_celery
import tests.contract.feedback_flows
import tests.support.celery_flows
import tests.support.lost_flows  # noqa: F401

app = Celery("graflow_lease_tests", broker=os.environ.get("GRAFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
app.conf.update(worker_prefetch_multiplier=1, worker_hijack_root_logger=False)
if os.environ.get("GRAFLOW_TEST_VISIBILITY"):
    app.conf.broker_transport_options = {"visibility_timeout": int(os.environ["GRAFLOW_TEST_VISIBILITY"]),
                                         "unacked_restore_interval": 1, "unacked_restore_throttle": 1}
if os.environ.get("GRAFLOW_TEST_STEP_LEASE"):
    app.conf.graflow_step_lease = float(os.environ["GRAFLOW_TEST_STEP_LEASE"])
if os.environ.get("GRAFLOW_TEST_SEND_GRACE"):
    app.conf.graflow_send_grace = float(os.environ["GRAFLOW_TEST_SEND_GRACE"])
graflow_celery.install(app)
