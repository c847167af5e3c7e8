"""The example shop's project package. Its Celery app is imported here, as Celery's Django guide
says, so that it is the current app in the web process and in workers alike."""

from shop.celery import app as celery_app

__all__ = ("celery_app",)
