"""Django is configured before any test module here imports it (what pytest-django would do)."""

import tests.eager.django_project  # noqa: F401
