"""Values between tasks: in process any Python object passes as it is (graflow's behaviour); a
portable run - and every Celery run - writes each value as it travels to a worker and reads it
back, and refuses one that cannot travel, naming the task and the value's type."""

from __future__ import annotations

import pytest

from graflow_celery import TaskError
from tests.contract import value_flows


def test_any_python_value_passes_as_it_is_in_process(runner):
    if runner.portable:
        with pytest.raises(TaskError) as info:
            runner.execute(value_flows.python_objects())
        assert info.value.task_id == "make_things"
        assert "tests.contract.value_flows.Gadget" in str(info.value)
        return
    _, ctx = runner.execute(value_flows.python_objects())
    assert ctx.get_result("use_things") == {"same_result": True, "same_in_channel": True,
                                            "same_in_list": True, "square": 49, "next_number": 0}
    assert ctx.get_result("use_bound") is True  # a task added at run time got the object itself


def test_a_generator_can_be_next_iteration_data_in_process(runner):
    if runner.portable:
        with pytest.raises(TaskError) as info:
            runner.execute(value_flows.iterating_with_a_generator())
        assert info.value.task_id == "count_down"
        assert "builtins.generator" in str(info.value)
        return
    assert runner.execute(value_flows.iterating_with_a_generator())[0] == 3


def test_a_result_is_the_object_itself_in_process_and_a_copy_when_portable(runner):
    result, ctx = runner.execute(value_flows.mutated_result())
    # In process, a task that mutates its input mutates the result later tasks see, as in
    # graflow; a portable run (and a worker) reads every value afresh.
    assert result == ([1] if runner.portable else [1, 2])
    assert ctx.get_result("mutate_list") == 2


def test_a_channel_value_that_cannot_travel_fails_a_portable_run_naming_task_and_type(runner):
    if not runner.portable:
        _, ctx = runner.execute(value_flows.gadget_in_the_channel())
        assert ctx.get_channel().get("gadget").n == 3
        return
    with pytest.raises(TaskError) as info:
        runner.execute(value_flows.gadget_in_the_channel())
    assert info.value.task_id == "stash_a_gadget"
    assert "cannot serialize a value of type tests.contract.value_flows.Gadget" in str(info.value)
