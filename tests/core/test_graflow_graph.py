"""graflow's graph API: ``TaskGraph``'s methods, ``wf.add_node``/``add_edge``, ``show_info``,
``visualize_dependencies`` and the pictures of ``graflow.utils.graph`` - as graflow documents them."""

from __future__ import annotations

import pytest

from graflow_celery import (
    DuplicateTaskError,
    GraphDefinitionError,
    TaskWrapper,
    UnknownTaskError,
    task,
    workflow,
)
from graflow_celery.core.graph import TaskGraph
from graflow_celery.utils import graph as graph_utils


def noop() -> None:
    pass


def tw(task_id: str) -> TaskWrapper:
    return TaskWrapper(task_id, noop, register_to_context=False)


def diamond_graph() -> TaskGraph:
    graph = TaskGraph()
    for name in ("fetch", "transform_a", "transform_b", "store"):
        graph.add_node(tw(name), name)
    for src, dst in [("fetch", "transform_a"), ("fetch", "transform_b"),
                     ("transform_a", "store"), ("transform_b", "store")]:
        graph.add_edge(src, dst)
    return graph


def test_nodes_edges_and_start_nodes():
    graph = diamond_graph()
    assert list(graph.nodes) == ["fetch", "transform_a", "transform_b", "store"]
    assert graph.edges == [("fetch", "transform_a"), ("fetch", "transform_b"),
                           ("transform_a", "store"), ("transform_b", "store")]
    assert graph.get_edges() == graph.edges
    assert graph.get_start_nodes() == ["fetch"]
    assert graph.successors("fetch") == ["transform_a", "transform_b"]
    assert graph.predecessors("store") == ["transform_a", "transform_b"]


def test_get_node_and_has_node():
    graph = diamond_graph()
    assert graph.get_node("store").task_id == "store"
    assert graph.has_node("store") and not graph.has_node("nope")
    with pytest.raises(KeyError):  # graflow's error for an unknown id; ours is a GraphDefinitionError too
        graph.get_node("nope")
    with pytest.raises(UnknownTaskError, match="no task 'nope' in the workflow"):
        graph.get_node("nope")


def test_add_node_refuses_a_second_task_under_a_taken_id_unless_told_to_skip():
    graph = TaskGraph()
    first = tw("x")
    graph.add_node(first, "x")
    graph.add_node(first, "x")  # the same task again changes nothing
    with pytest.raises(DuplicateTaskError):
        graph.add_node(tw("x"), "x")
    graph.add_node(tw("x"), "x", skip_if_exists=True)
    assert graph.get_node("x") is first


def test_add_node_under_another_id_than_the_tasks_says_how_to_do_it():
    with pytest.raises(GraphDefinitionError, match=r"task.with_id\('alias'\)"):
        TaskGraph().add_node(tw("real"), "alias")


def test_group_members_are_nodes_but_not_start_nodes():
    with workflow("gapi_groups") as wf:
        @task
        def a():
            return 1

        @task
        def b():
            return 2

        @task
        def c():
            return 3

        a >> (b | c).set_group_name("grp")
    assert wf.graph.has_node("b") and wf.graph.get_node("c").task_id == "c"
    assert wf.graph.get_start_nodes() == ["a"]
    assert wf.graph.get_parallel_group_members("grp") == ["b", "c"]
    assert wf.graph.get_parallel_group_members("a") == []


def test_detect_cycles():
    assert diamond_graph().detect_cycles() == []
    graph = diamond_graph()
    graph.add_edge("store", "fetch")  # a loop written with edges
    graph.add_node(tw("retry"), "retry")
    graph.add_edge("retry", "retry")
    found = sorted(sorted(c) for c in graph.detect_cycles())
    assert found == [["fetch", "store", "transform_a"], ["fetch", "store", "transform_b"], ["retry"]]


def test_clear_empties_the_graph():
    graph = diamond_graph()
    graph.clear()
    assert list(graph.nodes) == [] and graph.edges == [] and graph.get_start_nodes() == []


def test_printing_a_graph_draws_it():
    text = str(diamond_graph())
    assert text.splitlines()[0] == "fetch"
    assert "-> transform_a" in text and "-> store" in text and "(see store)" in text


