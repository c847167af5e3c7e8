"""``run.progress()``'s total: what the rest of the static graph will take from the frontier."""

from __future__ import annotations

import pytest

from graflow_celery import TaskWrapper, task, workflow
from graflow_celery.core.progress import GraphShape, Progress, progress
from graflow_celery.core.steps import Step
from graflow_celery.graph_codec import GraphCodec, graph_shape


@task
def a() -> int:
    return 1


@task
def b() -> int:
    return 2


@task
def c() -> int:
    return 3


@task
def d() -> int:
    return 4


@task
def e() -> int:
    return 5


def group_flow():
    """a >> (b | (c >> e)) >> d: a, the group's launch, b, c, e, its judge, d - 7 steps."""
    with workflow("progress_group") as wf:
        a >> (b | (c >> e)).set_group_name("bce") >> d
    return wf


def shapes(wf) -> list[GraphShape]:
    """The shape as each backend reads it: from the live graph, and from the stored document."""
    return [GraphShape.of_graph(wf.graph, grown=False),
            GraphShape.of_graph(graph_shape(GraphCodec().encode(wf.graph, wf.name)), grown=False)]


def step(node: str, phase: str = "run", scope: str = "", cycle: int = 0) -> Step:
    return Step("9", node, scope, phase, cycle)  # type: ignore[arg-type]


@pytest.mark.parametrize("where", ["live graph", "stored graph"])
@pytest.mark.parametrize("done, ready, frontier, total", [
    (0, 1, [step("a")], 7),                                     # nothing run yet: the whole graph
    (1, 2, [step("bce")], 7),                                   # the group about to launch
    (2, 4, [step("b", scope="2/0"), step("c", scope="2/1")], 7),  # members running; e, judge, d to come
    (4, 5, [step("e", scope="2/1")], 7),
    (5, 6, [step("bce", phase="judge")], 7),
    (6, 7, [step("d")], 7),
])
def test_the_total_of_a_static_run_is_exact_at_every_frontier(where, done, ready, frontier, total):
    shape = shapes(group_flow())[["live graph", "stored graph"].index(where)]
    seen = progress(done, ready, True, frontier, shape)
    assert seen == (done, total) and not seen.lower_bound and seen.ready == ready


def test_a_join_is_counted_once():
    with workflow("progress_diamond") as wf:
        a >> b >> d
        a >> c >> d
    for shape in shapes(wf):
        assert progress(1, 3, True, [step("b"), step("c")], shape) == (1, 4)


def test_grown_graphs_and_iterations_make_the_total_a_lower_bound():
    wf = group_flow()
    grown = GraphShape.of_graph(wf.graph, grown=True)
    assert progress(1, 2, True, [step("bce")], grown).lower_bound
    looping = progress(3, 4, True, [step("d", cycle=2)], shapes(wf)[0])
    assert looping.lower_bound and looping.total == 4


def test_an_ended_run_reports_the_steps_it_took():
    seen = progress(3, 3, False, [], GraphShape())
    assert seen == (3, 3) and not seen.lower_bound


def test_progress_unpacks_as_a_pair_and_shows_its_bound():
    done, total = Progress(2, 5, lower_bound=True, ready=3)
    assert (done, total) == (2, 5)
    assert repr(Progress(2, 5, lower_bound=True)) == "Progress(done=2, total=5+)"


def test_the_memory_store_reads_its_runs_shape_and_notices_added_nodes():
    from graflow_celery.backends.memory import MemoryBackend

    wf = group_flow()
    context = MemoryBackend().new_run(wf.graph, name=wf.name)
    shape = context.store.graph_shape()
    assert shape == shapes(wf)[0]
    context.graph.add_node(TaskWrapper("added_later", lambda: 1))
    assert context.store.graph_shape().grown
