"""The app's two models.

``Feedback`` carries the permission to answer requests for feedback, ``graflow.answer_feedback``.
Django keeps permissions per content type, and a content type per model - so the permission
hangs on a model that has no table: ``managed = False`` (no table is ever made, no row ever read;
requests live with their runs in Redis), no default add/change/delete/view permissions. Django's
own ``post_migrate`` handler then creates the permission wherever ``django.contrib.auth`` is
installed, as for any model, and it shows in the admin as "Graflow workflows | request for
feedback | Can answer requests for feedback". A data migration inserting a ``Permission`` row would
have to depend on ``auth`` and ``contenttypes`` migrations, and fail in a project without them.

``PendingStart`` is the outbox of ``submit_on_commit`` (``outbox.py``): a row per run submitted
in a transaction and not started yet, written in that transaction.
"""

from django.db import models
from django.utils import timezone

ANSWER_FEEDBACK = "answer_feedback"


class Feedback(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        permissions = [(ANSWER_FEEDBACK, "Can answer requests for feedback")]
        verbose_name = "request for feedback"
        verbose_name_plural = "requests for feedback"


class PendingStart(models.Model):
    """A run that starts when its transaction commits, and has not started yet. The row commits
    or rolls back with the transaction; once visible to another connection, its run is due."""

    run_id = models.CharField(max_length=100, primary_key=True)  # RUN_ID_PATTERN: 100 at most
    app = models.CharField(max_length=200)  # the Celery app's name: its workers start it
    created = models.DateTimeField(default=timezone.now)  # by the database's clock (outbox.record)

    class Meta:
        default_permissions = ()
        indexes = [models.Index(fields=["app", "created"], name="graflow_pending_app_created")]
        verbose_name = "run waiting for its commit"
        verbose_name_plural = "runs waiting for their commit"

    def __str__(self) -> str:
        return f"run {self.run_id} of {self.app}, submitted at {self.created}"
