"""next_task, goto, next_iteration, and the control priority cancel > terminate > goto > normal."""

from __future__ import annotations

import pytest

from graflow_celery import CycleLimitExceededError, MaxStepsExceededError, TaskError, WorkflowCancelledError
from tests.contract import flows


def log_of(ctx):
    return ctx.get_channel().get("log", [])


def test_new_task_runs_in_addition_to_successors(runner):
    _, ctx = runner.execute(flows.dynamic_task())
    assert sorted(log_of(ctx)) == ["after", "extra", "spawner"]
    assert ctx.get_result("extra") == "extra"


def test_new_task_with_goto_skips_successors(runner):
    result, ctx = runner.execute(flows.dynamic_goto())
    assert log_of(ctx) == ["spawner", "extra"]
    assert result == "extra"


def test_next_task_on_existing_task_is_a_jump(runner):
    result, ctx = runner.execute(flows.auto_goto(), start_node="jumper")
    assert log_of(ctx) == ["jumper", "finish"]
    assert result == "finished"


def test_new_or_existing_is_decided_by_id_in_the_run_graph(runner):
    _, ctx = runner.execute(flows.new_vs_existing_by_id(), start_node="jump_by_id")
    # the node already in the graph runs (not the other object's function), successors skipped
    assert log_of(ctx) == ["jumper", "finish"]


def test_next_iteration_reruns_with_data_and_successors_run_once_at_the_end(runner):
    _, ctx = runner.execute(flows.iteration())
    assert log_of(ctx) == ["counter:0:1", "counter:1:2", "counter:2:3", "counter:3:4", "after"]
    assert ctx.get_result("counter") == 3


def test_going_over_max_cycles_is_an_error(runner):
    with pytest.raises(CycleLimitExceededError) as info:
        runner.execute(flows.cycle_limit())
    assert info.value.task_id == "greedy"
    assert info.value.max_cycles == 2
    assert info.value.cycle_count == 2  # the second run asked for a third


def test_can_iterate_stops_a_loop_at_max_cycles(runner):
    result, _ = runner.execute(flows.can_iterate_flow())
    assert result == 3  # max_cycles=4: four runs, n = 0, 1, 2, 3


def test_cancel_wins_over_terminate_and_goto(runner):
    with pytest.raises(WorkflowCancelledError) as info:
        runner.execute(flows.control(flows.cancel_all))
    assert info.value.task_id == "cancel_all"
    assert "stop everything" in str(info.value)
    context, _ = runner.run_context(flows.control(flows.cancel_all))
    assert context.status == "cancelled"
    assert context.get_result("cancel_all") is None  # a cancelling task does not complete
    assert log_of(context) == ["cancel_all"]


def test_cancel_caught_by_the_task_still_cancels(runner):
    with pytest.raises(WorkflowCancelledError):
        runner.execute(flows.control(flows.cancel_caught))


def test_terminate_wins_over_goto_and_completes_the_task(runner):
    result, ctx = runner.execute(flows.control(flows.terminate_and_goto))
    assert result == "terminated"
    assert log_of(ctx) == ["terminate_and_goto"]
    assert ctx.status == "completed"


def test_terminate_in_a_group_member_ends_the_whole_workflow(runner):
    _, ctx = runner.execute(flows.group_control(flows.member_terminates))
    assert "after" not in log_of(ctx)
    assert ctx.get_result("member_terminates") == "terminated by member"


def test_cancel_in_a_group_member_ends_the_whole_workflow(runner):
    with pytest.raises(WorkflowCancelledError) as info:
        runner.execute(flows.group_control(flows.member_cancels))
    assert info.value.task_id == "member_cancels"


def test_reaching_max_steps_is_an_error_not_a_silent_stop(runner):
    with pytest.raises(MaxStepsExceededError) as info:
        runner.execute(flows.endless(), max_steps=25)
    assert info.value.max_steps == 25


def test_a_group_added_at_run_time_runs_its_members(runner):
    _, ctx = runner.execute(flows.dynamic_group())
    assert sorted(log_of(ctx)) == ["member:2", "member:3"]
    assert ctx.get_result("squares") == {"sq_2": 4, "sq_3": 9}


def test_a_join_cut_short_by_a_goto_leaves_nothing_for_the_next_wave(runner):
    result, ctx = runner.execute(flows.goto_loop_with_join())
    assert result == ["slow@2", "fast@2"]
    assert [e for e in log_of(ctx) if e.startswith("join")] == ["join:slow@2+fast@2"]


def test_an_unnamed_group_made_at_run_time_is_new(runner):
    _, ctx = runner.execute(flows.anonymous_groups())
    assert sorted(e for e in log_of(ctx) if e.startswith("member")) == ["member:5", "member:6"]
    assert ctx.get_result("x1") == 25


def test_results_do_not_change_after_the_run_ended(runner):
    import time

    result, ctx = runner.execute(flows.terminate_with_straggler())
    assert result == "stopper result"
    time.sleep(0.8)  # the straggler finishes after the end
    assert ctx.get_result("straggler") is None
    assert ctx.final_result() == "stopper result"


def test_iteration_data_that_cannot_travel_fails_the_task_by_name(runner):
    if not runner.portable:  # in process, the object itself is the next iteration's argument
        assert runner.execute(flows.single(flows.iterate_with_bad_data))[0] is None
        return
    with pytest.raises(TaskError) as info:
        runner.execute(flows.single(flows.iterate_with_bad_data))
    assert info.value.task_id == "iterate_with_bad_data"
    assert "cannot serialize" in str(info.value)


def test_a_goto_to_a_successor_feeds_the_joins_downstream_of_it(runner):
    result, ctx = runner.execute(flows.router_picks_a_branch())
    assert result == "b+x"
    assert "c" not in log_of(ctx)
    assert log_of(ctx).count("joined") == 1


def test_a_task_added_at_run_time_with_a_bound_value_that_cannot_travel_fails_its_parent(runner):
    if not runner.portable:  # in process, the task gets the object itself
        _, ctx = runner.execute(flows.bound_object_at_run_time())
        assert isinstance(ctx.get_result("uses_connection"), str)
        return
    with pytest.raises(TaskError) as info:
        runner.execute(flows.bound_object_at_run_time())
    assert info.value.task_id == "spawns_with_a_connection"
    assert "uses_connection" in str(info.value) and "name" in str(info.value)
