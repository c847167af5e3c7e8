"""Fan-out / fan-in: three enrichments run in parallel, then one task merges them."""

from graflow_celery.core.decorators import task
from graflow_celery.core.workflow import workflow

with workflow("enrich") as ctx:

    @task
    def fetch_data():
        return {"id": 7, "name": "Ada", "zip": "10115"}

    @task
    def enrich_demographics(fetch_data: dict):
        return {"age_band": "30-39"}

    @task
    def enrich_geo(fetch_data: dict):
        return {"city": "Berlin" if fetch_data["zip"].startswith("10") else "elsewhere"}

    @task
    def enrich_behavioral(fetch_data: dict):
        return {"segment": "frequent"}

    @task(inject_context=True)
    def merge_and_store(context):
        merged = dict(context.get_result("fetch_data"))
        for name in ("enrich_demographics", "enrich_geo", "enrich_behavioral"):
            merged.update(context.get_result(name))
        return merged

    fetch_data >> (enrich_demographics | enrich_geo | enrich_behavioral) >> merge_and_store
    result, context = ctx.execute("fetch_data", ret_context=True)
    print("merged:", sorted(result.items()))
    print("geo:", context.get_result("enrich_geo"))
