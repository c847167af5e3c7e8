# The image the compose stack's workers, Flower and the example shop run: graflow-celery, Flower,
# Django, psycopg and gunicorn installed at build time, the examples beside them in /app
# (importable as `examples`; the shop in /app/examples/django_site), a non-root user.
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
RUN pip install . "flower>=2" "django>=4.2" "psycopg[binary]>=3.1" "gunicorn>=21"
COPY examples ./examples

RUN useradd --create-home --uid 10001 graflow
USER graflow

CMD ["celery", "-A", "examples.celery_app", "worker", "-l", "INFO", "-E"]
