"""An ETL pipeline: parameters are filled from upstream results (auto data flow)."""

from graflow_celery.core.decorators import task
from graflow_celery.core.workflow import workflow

RAW_EVENTS = [
    {"user": "ada", "timestamp": "2026-11-01T10:00", "amount": 30},
    {"user": "bob", "timestamp": None, "amount": 12},
    {"user": "cy", "timestamp": "2026-11-01T11:30", "amount": 45},
]

with workflow("etl") as ctx:

    @task
    def extract():
        return list(RAW_EVENTS)

    @task
    def validate(extract: list):
        return [e for e in extract if e["timestamp"]]

    @task
    def load(validate: list):
        total = sum(e["amount"] for e in validate)
        print(f"loaded {len(validate)} events, total {total}")
        return total

    extract >> validate >> load
    result = ctx.execute("extract")
    print("result:", result)
