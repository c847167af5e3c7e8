"""Parallel groups with failure policies: strict, best effort, at least N, critical members."""

from graflow_celery import (
    AtLeastNGroupPolicy,
    CriticalGroupPolicy,
    ParallelGroupError,
    parallel,
    task,
    workflow,
)


@task
def primary_db() -> str:
    return "rows from primary"


@task
def replica_db() -> str:
    raise ConnectionError("replica is down")


@task
def cache() -> str:
    return "cached rows"


@task
def summarize(lookups: dict) -> str:
    found = {name: value for name, value in lookups.items() if value is not None}
    return f"{len(found)} sources answered: {sorted(found)}"


def build(policy) -> object:
    with workflow(f"lookups-{policy}") as wf:
        parallel(primary_db, replica_db, cache, name="lookups").with_execution(policy=policy) >> summarize
    return wf


if __name__ == "__main__":
    for policy in ["strict", "best_effort", AtLeastNGroupPolicy(2), CriticalGroupPolicy(["replica_db"])]:
        label = getattr(policy, "name", policy)
        try:
            print(f"{label:>12}: {build(policy).execute()}")
        except ParallelGroupError as err:
            print(f"{label:>12}: failed - {err.failed_tasks}")
