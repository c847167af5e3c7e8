"""Parallel groups that tolerate failures: built-in policies and a policy of our own."""

from graflow_celery.core.decorators import task
from graflow_celery.core.handlers.group_policy import AtLeastNGroupPolicy, GroupExecutionPolicy
from graflow_celery.core.task import ParallelGroup
from graflow_celery.core.workflow import workflow
from graflow_celery.exceptions import ParallelGroupError


class MajorityPolicy(GroupExecutionPolicy):
    """More than half of the members must succeed."""

    def on_group_finished(self, group_id, tasks, results, context):
        self._validate_group_results(group_id, tasks, results)
        succeeded, failed = self._partition_group_results(results)
        print(f"{group_id}: {sorted(succeeded)} succeeded, {[t for t, _ in failed]} failed")
        if len(succeeded) * 2 <= len(tasks):
            raise ParallelGroupError(f"no majority in {group_id}", group_id=group_id,
                                     failed_tasks=[t for t, _ in failed], successful_tasks=succeeded)


def replicas(names, down):
    def make(name):
        def replica():
            if name in down:
                raise RuntimeError(f"replica {name} is down")
            return name
        return task(f"replica_{name}")(replica)
    return [make(name) for name in names]


for title, policy, down in [("majority", MajorityPolicy(), {"b"}),
                            ("at least two", AtLeastNGroupPolicy(min_success=2), {"c"}),
                            ("best effort", "best_effort", {"a", "b"})]:
    with workflow(title) as ctx:

        @task
        def after_quorum():
            return "quorum reached"

        group = ParallelGroup(replicas("abc", down), name=title.replace(" ", "_"))
        group.with_execution(policy=policy) >> after_quorum
        print(f"{title}:", ctx.execute())

with workflow("strict") as ctx:

    @task
    def never():
        return "not reached"

    ParallelGroup(replicas("ab", {"a"}), name="strict_pair").with_execution(policy=MajorityPolicy()) >> never
    try:
        ctx.execute()
    except Exception as exc:
        print("strict:", type(exc).__name__)
