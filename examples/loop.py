"""A loop with next_iteration: refine a guess until it is good enough, then report once."""

from graflow_celery import TaskContext, task, workflow


@task(inject_context=True, max_cycles=50)
def refine(ctx: TaskContext, guess: float = 1.0) -> float:
    """Newton's method for the square root of 2."""
    better = (guess + 2 / guess) / 2
    if abs(better - guess) > 1e-12 and ctx.can_iterate():
        ctx.next_iteration(better)  # run again with `better` as the first argument
    return better


@task(inject_context=True)
def report(ctx: TaskContext, refine: float) -> str:
    return f"sqrt(2) ~= {refine:.12f}"


with workflow("newton") as newton:
    refine >> report

if __name__ == "__main__":
    print(newton.execute())
