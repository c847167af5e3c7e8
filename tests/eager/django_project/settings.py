"""A project's test settings: Celery runs tasks eagerly, with an in-memory broker and no Redis."""

SECRET_KEY = "eager-mode-tests"
INSTALLED_APPS = ["graflow_celery.contrib.django", "tests.eager.django_project.inventory"]
GRAFLOW_CELERY_APP = "tests.eager.django_project.celery:app"  # not Celery's current app here
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
USE_TZ = True

CELERY_BROKER_URL = "memory://"
CELERY_TASK_ALWAYS_EAGER = True
