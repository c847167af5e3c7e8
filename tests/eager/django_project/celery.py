"""The project's Celery app, set up as Celery's Django guide does it."""

from __future__ import annotations

from celery import Celery

import graflow_celery

app = Celery("django_project", set_as_current=False)  # not current: other tests' apps stay theirs
app.config_from_object("django.conf:settings", namespace="CELERY")
graflow_celery.install(app)
