"""A state URL's password never shows in errors or in the worker's logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from celery import Celery
from celery.exceptions import Ignore

import graflow_celery
from graflow_celery import ConfigurationError, WorkflowRun
from graflow_celery.backends.celery.settings import GraflowSettings
from graflow_celery.backends.celery.worker import guarded
from tests.contract import flows
from tests.support.redis_server import RedisServer

PASSWORD = "pw-0123456789"


@pytest.fixture(scope="module")
def locked_app() -> Iterator[tuple[Celery, RedisServer]]:
    server = RedisServer(password=PASSWORD).start()
    app = Celery("secrets", broker=server.url, set_as_current=False)
    graflow_celery.install(app)
    yield app, server
    server.stop()


def test_an_unknown_run_error_masks_the_password(locked_app):
    app, server = locked_app
    with pytest.raises(ConfigurationError) as info:
        WorkflowRun("nope", app=app)
    assert f"no run 'nope' in redis://:**@127.0.0.1:{server.port}/0" in str(info.value)
    assert PASSWORD not in str(info.value)


def test_a_settings_error_masks_the_password():
    app = Celery("amqp", broker=f"amqp://guest:{PASSWORD}@localhost//", set_as_current=False)
    with pytest.raises(ConfigurationError) as info:
        GraflowSettings.from_app(app)
    assert "amqp://guest:**@localhost//" in str(info.value) and PASSWORD not in str(info.value)


def test_a_failure_outside_user_code_is_recorded_and_logged_masked(locked_app, caplog):
    app, server = locked_app
    run = graflow_celery.submit(flows.pipeline(), app=app)  # no worker: the run stays running
    step_task = app.tasks["graflow_celery.step"]
    with caplog.at_level(logging.ERROR, logger="graflow_celery.worker"), pytest.raises(Ignore), \
            guarded(step_task, run.id, "load"):
        raise RuntimeError(f"lost {server.url}")
    assert run.status() == "failed"
    with pytest.raises(graflow_celery.GraflowError) as info:
        run.result(timeout=5)
    masked = f"redis://:**@127.0.0.1:{server.port}/0"
    assert masked in str(info.value) and PASSWORD not in str(info.value)
    assert masked in caplog.text and "Traceback" in caplog.text
    assert PASSWORD not in caplog.text
