"""Timing loops and order statistics over latency samples."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def p50(samples: list[float]) -> float:
    return statistics.median(samples)


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[98]


def timed(call: Callable[[int], float], n: int, warmup: int) -> tuple[list[float], float]:
    """``n`` calls after ``warmup``: the seconds each ``call(i)`` measured, and the loop's wall time."""
    for i in range(warmup):
        call(-1 - i)
    started = time.perf_counter()
    samples = [call(i) for i in range(n)]
    return samples, time.perf_counter() - started
