"""A three-step ETL pipeline: each task receives the previous task's result by parameter name."""

from graflow_celery import task, workflow


@task
def extract() -> list[dict]:
    return [{"name": "ada", "score": 91}, {"name": "alan", "score": 78}, {"name": "grace", "score": 88}]


@task
def transform(extract: list[dict]) -> list[dict]:
    return [row | {"passed": row["score"] >= 80} for row in extract]


@task
def load(transform: list[dict]) -> str:
    passed = [row["name"] for row in transform if row["passed"]]
    return f"{len(passed)} of {len(transform)} passed: {', '.join(passed)}"


with workflow("etl") as etl:
    extract >> transform >> load

if __name__ == "__main__":
    print(etl.execute())
