"""A loop with next_iteration: the task runs again with new data until it converges."""

from graflow_celery.core.context import TaskExecutionContext
from graflow_celery.core.decorators import task
from graflow_celery.core.workflow import workflow

with workflow("optimize") as ctx:

    @task(id="optimizer", inject_context=True, max_cycles=20)
    def optimize(context: TaskExecutionContext, data=None):
        params = data or {"iteration": 0, "accuracy": 0.5}
        params = {"iteration": params["iteration"] + 1,
                  "accuracy": min(params["accuracy"] + 0.15, 0.95)}
        print(f"Iter {params['iteration']}: accuracy={params['accuracy']:.2f} (cycle {context.cycle_count})")
        if params["accuracy"] >= 0.9:
            return params
        context.next_iteration(params)

    print("result:", ctx.execute("optimizer"))
