"""Pacing arithmetic: gaps inside the jitter band, windows in a time zone (overnight too), the ETA."""

from __future__ import annotations

import random

import pytest

from chalicelib.services import pacing

# 2026-12-01T15:00:00Z is 09:00 in Mexico City (UTC-6, no daylight saving time)
NINE_AM_MX = pacing.parse_instant("2026-12-01T15:00:00Z")
WINDOW = {"start": "09:00", "end": "19:00", "timezone": "America/Mexico_City"}


def test_without_jitter_every_gap_is_the_mean() -> None:
    assert pacing.next_gap({"per_minute": 4, "jitter": 0}) == 15.0


def test_with_jitter_gaps_stay_inside_the_band_and_spread_over_it() -> None:
    rng = random.Random(7)
    gaps = [pacing.next_gap({"per_minute": 6, "jitter": 0.5}, rng) for _ in range(2000)]
    assert min(gaps) >= 5.0 and max(gaps) <= 15.0
    assert min(gaps) < 5.5 and max(gaps) > 14.5
    assert abs(sum(gaps) / len(gaps) - 10.0) < 0.3


def test_inside_the_window_a_send_goes_now_and_before_it_waits_for_the_opening() -> None:
    assert pacing.next_open(NINE_AM_MX + 60, WINDOW) == NINE_AM_MX + 60
    assert pacing.next_open(NINE_AM_MX - 3600, WINDOW) == NINE_AM_MX
    after_close = NINE_AM_MX + 10 * 3600 + 1  # 19:00:01
    assert pacing.next_open(after_close, WINDOW) == NINE_AM_MX + 86_400


def test_an_overnight_window_spans_midnight() -> None:
    night = {"start": "22:00", "end": "06:00", "timezone": "America/Mexico_City"}
    three_am = NINE_AM_MX - 6 * 3600
    assert pacing.next_open(three_am, night) == three_am
    noon = NINE_AM_MX + 3 * 3600
    assert pacing.next_open(noon, night) == NINE_AM_MX + 13 * 3600
    assert pacing.window_close(three_am, night) == NINE_AM_MX - 3 * 3600


def test_the_eta_counts_gaps_and_skips_the_closed_hours() -> None:
    assert pacing.eta(NINE_AM_MX, 0, {"per_minute": 4}) is None
    assert pacing.eta(NINE_AM_MX, 5, {"per_minute": 4}) == NINE_AM_MX + 60
    # 1 per minute, 10 hours open a day: 601 sends fill the first day (09:00 … 19:00), the next waits
    eta = pacing.eta(NINE_AM_MX, 602, {"per_minute": 1, "window": WINDOW})
    assert eta == NINE_AM_MX + 86_400


@pytest.mark.parametrize("value", ["2026-12-01", "2026-12-01T10:00:00", "tomorrow"])
def test_a_start_time_needs_a_date_a_time_and_a_zone(value: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601|time zone"):
        pacing.parse_instant(value)


@pytest.mark.parametrize("name", ["Mars/Olympus", "../etc/passwd", ""])
def test_an_unknown_time_zone_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="time zone"):
        pacing.zone(name)
