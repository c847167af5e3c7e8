"""The project's Celery app, as the Django app finds it once, when the app registry is ready.

Celery's Django guide creates the app in ``proj/celery.py`` and imports it from
``proj/__init__.py``, which makes it Celery's current app in every process of the project (the
web process and ``celery -A proj worker``). A project that does otherwise names it:
``GRAFLOW_CELERY_APP = "proj.celery:app"``.
"""

from __future__ import annotations

from celery import Celery, _state, current_app
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

import graflow_celery
from graflow_celery.errors import ConfigurationError

_installed: list[Celery] = []


def celery_app() -> Celery:
    """The Celery app the project's workflows run on (graflow installed into it)."""
    if not _installed:
        install(find())
    return _installed[0]


def find() -> Celery:
    path = getattr(settings, "GRAFLOW_CELERY_APP", None)
    if path:
        try:
            found = import_string(path.replace(":", "."))
        except ImportError as exc:
            raise ImproperlyConfigured(f"GRAFLOW_CELERY_APP = {path!r} cannot be imported: {exc}") from exc
        if not isinstance(found, Celery):
            raise ImproperlyConfigured(f"GRAFLOW_CELERY_APP = {path!r} is a {type(found).__name__}, "
                                       "not a Celery app")
        return found
    app = current_app._get_current_object()
    if app is _state.default_app and app.main == "default":  # the stand-in Celery makes when none exists
        raise ImproperlyConfigured(
            "graflow_celery.contrib.django found no Celery app: create it as Celery's Django guide "
            "does (proj/celery.py, imported by proj/__init__.py), or name it in the setting "
            "GRAFLOW_CELERY_APP = 'proj.celery:app'")
    return app


def install(app: Celery) -> None:
    try:
        graflow_celery.install(app)
    except ConfigurationError as exc:
        raise ImproperlyConfigured(f"graflow-celery cannot use the Celery app {app.main!r}: {exc}") from exc
    _installed[:] = [app]
