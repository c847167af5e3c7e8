from __future__ import annotations

import random
from dataclasses import dataclass


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
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.initial_interval < 0 or self.max_interval < 0:
            raise ValueError("retry intervals must be >= 0")
        if self.backoff_factor < 1:
            raise ValueError(f"backoff_factor must be >= 1, got {self.backoff_factor}")

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
