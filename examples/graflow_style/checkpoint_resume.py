"""A long workflow checkpoints itself, stops, and is resumed from the checkpoint."""

import os
import tempfile

from graflow_celery.core.checkpoint import CheckpointManager
from graflow_celery.core.context import TaskExecutionContext
from graflow_celery.core.decorators import task
from graflow_celery.core.engine import WorkflowEngine
from graflow_celery.core.workflow import workflow

directory = tempfile.mkdtemp()
checkpoint_file = os.path.join(directory, "stage1")

with workflow("long_job") as wf:

    @task(inject_context=True)
    def stage1(context: TaskExecutionContext):
        context.get_channel().set("rows", [3, 1, 2])
        context.checkpoint({"stage": "one"}, path=checkpoint_file)
        return "stage one done"

    @task(inject_context=True)
    def stage2(context: TaskExecutionContext):
        rows = sorted(context.get_channel().get("rows"))
        print("sorted rows:", rows)
        return sum(rows)

    stage1 >> stage2
    print("first run:", wf.execute("stage1"))

restored, metadata = CheckpointManager.resume_from_checkpoint(checkpoint_file + ".pkl")
print("checkpoint of stage:", metadata.user_metadata["stage"])
print("rows in checkpoint:", restored.get_channel().get("rows"))
print("resumed result:", WorkflowEngine().execute(restored))
