"""graflow-celery's settings come from the Celery app's configuration, Django-style included."""

from __future__ import annotations

import pytest
from celery import Celery, current_app
from redis.sentinel import SentinelConnectionPool

import graflow_celery
from graflow_celery import ConfigurationError
from graflow_celery.backends.celery.runtime import Runtime
from graflow_celery.backends.celery.settings import GraflowSettings
from graflow_celery.backends.celery.state_redis import state_client


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
    with pytest.raises(ConfigurationError, match=r"set app\.conf\.graflow_state_url to a Redis URL .*; the "
                                                 r"broker URL 'amqp://guest:\*\*@localhost//' is neither"):
        GraflowSettings.from_app(app)
    app.conf.graflow_state_url = "amqp://guest:s3cret@localhost//"  # the broker's URL by mistake
    with pytest.raises(ConfigurationError, match=r"graflow_state_url 'amqp://guest:\*\*@localhost//' "
                                                 r"is neither"):
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


def test_the_send_grace_defaults_to_five_minutes_and_zero_turns_the_watch_off():
    app = Celery("grace", broker="redis://127.0.0.1:1/0", set_as_current=False)
    assert GraflowSettings.from_app(app).send_grace == 300
    for value, seconds in [(0, 0.0), (2.5, 2.5), ("60", 60.0)]:
        app.conf.graflow_send_grace = value
        assert GraflowSettings.from_app(app).send_grace == seconds
    for bad in (-1, "soon", float("nan"), True):
        app.conf.graflow_send_grace = bad
        with pytest.raises(ConfigurationError, match=r"graflow_send_grace must be a number of seconds >= 0"):
            GraflowSettings.from_app(app)


SENTINELS = "sentinel://:m4ster@127.0.0.1:1/3;sentinel://127.0.0.1:2;sentinel://127.0.0.1"


def test_state_on_the_brokers_sentinel_group_takes_the_brokers_master_name():
    app = Celery("sentinel", broker=SENTINELS, set_as_current=False)
    app.conf.broker_transport_options = {"master_name": "mymaster", "visibility_timeout": 60,
                                         "sentinel_kwargs": {"password": "s3ntinel"}, "socket_timeout": 2}
    settings = GraflowSettings.from_app(app)
    assert settings.state_url == SENTINELS
    client = state_client(settings.state_url, settings.state_transport_options)  # connects lazily
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool) and pool.service_name == "mymaster"
    assert (pool.connection_kwargs["db"], pool.connection_kwargs["password"]) == (3, "m4ster")  # as kombu
    assert pool.connection_kwargs["socket_timeout"] == 2
    assert "visibility_timeout" not in pool.connection_kwargs  # the broker's option, not the client's
    manager = pool.sentinel_manager
    assert [s.connection_pool.connection_kwargs["port"] for s in manager.sentinels] == [1, 2, 26379]
    assert manager.sentinels[0].connection_pool.connection_kwargs["password"] == "s3ntinel"


def test_a_state_url_of_its_own_takes_graflow_state_transport_options():
    app = Celery("sentinel", broker="redis://127.0.0.1:1/0", set_as_current=False)
    app.conf.broker_transport_options = {"master_name": "not-this-one"}
    app.conf.graflow_state_url = "sentinel://127.0.0.1:7"
    app.conf.graflow_state_transport_options = {"master_name": "state"}
    settings = GraflowSettings.from_app(app)
    pool = state_client(settings.state_url, settings.state_transport_options).connection_pool
    assert pool.service_name == "state"


@pytest.mark.parametrize(("broker", "state", "options", "error"), [
    (SENTINELS, None, {"visibility_timeout": 5},
     r"is a Redis Sentinel URL, which needs the name of the master the sentinels watch: "
     r"set app\.conf\.broker_transport_options = \{'master_name': 'mymaster'\}"),
    ("redis://127.0.0.1:1/0", SENTINELS, None,
     r"set app\.conf\.graflow_state_transport_options = \{'master_name'"),
    ("redis://127.0.0.1:1/0", "sentinel://:m4ster@h:1;redis://:m4ster@h:2", {"master_name": "m"},
     r"every URL of a Sentinel list must be sentinel://, not 'redis://:\*\*@h:2'"),
    ("redis://127.0.0.1:1/0", "sentinel://:m4ster@h:1/zero", {"master_name": "m"},
     "the database must be a number"),
    ("redis://127.0.0.1:1/0", "sentinel://:m4ster@h:port", {"master_name": "m"}, "bad port in"),
    ("redis://127.0.0.1:1/0", "sentinel://:m4ster@h:1", {"master_name": "m", "sentinel_kwargs": "pw"},
     r"graflow_state_transport_options\['sentinel_kwargs'\] must be a dict"),
    ("redis://127.0.0.1:1/0", "sentinels://:m4ster@h:1", {"master_name": "m"},
     r"set app\.conf\.graflow_state_url to a Redis URL .* or a Redis Sentinel URL list .*; "
     r"graflow_state_url 'sentinels://:\*\*@h:1' is neither"),
])
def test_bad_state_urls_are_refused_naming_the_problem_with_passwords_masked(broker, state, options, error):
    app = Celery("bad", broker=broker, set_as_current=False)
    if state:
        app.conf.graflow_state_url = state
        app.conf.graflow_state_transport_options = options
    else:
        app.conf.broker_transport_options = options
    with pytest.raises(ConfigurationError, match=error) as info:
        GraflowSettings.from_app(app)
    assert "m4ster" not in str(info.value)


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
