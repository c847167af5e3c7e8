"""A Django project as the eager-mode tests need one: ``settings.py`` (test settings with
CELERY_* names) and ``celery.py`` (the project's Celery app, configured from them).

Importing this package configures Django from ``settings.py`` - what ``manage.py test`` does
through DJANGO_SETTINGS_MODULE. Not through that variable here: the real Celery workers other
tests start inherit this process's environment, and Celery turns on its Django fix-up in any
process that has it.
"""

from __future__ import annotations

import django
from django.conf import settings as django_settings

from tests.eager.django_project import settings as test_settings

if not django_settings.configured:
    django_settings.configure(**{name: getattr(test_settings, name) for name in dir(test_settings)
                                 if name.isupper()})
    django.setup()
