"""Pictures of a workflow: Mermaid, DOT and plain text, groups drawn as subgraphs."""

from __future__ import annotations

from graflow_celery import parallel, task, workflow


@task
def fetch() -> int:
    return 1


@task
def stats(fetch: int) -> int:
    return fetch


@task
def clean(fetch: int) -> int:
    return fetch


@task
def histogram(clean: int) -> int:
    return clean


@task
def report(fan: dict) -> int:
    return len(fan)


def fan_flow():
    with workflow("fan") as wf:
        fetch >> parallel(stats, clean >> histogram, name="fan") >> report
    return wf


def test_mermaid_draws_a_named_group_as_a_subgraph_with_its_chains():
    picture = fan_flow().to_mermaid()
    lines = picture.splitlines()
    assert lines[0] == "flowchart TD"
    group = next(line for line in lines if line.strip().startswith("subgraph"))
    assert group.endswith('["fan"]')
    inside = lines[lines.index(group) + 1: lines.index("  end")]
    assert sorted(line.split('"')[1] for line in inside) == ["clean", "histogram", "stats"]
    ids = {line.split('"')[1]: line.split("[")[0].split()[-1] for line in lines if '["' in line}
    assert f"  {ids['fetch']} --> {ids['fan']}" in lines
    assert f"  {ids['clean']} --> {ids['histogram']}" in lines
    assert f"  {ids['fan']} --> {ids['report']}" in lines


def test_dot_draws_groups_as_clusters():
    picture = fan_flow().to_dot()
    assert picture.startswith('digraph "fan" {')
    assert 'subgraph "cluster_fan" {' in picture and 'label="fan";' in picture
    assert '"fetch" -> "fan";' in picture and '"clean" -> "histogram";' in picture


def test_ascii_follows_the_edges_from_the_start_and_shows_joins_once():
    assert fan_flow().draw_ascii() == (
        "fan\n"
        "  fetch\n"
        "    -> fan [stats | clean]\n"
        "        -> histogram\n"
        "      -> report\n"
    )
    with workflow("joins") as wf:
        fetch >> stats >> report
        fetch >> clean >> report
    assert "(see report)" in wf.draw_ascii()


def test_odd_task_ids_stay_valid_mermaid():
    with workflow("odd") as wf:
        wf.add(fetch.with_id('say "hi" [now]'))
    picture = wf.to_mermaid()
    assert '["say #quot;hi#quot; [now]"]' in picture
