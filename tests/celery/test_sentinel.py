"""Broker and run state on a Redis Sentinel group: kill -9 the master in the middle of several runs,
the sentinels promote the replica, workers and the submitting process find the new master by
themselves, and every run completes with each transition applied once."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from celery import Celery

import graflow_celery
from graflow_celery import WorkflowRun, WorkflowTimeoutError
from tests.celery.test_reliability import KILLABLE_RESULTS, KILLABLE_STEPS
from tests.support import celery_flows
from tests.support.sentinel import MASTER_NAME, SentinelGroup
from tests.support.wait import wait_until
from tests.support.workers import Worker

RUNS = 6
SLOW_SECONDS = 2
VISIBILITY = 5  # an unacked message whose worker lost the broker is delivered again after this


@pytest.fixture(scope="module")
def sentinel_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Celery, SentinelGroup,
                                                                                  list[Worker]]]:
    group = SentinelGroup().start()
    app = Celery("sentinel", broker=group.url, set_as_current=False)
    app.conf.broker_transport_options = {"master_name": MASTER_NAME, "visibility_timeout": VISIBILITY,
                                         "unacked_restore_interval": 1}
    # the workers' app (tests/support/celery_app.py) takes the master name from the broker's options
    app.conf.graflow_state_transport_options = {"master_name": MASTER_NAME}
    graflow_celery.install(app)
    logs = tmp_path_factory.mktemp("sentinel-logs")
    env = {"GRAFLOW_TEST_MASTER_NAME": MASTER_NAME, "GRAFLOW_TEST_VISIBILITY": str(VISIBILITY),
           "GRAFLOW_SLOW_SECONDS": str(SLOW_SECONDS)}
    workers = [Worker(f"s{i}", group.url, logs, extra_env=env).start() for i in (1, 2)]
    try:
        for worker in workers:
            worker.wait_ready()
        yield app, group, workers
    finally:
        for worker in workers:
            worker.stop()
        group.stop()


def test_runs_complete_after_the_sentinels_promote_the_replica(sentinel_cluster):
    app, group, workers = sentinel_cluster
    runs = [graflow_celery.submit(celery_flows.killable(), app=app) for _ in range(RUNS)]
    wait_until(lambda: sum(bool(r.get_channel().get("slow_runs")) for r in runs) >= 2, 30, "slow steps")
    old_master = group.master.port
    group.master.kill()  # kill -9: in-flight steps, and the broker with them, lose their Redis
    failover = group.wait_for_promotion(old_master)
    print(f"failover took {failover:.1f}s")
    deadline = time.monotonic() + 30
    for run in runs:
        assert wait_or_recover(run, deadline) == "completed", [w.tail() for w in workers]
    for run in runs:  # not the marks: a channel write by a task running across the failover can be lost
        assert run.progress() == (KILLABLE_STEPS, KILLABLE_STEPS)  # no step lost, none applied twice
        assert run.results() == KILLABLE_RESULTS
        assert run.result() == "after"


def wait_or_recover(run: WorkflowRun, deadline: float) -> str:
    """Asynchronous replication may lose the old master's last writes: a transition, or a message
    (kombu moves a message from its queue to the unacked set in two commands). A run whose
    frontier step has no message left waits forever; ``recover()`` re-sends its frontier."""
    try:
        return run.wait(timeout=max(1.0, deadline - time.monotonic()))
    except WorkflowTimeoutError:
        recover = getattr(run, "recover", None)
        if recover is None:
            pytest.fail(f"run {run.id} is stuck after the failover at {run.progress()} (a write lost with "
                        "the old master?) and WorkflowRun has no recover() on this branch to re-send its "
                        f"frontier {sorted(run._store.frontier())}")
        recover()
        return run.wait(timeout=30)
