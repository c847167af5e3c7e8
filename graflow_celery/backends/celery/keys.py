"""Every Redis key a run uses, in one place.

All keys of a run share the hash tag ``{run_id}``, so they live in one Redis Cluster slot and one
Lua script may touch them all. Every key gets the run's TTL. Some keys belong to no run:
``LEASE_INDEX``, where live workers look for the leases of dead ones, ``SENT_INDEX``, where they
look for step messages sent and never started, the feedback indexes and the run index of each
app (``run_index_key``); they sit in slots of their own, so no script of a run touches them.

A run id comes from a safe alphabet (``RUN_ID_RULE``): no braces, so the hash tag is exactly the
run id; no colons or spaces, so one run's keys never look like another's. Channel and lock keys
(any non-empty string) only ever follow the run's prefix, so they cannot leave the run's slot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from graflow_celery.channels.base import check_channel_key
from graflow_celery.errors import InvalidRunIdError

PREFIX = "gfc"

# sorted set: "<run id>|<step id>|<lease token>" -> when that lease expires (ms, Redis time). Only a
# hint where to look: the run's own leases hash decides, and stale members are tolerated.
LEASE_INDEX = f"{PREFIX}:leases"

# sorted set: "<run id>|<step id>|<attempt>" -> when a step message sent and not yet started should
# be sent again (ms, Redis time): sent + ``graflow_send_grace`` (``sent_index.py``). A hint like
# LEASE_INDEX, in a slot of its own: the run's frontier decides.
SENT_INDEX = f"{PREFIX}:sent"

# sorted set per Celery app: run id -> when it was submitted (s); the newest runs of the app
# (``run_index.py``). Its own slot too: a run's scripts never touch it.
RUN_INDEX = f"{PREFIX}:runs"


def run_index_key(app_name: str) -> str:
    return f"{RUN_INDEX}:{app_name}"

# sorted set: "<run id>|<request key>" -> when the request was made (ms): every request for feedback
# waiting in this Redis, newest last. Like LEASE_INDEX, only a hint (in a slot of its own, written
# next to the scripts): the run's feedback hash decides, and stale members are dropped when met.
FEEDBACK_INDEX = f"{PREFIX}:feedback"
# sorted set: "<run id>|<request key>" of a parked request with a deadline -> when a live worker's
# sweep should send its step again if the wake-up message did not (deadline + a step lease, ms).
FEEDBACK_DUE = f"{PREFIX}:feedback:due"

RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
RUN_ID_RULE = ("1 to 100 characters from A-Z, a-z, 0-9, '_', '.' and '-', starting with a letter or a "
               "digit (a UUID, with or without dashes, is fine)")


def check_run_id(run_id: object) -> str:
    """``run_id`` if it follows ``RUN_ID_RULE``, else ``InvalidRunIdError``."""
    if not isinstance(run_id, str) or RUN_ID_PATTERN.fullmatch(run_id) is None:
        raise InvalidRunIdError(run_id, RUN_ID_RULE)
    return run_id


@dataclass(frozen=True)
class RunKeys:
    run_id: str

    def __post_init__(self) -> None:
        check_run_id(self.run_id)

    @property
    def base(self) -> str:
        return f"{PREFIX}:{{{self.run_id}}}"

    @property
    def meta(self) -> str:  # hash: status, error, seq, applied_n, limits, last_result, name
        return f"{self.base}:meta"

    @property
    def graph(self) -> str:  # string: the graph as written, as JSON
        return f"{self.base}:graph"

    @property
    def dynamic(self) -> str:  # hash: node id -> spec of a node added at run time
        return f"{self.base}:dyn"

    @property
    def applied(self) -> str:  # set: ids of steps whose transition was applied
        return f"{self.base}:applied"

    @property
    def frontier(self) -> str:  # hash: step id -> JSON of a step made ready and not yet applied
        return f"{self.base}:frontier"

    @property
    def handoffs(self) -> str:  # hash: step id -> token its hand-off completion must carry
        return f"{self.base}:handoffs"

    @property
    def leases(self) -> str:  # hash: step id -> JSON {owner, token, expires} of the step being run
        return f"{self.base}:leases"

    @property
    def resent(self) -> str:  # hash: step id -> JSON {attempt, n, due} of a step the sent sweep re-sent
        return f"{self.base}:resent"

    @property
    def outbox(self) -> str:  # hash: step id -> JSON list of steps it made ready, until sent
        return f"{self.base}:outbox"

    @property
    def results(self) -> str:  # hash: node id -> serialized result
        return f"{self.base}:results"

    @property
    def scopes(self) -> str:  # hash: "<scope>|n" in flight, "<scope>|last" result, "<scope>|err"
        return f"{self.base}:scopes"

    @property
    def tokens(self) -> str:  # hash: "<node>|<src>" -> tokens delivered on that join edge
        return f"{self.base}:tokens"

    @property
    def barriers(self) -> str:  # hash: "<group step>|n", "|done", "|node", "|scope", "|ok|i" ...
        return f"{self.base}:barriers"

    @property
    def feedback(self) -> str:  # hash: "<step>:<n>" request JSON, "<step>:<n>|s" its state, "|a" answer
        return f"{self.base}:feedback"

    @property
    def feedback_waiting(self) -> str:  # hash: step id -> the key of its request waiting for an answer
        return f"{self.base}:fbwait"

    @property
    def feedback_channel(self) -> str:  # pub/sub channel: the key of each request answered
        return f"{self.base}:fbdone"

    def feedback_keys(self) -> list[str]:
        """The keys the feedback scripts touch, in their KEYS order."""
        return [self.meta, self.feedback, self.feedback_waiting, self.frontier, self.leases]

    @property
    def done_channel(self) -> str:  # pub/sub channel: one message when the run finishes
        return f"{self.base}:done"

    @property
    def channel_index(self) -> str:  # set: user channel keys ever written
        return f"{self.base}:chkeys"

    @property
    def channel_prefix(self) -> str:  # every channel key is this plus the user's key
        return f"{self.base}:ch:"

    def channel_key(self, key: str) -> str:
        return f"{self.base}:ch:{check_channel_key(key)}"

    def lock_key(self, key: str) -> str:
        return f"{self.base}:lock:{check_channel_key(key)}"

    def sent_claim_keys(self) -> list[str]:
        """The keys ``lua/sent_claim.lua`` touches, in its KEYS order."""
        return [self.meta, self.frontier, self.leases, self.feedback_waiting, self.handoffs, self.resent]

    def snapshot_keys(self) -> list[str]:
        """The keys ``lua/snapshot_run.lua`` reads, in its KEYS order."""
        return [self.meta, self.applied, self.results, self.scopes, self.tokens, self.barriers,
                self.dynamic, self.graph, self.frontier, self.channel_index, self.feedback]

    def state_keys(self) -> list[str]:
        """The keys the apply script touches or keeps alive, in its KEYS order (the feedback keys
        last: only kept alive, so the audit trail lives as long as the run)."""
        return [self.meta, self.applied, self.outbox, self.results, self.scopes, self.tokens,
                self.barriers, self.dynamic, self.graph, self.channel_index, self.frontier, self.handoffs,
                self.leases, self.feedback, self.feedback_waiting]
