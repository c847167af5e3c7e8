"""The sent index: step messages sent and not yet started, watched so that a lost one is sent again.

A broker can lose a message before any worker starts it: kombu's Redis transport moves a
delivered message from the queue to its unacked hash in separate commands, and restores it after a
lost connection in separate commands too; a Sentinel failover loses writes not yet replicated;
someone purges a queue. No lease was taken then (``leases.py``), so the lease sweep cannot see it.

So every step message the run's own path sends is a member of the global ``SENT_INDEX``
("<run id>|<step id>|<attempt>"), scored with Redis time + ``graflow_send_grace`` (+ a retry's
countdown) - written in a round trip that goes to Redis anyway: the outbox acknowledgement after
a transition's steps are sent (``RedisRunStore.ack_outbox``), the run's creation for its first
step. The step's message, once a worker begins it, removes the member in ``begin``'s round trip
(with the lease take). A member past its score is a step that has not started within the grace:
the sweep (``sent_sweep.py``) claims it and sends it again.

Not watched here: steps the lease sweep re-sends (their claim is a lease, which backs off on its
own), parked steps (the feedback code sends them when answered, and its deadline sweep watches
them), hand-offs to ``from_celery`` tasks (not step messages: the task's own message, its own
broker semantics), and ``recover()``'s sends. A member can outlive its step (the acknowledgement
can land after a fast worker began the step): the sweep drops it once past its score.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from graflow_celery.backends.celery.keys import SENT_INDEX
from graflow_celery.backends.celery.scripts import Scripts
from graflow_celery.core.steps import Step

DEFAULT_SEND_GRACE = 300.0  # seconds (see the README's "Delivery": a busy queue vs. a lost message)


def sent_member(run_id: str, step: Step) -> str:
    return f"{run_id}|{step.id}|{step.attempt}"


class SentIndex:
    """Writes the sent index: queued on a pipeline that goes to Redis anyway."""

    def __init__(self, scripts: Scripts, grace: float) -> None:
        self._scripts = scripts
        self.grace = grace
        self.grace_ms = int(grace * 1000)

    def queue_watch(self, pipe: Any, run_id: str, steps: Iterable[tuple[Step, float]],
                    inline: bool = False) -> None:
        """Watch each (step, its countdown in seconds) just sent, or about to be (``inline``: see
        ``Scripts.sent_watch``)."""
        members = [(sent_member(run_id, step), int(max(delay, 0.0) * 1000)) for step, delay in steps]
        if members:
            self._scripts.sent_watch(SENT_INDEX, self.grace_ms, members, pipe, inline=inline)

    @staticmethod
    def queue_started(pipe: Any, run_id: str, step: Step) -> None:
        """The step's message began: it was not lost."""
        pipe.zrem(SENT_INDEX, sent_member(run_id, step))
