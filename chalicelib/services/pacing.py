"""Pacing arithmetic (pure): the gap before the next send, a sending window in a time zone, the ETA."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo


@cache
def zone(name: str) -> ZoneInfo:
    """The time zone ``name`` (IANA), or ValueError."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # noqa: PLC0415

    if not name or ".." in name or name.startswith("/"):
        raise ValueError("not a time zone name")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as America/Mexico_City)") from None


def parse_instant(value: str) -> float:
    """An ISO 8601 time with a zone (``Z`` or an offset) as epoch seconds, or ValueError."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError("must be an ISO 8601 time such as 2026-12-02T09:00:00Z") from None
    if moment.tzinfo is None:
        raise ValueError("must carry a time zone (Z or an offset)")
    return moment.timestamp()


def iso(epoch_s: float) -> str:
    """Epoch seconds as the API writes times (UTC, seconds, ``Z``)."""
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def mean_gap(pacing: dict[str, Any]) -> float:
    """Seconds between two sends on average."""
    return 60.0 / float(pacing.get("per_minute", 4))


def next_gap(pacing: dict[str, Any], rng: random.Random | None = None) -> float:
    """The gap before the next send: the mean ± ``jitter`` of it, uniformly."""
    gap = mean_gap(pacing)
    jitter = float(pacing.get("jitter", 0.5))
    if not jitter:
        return gap
    draw = (rng or _RNG).uniform(-jitter, jitter)
    return gap * (1 + draw)


_RNG = random.SystemRandom()


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def next_open(at: float, window: dict[str, Any] | None) -> float:
    """The first moment at or after ``at`` inside ``window`` (``at`` itself without one)."""
    if not window:
        return at
    tz = zone(str(window["timezone"]))
    start, end = _clock(str(window["start"])), _clock(str(window["end"]))
    local = datetime.fromtimestamp(at, tz)
    for day in range(3):
        date = (local + timedelta(days=day)).date()
        opens = datetime.combine(date, start, tz)
        closes = datetime.combine(date + timedelta(days=1 if end <= start else 0), end, tz)
        previous_closes = closes - timedelta(days=1)
        if end <= start and day == 0 and local < previous_closes:  # inside yesterday's overnight span
            return at
        if local < opens:
            return opens.timestamp()
        if local < closes:
            return at
    return at  # unreachable for a valid window; sending then is the safe failure of the guard


def window_close(at: float, window: dict[str, Any] | None) -> float | None:
    """When the window that contains ``at`` closes (None without a window)."""
    if not window:
        return None
    tz = zone(str(window["timezone"]))
    start, end = _clock(str(window["start"])), _clock(str(window["end"]))
    local = datetime.fromtimestamp(at, tz)
    closes = datetime.combine(local.date(), end, tz)
    if closes.timestamp() <= at or (end <= start and local.time() >= start):
        closes = datetime.combine(local.date() + timedelta(days=1), end, tz)
    return closes.timestamp()


def eta(first: float, remaining: int, pacing: dict[str, Any]) -> float | None:
    """When the last of ``remaining`` sends should go out, the first at ``first`` or later."""
    if remaining <= 0:
        return None
    gap = mean_gap(pacing)
    window = pacing.get("window")
    at = next_open(first, window)
    left = remaining - 1
    for _ in range(1000):  # one round per window day; 10,000 sends at 1/min take a week of days
        closes = window_close(at, window)
        if closes is None:
            return at + left * gap
        fit = int((closes - at) // gap)  # sends after this one that still start inside the window
        if left <= fit:
            return at + left * gap
        left -= fit + 1
        at = next_open(closes + 1, window)
    return at
