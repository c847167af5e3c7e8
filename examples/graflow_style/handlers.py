"""Task handlers decide how a task's body runs: a handler of our own, registered by name."""

from graflow_celery.core.context import ExecutionContext
from graflow_celery.core.decorators import task
from graflow_celery.core.engine import WorkflowEngine
from graflow_celery.core.handler import TaskHandler
from graflow_celery.core.workflow import workflow


class TimingHandler(TaskHandler):
    """Runs the task here, and notes which tasks it ran."""

    def __init__(self):
        self.ran = []

    def get_name(self):
        return "timed"

    def execute_task(self, task, context):
        self.ran.append(task.task_id)
        result = task.run()
        context.set_result(task.task_id, result)
        return result


with workflow("handled") as wf:

    @task
    def local_step():
        return "ran on host"

    @task(handler="timed")
    def measured_step():
        return 6 * 7

    @task(handler="timed")
    def shout(measured_step: int):
        return f"answer {measured_step}!"

    local_step >> measured_step >> shout

    engine = WorkflowEngine()
    timing = TimingHandler()
    engine.register_handler("timed", timing)
    context = ExecutionContext.create(wf.graph, "local_step")
    engine.execute(context)
    print("result:", context.get_result("shout"))
    print("handled by timed:", timing.ran)
