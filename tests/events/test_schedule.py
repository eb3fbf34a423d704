"""The retry schedule: first retries within a minute, then spreading out, for at least a day."""

from __future__ import annotations

import random

import pytest

from chalicelib.events.schedule import BASE_DELAYS_S, RETRY_FOR_S, give_up, retry_delay


def test_the_first_two_retries_come_within_a_minute_in_total() -> None:
    rng = random.Random(1)
    for _ in range(200):
        assert retry_delay(1, rng=rng) + retry_delay(2, rng=rng) < 60


@pytest.mark.parametrize("failures", range(1, 12))
def test_each_delay_is_its_base_within_20_percent_jitter(failures: int) -> None:
    base = BASE_DELAYS_S[failures - 1] if failures <= len(BASE_DELAYS_S) else 3 * 3600
    delays = [retry_delay(failures, rng=random.Random(seed)) for seed in range(100)]

    assert all(0.8 * base <= d <= 1.2 * base for d in delays)
    assert len(set(delays)) > 50  # jittered, not fixed


def test_retrying_lasts_at_least_24_hours_whatever_the_jitter() -> None:
    for seed in range(50):
        rng, elapsed, failures = random.Random(seed), 0.0, 0
        while not give_up(0.0, elapsed):
            failures += 1
            elapsed += retry_delay(failures, rng=rng)
        assert elapsed >= RETRY_FOR_S
        assert failures < 20  # and it ends


def test_the_scale_compresses_the_whole_schedule() -> None:
    assert retry_delay(1, scale=0.01, rng=random.Random(0)) < 0.06
    assert give_up(0.0, RETRY_FOR_S * 0.01, scale=0.01)
    assert not give_up(0.0, RETRY_FOR_S * 0.009, scale=0.01)


def test_attempt_numbers_start_at_one() -> None:
    with pytest.raises(ValueError, match="starts at 1"):
        retry_delay(0)
