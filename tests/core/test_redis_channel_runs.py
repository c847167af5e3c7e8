"""graflow's ``channel_backend="redis"``: an in-process run whose channel lives in Redis (a private
redis-server, database 5), so another process can share it; and ``ChannelFactory``'s "redis"."""

from __future__ import annotations

import uuid

import pytest
import redis

from graflow_celery import ConfigurationError, ExecutionContext, WorkflowEngine, task, workflow
from graflow_celery.channels.factory import ChannelFactory
from graflow_celery.core.context import TaskExecutionContext

DB = 5


@task(inject_context=True)
def greet(ctx: TaskExecutionContext, greeting: str) -> str:
    ctx.get_channel().set("said", f"{greeting}, world")
    ctx.get_channel().append("log", {"at": "greet"})
    return ctx.get_channel().get("said")


def greeter():
    with workflow("redis_channel_greeter") as wf:
        wf.add(greet)
    return wf


def test_the_run_reads_and_writes_a_channel_another_client_shares(redis_server):
    run_id = f"rc-{uuid.uuid4().hex}"
    outside = ChannelFactory.create_channel("redis", run_id, host="127.0.0.1", port=redis_server.port, db=DB)
    outside.set("greeting", "hello")  # before the run, from "another process"
    client = redis.Redis(host="127.0.0.1", port=redis_server.port, db=DB, decode_responses=True)
    context = ExecutionContext.create(greeter().graph, channel_backend="redis", run_id=run_id,
                                      config={"redis_client": client, "ttl": 600})
    try:
        assert WorkflowEngine().execute(context) == "hello, world"
        assert outside.get("said") == "hello, world" and outside.get("log") == [{"at": "greet"}]
        assert sorted(outside.keys()) == ["greeting", "log", "said"]
        raw_keys = client.keys(f"gfc:{{{run_id}}}:ch:*")
        assert len(raw_keys) == 3 and 0 < client.ttl(f"gfc:{{{run_id}}}:ch:said") <= 600
        assert context.config == {"ttl": 600}  # without the client
    finally:
        outside.clear()
    assert client.keys(f"gfc:{{{run_id}}}:ch:*") == []


def test_connection_settings_instead_of_a_client(redis_server):
    context = ExecutionContext.create(greeter().graph, channel_backend="redis",
                                      config={"host": "127.0.0.1", "port": redis_server.port, "db": DB})
    context.get_channel().set("greeting", "hi")
    try:
        assert WorkflowEngine().execute(context) == "hi, world"
    finally:
        context.get_channel().clear()


@pytest.mark.parametrize(("config", "message"), [
    ({"hostname": "x"}, r"unknown Redis channel settings \['hostname'\]"),
    ({"redis_client": "redis://x"}, "redis_client must be a redis.Redis, got str"),
    ({"ttl": 0}, "ttl must be a positive number of seconds, got 0"),
])
def test_bad_settings_are_refused_before_the_run_exists(config, message):
    with pytest.raises(ConfigurationError, match=message):
        ExecutionContext.create(greeter().graph, channel_backend="redis", config=config)
