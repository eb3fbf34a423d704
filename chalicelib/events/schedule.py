"""The retry schedule of a delivery: about 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, then every
3 h, each ±20 % jitter, until 24 hours have passed since the first attempt; then ``failed``."""

from __future__ import annotations

import random

BASE_DELAYS_S = (5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0)
LATER_DELAY_S = 3 * 3600.0
RETRY_FOR_S = 24 * 3600.0
JITTER = 0.2


def retry_delay(failed_attempts: int, *, scale: float = 1.0, rng: random.Random | None = None) -> float:
    """The wait before the next attempt after ``failed_attempts`` failures (1 = the first)."""
    if failed_attempts < 1:
        raise ValueError("failed_attempts starts at 1")
    index = failed_attempts - 1
    base = BASE_DELAYS_S[index] if index < len(BASE_DELAYS_S) else LATER_DELAY_S
    spread = (rng or random).uniform(-JITTER, JITTER)  # noqa: S311 - jitter, not a secret
    return base * (1 + spread) * scale


def give_up(cycle_started_at: float, now: float, *, scale: float = 1.0) -> bool:
    """Whether a delivery that failed at ``now`` has been retried long enough to be ``failed``."""
    return now - cycle_started_at >= RETRY_FOR_S * scale
