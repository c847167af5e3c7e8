"""A Celery app that runs the example workflows on workers.

    celery -A examples.celery_app worker -l INFO       # in one shell (Redis on localhost:6379)
    python -m examples.celery_app                       # in another: submits and waits
"""

import os

from celery import Celery

import graflow_celery
from examples.diamond import diamond
from examples.pipeline import etl

app = Celery("examples", broker=os.environ.get("GRAFLOW_BROKER_URL", "redis://127.0.0.1:6379/0"))
graflow_celery.install(app)


def submit_demo() -> str:
    etl_run = graflow_celery.submit(etl, app=app)
    diamond_run = graflow_celery.submit(diamond, app=app)
    return f"etl: {etl_run.result(timeout=60)}\ndiamond: {diamond_run.result(timeout=60)}"


if __name__ == "__main__":
    print(submit_demo())
