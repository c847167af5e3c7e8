from __future__ import annotations

import math
import random
from dataclasses import dataclass
from numbers import Real

from graflow_celery.errors import InvalidRetryPolicyError


@dataclass(frozen=True)
class RetryPolicy:
    """How often a failed task is run again, and how long to wait before each new attempt.

    The wait before retry ``n`` (0-based) is ``initial_interval * backoff_factor ** n``, capped at
    ``max_interval``; with ``jitter`` it is spread over 50%..150% of that (still capped).
    """

    max_retries: int = 0
    initial_interval: float = 1.0
    backoff_factor: float = 2.0
    max_interval: float = 60.0
    jitter: bool = False

    def __post_init__(self) -> None:
        """Refuses, as an ``InvalidRetryPolicyError`` naming the field, what cannot work."""
        if not _whole(self.max_retries) or self.max_retries < 0:
            raise InvalidRetryPolicyError("max_retries", self.max_retries, "a whole number >= 0")
        if not _number(self.initial_interval, finite=True) or self.initial_interval < 0:
            raise InvalidRetryPolicyError("initial_interval", self.initial_interval,
                                          "a finite number of seconds >= 0")
        if not _number(self.backoff_factor, finite=True) or self.backoff_factor < 1:
            raise InvalidRetryPolicyError("backoff_factor", self.backoff_factor, "a finite number >= 1")
        if not _number(self.max_interval, finite=False) or self.max_interval < 0:
            raise InvalidRetryPolicyError("max_interval", self.max_interval,
                                          "a number of seconds >= 0 (inf: no cap)")

    def delay(self, retry_number: int) -> float:
        wait = min(self.initial_interval * self.backoff_factor**retry_number, self.max_interval)
        if self.jitter:
            wait = min(wait * random.uniform(0.5, 1.5), self.max_interval)
        return wait

    def to_dict(self) -> dict[str, float | int | bool]:
        return {
            "max_retries": self.max_retries,
            "initial_interval": self.initial_interval,
            "backoff_factor": self.backoff_factor,
            "max_interval": self.max_interval,
            "jitter": self.jitter,
        }


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: object, finite: bool) -> bool:
    """A real number, not a bool, never NaN; ``finite``: not infinite either."""
    if not isinstance(value, Real) or isinstance(value, bool) or math.isnan(value):
        return False
    return math.isfinite(value) or not finite
