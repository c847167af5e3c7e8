"""graflow-celery's settings come from the Celery app's configuration, Django-style included."""

from __future__ import annotations

import pytest
from celery import Celery, current_app

import graflow_celery
from graflow_celery import ConfigurationError
from graflow_celery.backends.celery.runtime import Runtime
from graflow_celery.backends.celery.settings import GraflowSettings


class DjangoSettings:
    CELERY_BROKER_URL = "redis://127.0.0.1:1/9"
    CELERY_GRAFLOW_STATE_TTL = 3600
    CELERY_GRAFLOW_DEFAULT_QUEUE = "workflows"


def test_settings_read_with_a_django_style_namespace():
    app = Celery("django_style", set_as_current=False)
    app.config_from_object(DjangoSettings, namespace="CELERY")
    settings = GraflowSettings.from_app(app)
    assert (settings.state_url, settings.state_ttl, settings.default_queue) == (
        "redis://127.0.0.1:1/9", 3600, "workflows")


def test_a_broker_that_is_not_redis_needs_a_state_url():
    app = Celery("amqp", broker="amqp://guest:s3cret@localhost//", set_as_current=False)
    with pytest.raises(ConfigurationError, match=r"set app\.conf\.graflow_state_url \(the broker URL "
                                                 r"'amqp://guest:\*\*@localhost//' is not a Redis URL\)"):
        GraflowSettings.from_app(app)
    app.conf.graflow_state_url = "amqp://guest:s3cret@localhost//"  # the broker's URL by mistake
    with pytest.raises(ConfigurationError, match=r"graflow_state_url must be a Redis URL .*, "
                                                 r"got 'amqp://guest:\*\*@localhost//'"):
        GraflowSettings.from_app(app)
    app.conf.graflow_state_url = "redis://127.0.0.1:1/2"
    assert GraflowSettings.from_app(app).state_url == "redis://127.0.0.1:1/2"


def test_a_bad_ttl_is_refused():
    app = Celery("ttl", broker="redis://127.0.0.1:1/0", set_as_current=False)
    app.conf.graflow_state_ttl = -5
    with pytest.raises(ConfigurationError, match="graflow_state_ttl must be a positive number"):
        GraflowSettings.from_app(app)


def test_the_step_lease_defaults_to_30_seconds_and_takes_a_number_of_seconds():
    app = Celery("lease", broker="redis://127.0.0.1:1/0", set_as_current=False)
    assert GraflowSettings.from_app(app).step_lease == 30
    for value, seconds in [(5, 5.0), (2.5, 2.5), ("12", 12.0)]:
        app.conf.graflow_step_lease = value
        assert GraflowSettings.from_app(app).step_lease == seconds


@pytest.mark.parametrize("bad", [0, -3, 0.5, "soon", "nan", float("inf"), True, [30]])
def test_a_bad_step_lease_is_refused_by_name(bad):
    app = Celery("lease", broker="redis://127.0.0.1:1/0", set_as_current=False)
    app.conf.graflow_step_lease = bad
    with pytest.raises(ConfigurationError, match=r"graflow_step_lease must be a number of seconds >= 1, got"):
        GraflowSettings.from_app(app)


def test_the_current_app_is_the_one_current_at_the_call_not_the_first_one_seen():
    """Two apps in one process (Celery's ``current_app`` is one proxy object for both): a run
    submitted without ``app=`` uses the settings of the app current at that moment."""
    apps = [Celery(f"app{db}", broker=f"redis://127.0.0.1:1/{db}", set_as_current=False) for db in (1, 2)]
    for app in apps:
        graflow_celery.install(app)
    previous = current_app._get_current_object()
    try:
        for db, app in zip((1, 2), apps, strict=True):
            app.set_current()
            runtime = Runtime.for_app(current_app)
            assert runtime.app is app and runtime.settings.state_url == f"redis://127.0.0.1:1/{db}"
    finally:
        previous.set_current()
