"""``path("workflows/", include("graflow_celery.contrib.django.urls"))``:

- ``runs/`` - the newest runs (a page); ``runs/<id>/`` - a run's page;
- ``api/runs/`` - the newest runs as JSON (``?limit=``); ``api/runs/<id>/`` - a run as JSON;
  ``api/runs/<id>/cancel/`` - POST to cancel it;
- ``feedback/`` - the approvals page: requests for feedback waiting for a person, answered there;
  ``api/feedback/`` - the same as JSON; ``api/feedback/<request id>/answer/`` - POST an answer.

Reverse them as ``graflow:runs``, ``graflow:run``, ``graflow:api-runs``, ``graflow:api-run``,
``graflow:api-cancel``, ``graflow:feedback``, ``graflow:api-feedback``, ``graflow:api-answer``.
"""

from django.urls import path, register_converter

from graflow_celery.backends.celery.keys import RUN_ID_PATTERN
from graflow_celery.contrib.django import feedback_views, views


class RunIdConverter:
    regex = RUN_ID_PATTERN.pattern

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class FeedbackIdConverter(RunIdConverter):
    regex = RUN_ID_PATTERN.pattern + r":\d+:\d+"  # <run id>:<step id>:<n>


register_converter(RunIdConverter, "run_id")
register_converter(FeedbackIdConverter, "feedback_id")

app_name = "graflow"

urlpatterns = [
    path("runs/", views.runs_page, name="runs"),
    path("runs/<run_id:run_id>/", views.run_page, name="run"),
    path("api/runs/", views.runs_json, name="api-runs"),
    path("api/runs/<run_id:run_id>/", views.run_json, name="api-run"),
    path("api/runs/<run_id:run_id>/cancel/", views.cancel_json, name="api-cancel"),
    path("feedback/", feedback_views.feedback_page, name="feedback"),
    path("api/feedback/", feedback_views.feedback_json, name="api-feedback"),
    path("api/feedback/<feedback_id:feedback_id>/answer/", feedback_views.answer_json, name="api-answer"),
]
