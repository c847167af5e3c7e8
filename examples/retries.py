"""Retries with exponential backoff: a flaky call succeeds on its third attempt."""

from graflow_celery import RetryPolicy, TaskContext, task, workflow


@task(inject_context=True, retry_policy=RetryPolicy(max_retries=3, initial_interval=0.05, backoff_factor=2))
def call_flaky_api(ctx: TaskContext) -> str:
    attempts = ctx.get_channel().atomic_add("attempts", 1)
    if attempts < 3:
        raise ConnectionError(f"timeout on attempt {attempts}")
    return f"ok after {ctx.retry_count} retries"


with workflow("retries") as retries:
    retries.add(call_flaky_api)

if __name__ == "__main__":
    print(retries.execute())
