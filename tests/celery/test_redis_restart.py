"""Redis goes away (kill -9) in the middle of several runs and comes back on the same port with its
append-only file, twice: workers reconnect, the interrupted steps are delivered again, and every
run completes with each transition applied once."""

from __future__ import annotations

import time

from celery import Celery

import graflow_celery
from graflow_celery import WorkflowRun
from tests.celery.test_reliability import Cluster, assert_each_transition_once, running_workers
from tests.support import celery_flows
from tests.support.redis_server import RedisServer
from tests.support.wait import wait_until

RUNS = 4  # one slow step each: as many as the two workers' four pool processes run at once
REFUSED = "Redis or the broker is unavailable"  # a worker's log line when a step cannot apply


def slow_count(run: WorkflowRun) -> int:
    return len(run.get_channel().get("slow_runs", []))


def last_to_start_slow(runs: list[WorkflowRun], timeout: float = 60) -> WorkflowRun:
    """Wait until `slow` has started in every run; return one where it started during the last poll,
    so it is running now, for about SLOW_SECONDS more."""
    deadline = time.monotonic() + timeout
    waiting = list(runs)
    while True:
        still = [run for run in waiting if slow_count(run) == 0]
        if not still:
            return waiting[0]
        waiting = still
        assert time.monotonic() < deadline, "slow did not start in every run"
        time.sleep(0.05)


def test_runs_survive_two_redis_restarts(tmp_path):
    server = RedisServer(persistent=True).start()
    app = Celery("restart", broker=server.url, set_as_current=False)
    app.conf.broker_transport_options = {"visibility_timeout": 5, "unacked_restore_interval": 1}
    graflow_celery.install(app)
    try:
        with running_workers(Cluster(app, server, tmp_path), ["x1", "x2"]) as workers:
            runs = [graflow_celery.submit(celery_flows.killable(), app=app) for _ in range(RUNS)]
            victim = last_to_start_slow(runs)  # the other runs are cut off wherever they are

            def refused() -> int:  # the victim's transitions refused so far
                logs = "".join(w.log.read_text(errors="replace") for w in workers.values())
                return logs.count(f"run {victim.id}: {REFUSED}")

            for kill in (1, 2):
                wait_until(lambda k=kill: slow_count(victim) >= k, 60, f"the victim's slow to start #{kill}")
                before = refused()
                server.kill()  # kill -9 while the victim's slow runs; every write so far is in the AOF
                # Redis stays down until the victim's slow has finished and been refused its transition
                wait_until(lambda b=before: refused() > b, 30, "the victim's slow to be refused")
                server.start()  # same port, same append-only file
            for run in runs:
                assert run.wait(timeout=90) == "completed", [w.tail() for w in workers.values()]
            for run in runs:
                assert_each_transition_once(run, marks_once=False)  # a mark may have been cut off
                assert run.result() == "after"
            assert slow_count(victim) >= 3  # cut off twice, it ran again each time
    finally:
        server.stop()
