"""graflow-celery in a Django project: add ``"graflow_celery.contrib.django"`` to
``INSTALLED_APPS``.

- The app installs graflow into the project's Celery app and imports the ``workflows`` module of
  every installed app once the app registry is ready - in the web process and in workers alike
  (``apps.py``). Settings are the Celery app's: ``CELERY_GRAFLOW_STATE_URL`` and the like with
  ``app.config_from_object("django.conf:settings", namespace="CELERY")``.
- ``submit_on_commit(workflow, inputs)``: the run starts when the transaction commits
  (``on_commit.py``); recorded in the outbox table by that transaction, it is started by a
  worker's sweep should the process die between the commit and the start (``outbox.py``,
  ``outbox_sweep.py``).
- JSON views, a run page and a recent-runs list: ``path("workflows/",
  include("graflow_celery.contrib.django.urls"))`` (``views.py``).
- ``manage.py graflow runs|status|watch|cancel|graph|feedback``: the command line, inside the
  project; ``manage.py graflow start-pending``: the outbox's sweep, once.
"""

from graflow_celery.contrib.django.on_commit import submit_on_commit

__all__ = ["submit_on_commit"]
