"""Define-by-run: a task decides at run time how many tasks follow it."""

from graflow_celery.core.context import TaskExecutionContext
from graflow_celery.core.decorators import task
from graflow_celery.core.task import TaskWrapper
from graflow_celery.core.workflow import workflow

with workflow("batches") as ctx:

    @task(inject_context=True)
    def plan(context: TaskExecutionContext):
        items = list(range(1, 8))
        batches = [items[i:i + 3] for i in range(0, len(items), 3)]
        for number, batch in enumerate(batches):
            def work(batch=batch):
                return sum(batch)
            context.next_task(TaskWrapper(f"batch_{number}", work))
        context.get_channel().set("batch_count", len(batches))
        return len(batches)

    result, context = ctx.execute("plan", ret_context=True)
    count = context.get_channel().get("batch_count")
    sums = [context.get_result(f"batch_{n}") for n in range(count)]
    print("batches:", context.get_result("plan"))
    print("sums:", sums, "total:", sum(sums))
