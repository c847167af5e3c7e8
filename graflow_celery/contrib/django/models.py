"""The permission to answer requests for feedback, ``graflow.answer_feedback``.

Django keeps permissions per content type, and a content type per model - so the permission
hangs on a model that has no table: ``managed = False`` (no table is ever made, no row ever read;
requests live with their runs in Redis), no default add/change/delete/view permissions. Django's
own ``post_migrate`` handler then creates the permission wherever ``django.contrib.auth`` is
installed, as for any model, and it shows in the admin as "Graflow workflows | request for
feedback | Can answer requests for feedback". A data migration inserting a ``Permission`` row would
have to depend on ``auth`` and ``contenttypes`` migrations, and fail in a project without them.
"""

from django.db import models

ANSWER_FEEDBACK = "answer_feedback"


class Feedback(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        permissions = [(ANSWER_FEEDBACK, "Can answer requests for feedback")]
        verbose_name = "request for feedback"
        verbose_name_plural = "requests for feedback"
