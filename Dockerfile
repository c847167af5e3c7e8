# The image the compose stack's workers and Flower run: graflow-celery and Flower installed at
# build time, the examples beside them in /app (importable as `examples`), a non-root user.
#   docker compose build        (or: docker build -t graflow-celery-examples .)
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The project first (its layer is rebuilt only when the package changes), then the examples.
COPY pyproject.toml README.md ./
COPY graflow_celery ./graflow_celery
RUN pip install . "flower>=2"
COPY examples ./examples

RUN useradd --create-home --uid 10001 graflow
USER graflow

CMD ["celery", "-A", "examples.celery_app", "worker", "-l", "INFO", "-E"]
