"""Who may list runs, see one, and cancel one through the views.

``CELERY_GRAFLOW_VIEWS_ACCESS`` (with the ``CELERY`` namespace; ``graflow_views_access`` in the
Celery app's configuration) names a function ``(request, run_id, action) -> bool``, ``action``
being "list", "view" or "cancel" (``run_id`` is None for "list"). Without it: active staff users
only, as for Django's admin. (Who may answer requests for feedback: ``feedback_access``.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.utils.module_loading import import_string

from graflow_celery.contrib.django.project import celery_app

Action = Literal["list", "view", "cancel"]
Check = Callable[[HttpRequest, str | None, Action], bool]


def staff_only(request: HttpRequest, run_id: str | None, action: Action) -> bool:
    user = getattr(request, "user", None)  # set by django.contrib.auth's middleware
    return bool(user is not None and user.is_active and user.is_staff)


def anyone(request: HttpRequest, run_id: str | None, action: Action) -> bool:
    """Everyone may see and cancel every run: for a demo, or views behind your own gate."""
    return True


def allowed(request: HttpRequest, run_id: str | None, action: Action) -> bool:
    return check()(request, run_id, action)


def check() -> Check:
    return configured("graflow_views_access", staff_only)


def configured(key: str, default: Callable[..., bool]) -> Any:
    """The function a setting names (the Celery app's ``key``, ``CELERY_<KEY>`` in Django's
    settings) - a function, or its import path - or ``default`` without one. Read at each call, so
    that ``override_settings`` works in tests."""
    path = celery_app().conf.get(key)
    if not path:
        return default
    if callable(path):
        return path
    setting = f"CELERY_{key.upper()}"
    try:
        found = import_string(str(path).replace(":", "."))
    except ImportError as exc:
        raise ImproperlyConfigured(f"{setting} = {path!r} cannot be imported: {exc}") from exc
    if not callable(found):
        raise ImproperlyConfigured(f"{setting} = {path!r} is not a function")
    return found
