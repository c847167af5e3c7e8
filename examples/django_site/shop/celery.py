"""The project's Celery app, as in Celery's Django guide. Nothing graflow-specific here: the
Django app graflow_celery.contrib.django installs graflow into this app and imports every app's
``workflows`` module once Django is ready (importing them here would import models too early)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")

app = Celery("shop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
