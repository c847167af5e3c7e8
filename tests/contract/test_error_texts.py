"""Error texts: passwords in URLs are masked everywhere a failure is recorded or raised, and an
exception that cannot even be printed still fails its task like any other."""

from __future__ import annotations

import json

import pytest

from graflow_celery import RemoteError, TaskError
from graflow_celery.core.errors_record import storable
from tests.contract import flows


def test_a_password_in_a_task_exception_is_masked_in_the_stored_error_and_the_raised_one(runner):
    context, exc = runner.run_context(flows.single(flows.leaks_a_password))
    assert isinstance(exc, TaskError) and exc.task_id == "leaks_a_password"
    assert f"ValueError: cannot reach {flows.MASKED_URL}" in str(exc)
    record = storable(context.store.error())
    assert record["message"] == f"cannot reach {flows.MASKED_URL}"
    assert flows.MASKED_URL in record["traceback"]
    assert "s3cret-pw" not in json.dumps(record) + str(exc)
    cause = exc.__cause__
    if runner.backend == "celery":  # rebuilt from the stored record
        assert isinstance(cause, RemoteError)
        assert "s3cret-pw" not in str(cause) + cause.traceback_text
        assert flows.MASKED_URL in str(cause)
    else:  # in process, the cause is the task's own exception object, as raised
        assert isinstance(cause, ValueError)


def test_an_exception_whose_str_raises_fails_its_task(runner):
    with pytest.raises(TaskError) as info:
        runner.execute(flows.single(flows.raises_unprintable))
    err = info.value
    assert (err.task_id, err.error_type) == ("raises_unprintable", "Unprintable")
    assert err.error_message == "<unprintable Unprintable>"
    assert str(err) == "task 'raises_unprintable' failed: Unprintable: <unprintable Unprintable>"
