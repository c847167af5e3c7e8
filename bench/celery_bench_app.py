"""The Celery app of ``bench/celery_overhead.py``: what its worker processes import.

It holds, side by side, the raw Celery tasks (``noop``, ``collect``) and the plain functions the
graflow workflows run (``step``, ``gather``), plus builders for those workflows. Every body is
trivial (returns a small int) so that only the orchestration is measured.

Broker, result backend and graflow state all live on the private Redis whose URL the benchmark puts
in ``GRAFLOW_BENCH_REDIS_URL``; importing this module without it is an error, so that nothing ever
falls back to a shared Redis (such as the one on port 6379).

Configuration (the same for both sides): ``worker_prefetch_multiplier=1``; raw tasks keep Celery's
default early acknowledgement unless ``GRAFLOW_BENCH_ACKS_LATE=1`` (graflow's step task is always
``acks_late=True``); results of raw tasks are stored in Redis (chords and ``.get()`` need them),
graflow steps store no Celery result (their results go to graflow's own run state).
"""

from __future__ import annotations

import os

from celery import Celery

import graflow_celery
from graflow_celery import TaskContext, TaskWrapper, WorkflowContext, chain, parallel, workflow

REDIS_URL_ENV = "GRAFLOW_BENCH_REDIS_URL"
ACKS_LATE_ENV = "GRAFLOW_BENCH_ACKS_LATE"

_url = os.environ.get(REDIS_URL_ENV)
if not _url:
    raise RuntimeError(f"{REDIS_URL_ENV} is not set: bench/celery_overhead.py sets it to its private Redis")

app = Celery("graflow_bench", broker=_url, backend=_url)
app.conf.update(
    worker_prefetch_multiplier=1,
    task_acks_late=os.environ.get(ACKS_LATE_ENV) == "1",
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)
graflow_celery.install(app)
if os.environ.get("GRAFLOW_BENCH_EVENTS"):  # celery_overhead.py --events: lifecycle events on
    import graflow_celery.signals


# --- raw Celery -------------------------------------------------------------------------------------


@app.task(name="bench.noop")
def noop() -> int:
    return 1


@app.task(name="bench.collect")
def collect(results: list[int]) -> int:
    """A chord's body: receives the header's results."""
    return len(results)


# --- graflow (module-level functions, so workers import them by path) -------------------------------

FAN = "fan"  # the chord-shaped workflow's group; gather() receives its result by this name


def step() -> int:
    return 1


def gather(fan: dict[str, int]) -> int:
    """Runs after the group; receives its result (member id -> result)."""
    return len(fan)


def chain_workflow(length: int) -> WorkflowContext:
    """``s0 >> s1 >> ... >> s{length-1}``."""
    with workflow(f"bench_chain_{length}") as wf:
        chain(*[TaskWrapper(f"s{i}", step) for i in range(length)])
    return wf


def group_workflow(width: int) -> WorkflowContext:
    """One group of ``width`` independent members, nothing before or after it."""
    with workflow(f"bench_group_{width}") as wf:
        parallel(*[TaskWrapper(f"m{i}", step) for i in range(width)], name="wide")
    return wf


def chord_workflow(width: int) -> WorkflowContext:
    """``(m0 | ... | m{width-1}) >> collect``: the graflow shape of a chord."""
    with workflow(f"bench_chord_{width}") as wf:
        parallel(*[TaskWrapper(f"m{i}", step) for i in range(width)], name=FAN) >> TaskWrapper(
            "collect", gather)
    return wf


def fill_channel(ctx: TaskContext, kb: int) -> int:
    """Writes ``kb`` channel keys of 1 KB each (bench/checkpoints.py)."""
    channel = ctx.get_channel()
    for i in range(kb):
        channel.set(f"blob{i}", "x" * 1024)
    return kb


def checkpoint_workflow(width: int, kb: int) -> WorkflowContext:
    """``(m0 | ... | m{width-1}) >> fill``: ``width`` results and a ``kb`` KB channel."""
    with workflow(f"bench_checkpoint_{width}_{kb}") as wf:
        parallel(*[TaskWrapper(f"m{i}", step) for i in range(width)], name="wide") >> TaskWrapper(
            "fill", fill_channel, inject_context=True, bound_kwargs={"kb": kb})
    return wf
