"""The permission ``graflow.answer_feedback`` as a database row, to give to users and groups - in
the admin, or in code::

    from graflow_celery.contrib.django.permissions import answer_permission
    managers.permissions.add(answer_permission())        # a Group
    user.user_permissions.add(answer_permission())       # one user

Its own module because it imports ``django.contrib.auth``'s models, which the rest of the app does
not need (a project without ``django.contrib.auth`` still uses the run views).
"""

from __future__ import annotations

from django.contrib.auth.models import Permission
from django.core.exceptions import ImproperlyConfigured

from graflow_celery.contrib.django.feedback_access import ANSWER_PERMISSION
from graflow_celery.contrib.django.models import ANSWER_FEEDBACK


def answer_permission() -> Permission:
    """The ``Permission`` of ``graflow.answer_feedback``."""
    try:
        return Permission.objects.get(content_type__app_label="graflow", codename=ANSWER_FEEDBACK)
    except Permission.DoesNotExist:
        raise ImproperlyConfigured(
            f"the permission {ANSWER_PERMISSION} is not in the database yet: run manage.py migrate "
            "(Django creates it after migrating, with django.contrib.auth and contenttypes installed)"
        ) from None
