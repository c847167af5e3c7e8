"""Redis goes away in the middle of a run and comes back (with its append-only file): workers
reconnect, the interrupted step is delivered again, and the run completes with each transition
applied once."""

from __future__ import annotations

import time

from celery import Celery

import graflow_celery
from tests.celery.test_reliability import (
    SLOW_SECONDS,
    Cluster,
    assert_each_transition_once,
    running_workers,
    wait_for_slow,
)
from tests.support import celery_flows
from tests.support.redis_server import RedisServer


def test_a_run_survives_a_redis_restart(tmp_path):
    server = RedisServer(persistent=True).start()
    app = Celery("restart", broker=server.url, set_as_current=False)
    app.conf.broker_transport_options = {"visibility_timeout": 5, "unacked_restore_interval": 1}
    graflow_celery.install(app)
    try:
        with running_workers(Cluster(app, server, tmp_path), ["x1", "x2"]) as workers:
            run = graflow_celery.submit(celery_flows.killable(), app=app)
            wait_for_slow(run)
            server.kill()  # kill -9 while `slow` runs; every write so far is in the append-only file
            time.sleep(SLOW_SECONDS)  # `slow` finishes while Redis is down: it cannot record its result
            server.start()
            assert run.wait(timeout=90) == "completed", [w.tail() for w in workers.values()]
            assert_each_transition_once(run)
            assert run.result() == "after"
            assert len(run.get_channel().get("slow_runs")) >= 2  # the interrupted step ran again
    finally:
        server.stop()
