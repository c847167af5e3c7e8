"""Tasks share state through the workflow's channel: plain keys, a typed channel, and a lock."""

from typing import TypedDict

from graflow_celery.core.context import TaskExecutionContext
from graflow_celery.core.decorators import task
from graflow_celery.core.workflow import workflow


class Reading(TypedDict):
    sensor: str
    celsius: float


with workflow("sensors") as ctx:

    @task(inject_context=True)
    def collect(context: TaskExecutionContext):
        readings = context.get_typed_channel(Reading)
        readings.send("north", {"sensor": "north", "celsius": 21.5})
        readings.send("south", {"sensor": "south", "celsius": 18.0})
        context.get_channel().set("sensors", ["north", "south"])

    @task(inject_context=True)
    def count_a(context: TaskExecutionContext):
        channel = context.get_channel()
        with channel.lock("visits"):
            channel.set("visits", channel.get("visits", 0) + 1)

    @task(inject_context=True)
    def count_b(context: TaskExecutionContext):
        context.get_channel().atomic_add("hits", 1)

    @task(inject_context=True)
    def summarize(context: TaskExecutionContext):
        readings = context.get_typed_channel(Reading)
        channel = context.get_channel()
        temps = [readings.receive(name)["celsius"] for name in channel.get("sensors")]
        print(f"mean {sum(temps) / len(temps):.2f} C over {len(temps)} sensors")
        print("visits:", channel.get("visits"), "hits:", channel.get("hits"))
        return max(temps)

    collect >> count_a >> count_b >> summarize
    print("result:", ctx.execute("collect", initial_channel={"visits": 0, "hits": 10}))
