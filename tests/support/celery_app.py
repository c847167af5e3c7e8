"""The Celery app the tests' workers run, configured from the environment the fixtures set:

- GRAFLOW_TEST_REDIS_URL: the broker, results and run state (a private redis-server);
- GRAFLOW_TEST_BROKER_URL, if set: another broker (RabbitMQ, ``amqp://...``); run state stays
  on GRAFLOW_TEST_REDIS_URL;
- GRAFLOW_TEST_STATE_URL, if set: run state on another Redis;
- GRAFLOW_TEST_MASTER_NAME, if set: GRAFLOW_TEST_REDIS_URL is a Redis Sentinel URL list and this
  the name of the master the sentinels watch (broker, results and run state on that group);
- GRAFLOW_TEST_VISIBILITY (a Redis broker's visibility timeout), GRAFLOW_TEST_PICKLE_KEY;
- GRAFLOW_TEST_STORE_ERRORS, if set: failed steps have a result-backend record although steps
  ignore their results (``task_store_errors_even_if_ignored``);
- GRAFLOW_TEST_OTEL_DIR, if set: tracing on, spans written there (``tests/support/otel_setup.py``).

The test process builds the app of each backend it tests with ``make_app``.
"""

from __future__ import annotations

import os

from celery import Celery

import graflow_celery
import tests.contract.feedback_flows
import tests.contract.flows
import tests.support.app_tasks
import tests.support.celery_flows
import tests.support.signal_recorder

if os.environ.get("GRAFLOW_TEST_OTEL_DIR"):
    import tests.support.otel_setup  # noqa: F401


def make_app(main: str, redis_url: str, broker_url: str | None = None, state_url: str | None = None,
             set_as_current: bool = True) -> Celery:
    """A test app: late acks, one message prefetched per process. ``redis_url`` holds results and,
    unless ``state_url`` names another Redis, run state; it is also the broker unless
    ``broker_url`` names another one."""
    app = Celery(main, broker=broker_url or redis_url, set_as_current=set_as_current)
    app.conf.update(worker_prefetch_multiplier=1, task_acks_late=True, worker_hijack_root_logger=False,
                    result_backend=redis_url,
                    # steps are routed by their shown name, globs too (tests/celery/test_task_options.py)
                    task_routes={"routed_by_name.where_*": {"queue": "special"}})
    master_name = {"master_name": os.environ["GRAFLOW_TEST_MASTER_NAME"]} if os.environ.get(
        "GRAFLOW_TEST_MASTER_NAME") else {}
    if not broker_url:
        app.conf.broker_transport_options = {
            "visibility_timeout": int(os.environ.get("GRAFLOW_TEST_VISIBILITY", "3600")),
            "unacked_restore_interval": 1,
            **master_name,
        }
        app.conf.result_backend_transport_options = master_name
    if state_url or broker_url:
        app.conf.graflow_state_url = state_url or redis_url
    if os.environ.get("GRAFLOW_TEST_STORE_ERRORS"):
        app.conf.task_store_errors_even_if_ignored = True
    if os.environ.get("GRAFLOW_TEST_PICKLE_KEY"):
        app.conf.graflow_pickle_key = os.environ["GRAFLOW_TEST_PICKLE_KEY"]
    graflow_celery.install(app)
    return app


app = make_app("graflow_tests", os.environ.get("GRAFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
               broker_url=os.environ.get("GRAFLOW_TEST_BROKER_URL") or None,
               state_url=os.environ.get("GRAFLOW_TEST_STATE_URL") or None)