def test_a_loop_without_start_node_is_still_drawn():
    graph = TaskGraph()
    for name in ("a", "b"):
        graph.add_node(tw(name))
    graph.add_edge("a", "b")
    graph.add_edge("b", "a")
    assert str(graph).split() == ["a", "->", "b", "->", "(see", "a)"]


def test_nx_graph_has_the_same_nodes_and_edges():
    nx = pytest.importorskip("networkx")
    g = diamond_graph().nx_graph()
    assert isinstance(g, nx.DiGraph)
    assert list(g.nodes) == ["fetch", "transform_a", "transform_b", "store"]
    assert set(g.edges) == set(diamond_graph().edges)
    assert g.nodes["store"]["task"].task_id == "store"


# --- the workflow's graflow methods ------------------------------------------------------------


def test_workflow_add_node_takes_the_name_first():
    with workflow("gapi_add_node") as wf:
        pass
    t = tw("only")
    wf.add_node("only", t)
    wf.add_node("only", tw("only"), skip_if_exists=True)
    wf.add_node("next", tw("next"))
    wf.add_edge("only", "next")
    assert wf.graph.get_node("only") is t and wf.graph.edges == [("only", "next")]


def test_show_info_and_visualize_dependencies(capsys):
    with workflow("gapi_info") as wf:
        @task
        def first():
            return 1

        @task
        def second():
            return 2

        @task
        def third():
            return 3

        first >> second
        first >> third
    wf.show_info()
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "=== Workflow 'gapi_info' Information ==="
    assert "Tasks: 3" in out and "Dependencies: 2" in out and out[-1] == "No cycles detected"
    assert "  -> second" in "\n".join(out)
    wf.visualize_dependencies()
    assert capsys.readouterr().out.splitlines() == [
        "=== Workflow 'gapi_info' Dependencies ===",
        "first >> second >> third",
        "second (no dependencies)",
        "third (no dependencies)",
    ]


def test_show_info_reports_loops(capsys):
    with workflow("gapi_info_loop") as wf:
        @task
        def ping():
            return 1

        @task
        def pong():
            return 2

        ping >> pong >> ping
    wf.show_info()
    assert capsys.readouterr().out.splitlines()[-1] == "Cycles detected: [['ping', 'pong']]"


# --- graflow.utils.graph ----------------------------------------------------------------------


def test_draw_functions_take_a_graph_a_workflow_or_a_networkx_graph():
    graph = diamond_graph()
    assert graph_utils.draw_ascii(graph) == str(graph)
    mermaid = graph_utils.draw_mermaid(graph, title="Diamond", node_colors={"store": "#fde"})
    assert mermaid.startswith("---\ntitle: Diamond\n---\nflowchart TD\n")
    assert '["store"]' in mermaid and "  style n3 fill:#fde" in mermaid
    assert "n0 --> n1" in mermaid and "n2 --> n3" in mermaid
    plain = graph_utils.draw_mermaid(graph, node_colors={"store": "#fde"}, with_styles=False)
    assert "style" not in plain
    assert '"fetch" -> "transform_a";' in graph_utils.draw_dot(graph)
    nx = pytest.importorskip("networkx")
    own = nx.DiGraph()
    own.add_edges_from([("start", "work"), ("work", "end")])
    assert graph_utils.draw_ascii(own).split() == ["start", "->", "work", "->", "end"]


def test_show_graph_info_and_visualize_dependencies(capsys):
    graph = diamond_graph()
    graph_utils.show_graph_info(graph)
    assert capsys.readouterr().out.splitlines() == [
        "=== Graph Information ===",
        "Nodes: ['fetch', 'transform_a', 'transform_b', 'store']",
        f"Edges: {graph.edges}",
        "No cycles detected",
    ]
    graph_utils.visualize_dependencies(graph)
    assert capsys.readouterr().out.splitlines()[0] == "fetch >> transform_a >> transform_b"


def test_draw_functions_refuse_what_is_not_a_graph():
    with pytest.raises(TypeError, match="expected a TaskGraph"):
        graph_utils.draw_ascii(42)
