"""Branching at run time: next_task adds a task; goto=True skips the static successors."""

from graflow_celery.core.context import TaskExecutionContext
from graflow_celery.core.decorators import task
from graflow_celery.core.task import TaskWrapper
from graflow_celery.core.workflow import workflow

with workflow("router") as ctx:

    @task(id="classify", inject_context=True)
    def classify(context: TaskExecutionContext, value: int = 150):
        if value > 100:
            context.next_task(TaskWrapper("high", lambda: print(f"high-value: {value * 2}")))
        else:
            context.next_task(TaskWrapper("low", lambda: print(f"low-value: {value + 10}")))

    ctx.execute("classify")

with workflow("validation") as ctx:

    @task(id="validate", inject_context=True)
    def validate(context: TaskExecutionContext, record: dict):
        if not record.get("ok"):
            context.next_task(error_handler, goto=True)
            return "rejected"
        return "accepted"

    @task
    def process():
        print("processing")

    @task
    def publish():
        print("publishing")

    @task
    def error_handler():
        print("recovery path")
        return "recovered"

    validate >> process >> publish
    print("bad record:", ctx.execute("validate", initial_channel={"record": {"ok": False}}))
    print("good record:", ctx.execute("validate", initial_channel={"record": {"ok": True}}))
