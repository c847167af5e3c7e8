"""Who may list runs, see one, and cancel one through the views.

``CELERY_GRAFLOW_VIEWS_ACCESS`` (with the ``CELERY`` namespace; ``graflow_views_access`` in the
Celery app's configuration) names a function ``(request, run_id, action) -> bool``, ``action``
being "list", "view" or "cancel" (``run_id`` is None for "list"). Without it: active staff users
only, as for Django's admin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.utils.module_loading import import_string

from graflow_celery.contrib.django.models import ANSWER_FEEDBACK
from graflow_celery.contrib.django.project import celery_app

Action = Literal["list", "view", "cancel"]
Check = Callable[[HttpRequest, str | None, Action], bool]

ANSWER_PERMISSION = f"graflow.{ANSWER_FEEDBACK}"


def staff_only(request: HttpRequest, run_id: str | None, action: Action) -> bool:
    user = getattr(request, "user", None)  # set by django.contrib.auth's middleware
    return bool(user is not None and user.is_active and user.is_staff)


def anyone(request: HttpRequest, run_id: str | None, action: Action) -> bool:
    """Everyone may see and cancel every run: for a demo, or views behind your own gate."""
    return True


def may_answer(request: HttpRequest) -> bool:
    """An active user with the permission ``graflow.answer_feedback`` (a superuser has it)."""
    user = getattr(request, "user", None)  # none without django.contrib.auth: nobody may
    return bool(user is not None and user.is_active and user.has_perm(ANSWER_PERMISSION))


def allowed(request: HttpRequest, run_id: str | None, action: Action) -> bool:
    return check()(request, run_id, action)


def check() -> Check:
    path = celery_app().conf.get("graflow_views_access")
    if not path:
        return staff_only
    if callable(path):
        return path  # type: ignore[no-any-return]
    try:
        found = import_string(str(path).replace(":", "."))
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"CELERY_GRAFLOW_VIEWS_ACCESS = {path!r} cannot be imported: {exc}") from exc
    if not callable(found):
        raise ImproperlyConfigured(f"CELERY_GRAFLOW_VIEWS_ACCESS = {path!r} is not a function")
    return found  # type: ignore[no-any-return]
