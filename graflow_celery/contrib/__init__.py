"""Integrations built on graflow_celery's public seams (lifecycle events, Celery signals). Core
never imports anything here."""
