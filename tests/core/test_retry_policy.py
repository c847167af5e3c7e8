"""RetryPolicy refuses values that cannot work with a ConfigurationError naming the field."""

from __future__ import annotations

import math

import pytest

from graflow_celery import ConfigurationError, GraflowError, InvalidRetryPolicyError, RetryPolicy, task


@pytest.mark.parametrize("field, value", [
    ("max_retries", -1),
    ("max_retries", 1.5),
    ("max_retries", "3"),
    ("max_retries", True),
    ("initial_interval", -0.1),
    ("initial_interval", math.nan),
    ("initial_interval", math.inf),
    ("initial_interval", "1s"),
    ("backoff_factor", 0.5),
    ("backoff_factor", math.nan),
    ("backoff_factor", math.inf),
    ("max_interval", -1),
    ("max_interval", math.nan),
    ("max_interval", None),
])
def test_a_value_that_cannot_work_is_a_configuration_error_naming_its_field(field, value):
    with pytest.raises(InvalidRetryPolicyError) as info:
        RetryPolicy(**{field: value})
    error = info.value
    assert isinstance(error, ConfigurationError) and isinstance(error, GraflowError)
    assert isinstance(error, ValueError)  # what RetryPolicy raised before
    assert error.field == field and error.value is value
    assert str(error).startswith(f"RetryPolicy {field} must be ")


def test_sensible_values_pass_and_set_the_delays():
    policy = RetryPolicy(max_retries=3, initial_interval=1, backoff_factor=2.0, max_interval=3)
    assert [policy.delay(n) for n in range(3)] == [1, 2, 3]
    assert RetryPolicy(max_interval=math.inf).delay(10) == 1.0 * 2.0 ** 10  # no cap
    assert RetryPolicy(max_retries=0, initial_interval=0, backoff_factor=1).delay(5) == 0


def test_a_task_decorator_with_a_negative_max_retries_is_refused():
    with pytest.raises(ConfigurationError, match="RetryPolicy max_retries must be a whole number"):

        @task(max_retries=-1)
        def never() -> None: ...
