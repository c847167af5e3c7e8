"""``path("workflows/", include("graflow_celery.contrib.django.urls"))``:

- ``runs/`` - the newest runs (a page); ``runs/<id>/`` - a run's page;
- ``api/runs/`` - the newest runs as JSON (``?limit=``); ``api/runs/<id>/`` - a run as JSON;
  ``api/runs/<id>/cancel/`` - POST to cancel it.

Reverse them as ``graflow:runs``, ``graflow:run``, ``graflow:api-runs``, ``graflow:api-run``,
``graflow:api-cancel``.
"""

from django.urls import path, register_converter

from graflow_celery.backends.celery.keys import RUN_ID_PATTERN
from graflow_celery.contrib.django import views


class RunIdConverter:
    regex = RUN_ID_PATTERN.pattern

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(RunIdConverter, "run_id")

app_name = "graflow"

urlpatterns = [
    path("runs/", views.runs_page, name="runs"),
    path("runs/<run_id:run_id>/", views.run_page, name="run"),
    path("api/runs/", views.runs_json, name="api-runs"),
    path("api/runs/<run_id:run_id>/", views.run_json, name="api-run"),
    path("api/runs/<run_id:run_id>/cancel/", views.cancel_json, name="api-cancel"),
]
