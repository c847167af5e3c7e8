"""A flaky task is retried; a task that keeps failing fails the workflow."""

from graflow_celery.core.decorators import task
from graflow_celery.core.workflow import workflow

attempts = {"fetch": 0}

with workflow("flaky") as ctx:

    @task(max_retries=3)
    def fetch():
        attempts["fetch"] += 1
        if attempts["fetch"] < 3:
            raise ConnectionError(f"attempt {attempts['fetch']}: timed out")
        return "payload"

    @task
    def parse(fetch: str):
        return fetch.upper()

    fetch >> parse
    print("result:", ctx.execute("fetch"))
    print("attempts:", attempts["fetch"])

with workflow("hopeless") as ctx:

    @task(max_retries=1)
    def always_down():
        raise ConnectionError("down")

    try:
        ctx.execute("always_down")
    except Exception as exc:
        print("failed:", type(exc).__name__)
