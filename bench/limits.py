"""The hard limits' cost: the nesting pre-scan and strict JSON beside plain ``json.loads``, and a
GET /messages page bounded in bytes beside the unbounded one."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.report import Row, Section, duration, ratio
from bench.stats import p50, timed

N = 200
WARMUP = 20
HOSTILE_N = 5
SIX_MB = 6 * 1024 * 1024 - 64 * 1024


def _each(call: Callable[[], object]) -> Callable[[int], float]:
    def measure(_: int) -> float:
        started = time.perf_counter()
        call()
        return time.perf_counter() - started

    return measure


def _compare(name: str, checked: Callable[[], object], plain: Callable[[], object], n: int, goal: str) -> Row:
    value = p50(timed(_each(checked), n, min(WARMUP, n))[0])
    baseline = p50(timed(_each(plain), n, min(WARMUP, n))[0])
    return Row(name, duration(value), duration(baseline), ratio(value, baseline), goal)


def _hostile() -> dict[str, bytes]:
    half = SIX_MB // 2
    return {
        "6 MB nested 3M deep": b"[" * half + b"]" * half,
        "6 MB of [] pairs": b"[" + b"[],".join([b""] * (SIX_MB // 3)) + b"]",
        "6 MB of 60-deep teeth": (b"[" * 60 + b"]" * 60) * (SIX_MB // 120),
    }


def _records(count: int, chars: int) -> Any:
    from chalicelib.models.records import MessageRecord
    from chalicelib.store.base import MessagePage

    items = [
        MessageRecord.model_validate(
            {
                "id": f"msg_01JDQ4Z9W6M8E3V7K2B5N1P{n:03d}",
                "instance": "bench",
                "direction": "inbound",
                "message_id": f"3EB0{n:06d}",
                "type": "text",
                "status": "delivered",
                "from": "+5511999999999",
                "push_name": "Maria",
                "text": "é" * chars,
                "created_at": "2026-12-01T12:00:00Z",
                "updated_at": "2026-12-01T12:00:00Z",
            }
        )
        for n in range(count, 0, -1)
    ]
    return MessagePage(items=items, next=None)


def run(fixtures: Path) -> Section:
    from chalicelib import limits
    from chalicelib.services.paging import page_body

    def strict(raw: bytes) -> Callable[[], object]:
        return lambda: None if limits.nesting_exceeds(raw) else limits.loads(raw)

    largest = max(fixtures.glob("*.json"), key=lambda p: p.stat().st_size).read_bytes()
    media = json.dumps({"to": "+5511999999999", "media": {"type": "image", "base64": "A" * SIX_MB}}).encode()
    rows = [
        _compare(
            f"JSON body {len(largest):,} B (largest webhook fixture): limits + strict loads vs json.loads",
            strict(largest),
            lambda: json.loads(largest),
            N,
            "info",
        ),
        _compare(
            "JSON body 6 MB base64 media: limits + strict loads vs json.loads",
            strict(media),
            lambda: json.loads(media),
            20,
            "info",
        ),
    ]
    for name, raw in _hostile().items():
        rows.append(
            _compare(
                f"nesting check, hostile {name}, vs json.loads of 6 MB base64",
                lambda raw=raw: limits.nesting_exceeds(raw),  # type: ignore[misc]
                lambda: json.loads(media),
                HOSTILE_N,
                "linear, no recursion",
            )
        )
    small, large = _records(100, 40), _records(20, 65_536)
    rows += [
        _compare(
            "GET /messages body, 100 short records: byte-bounded page vs plain list",
            lambda: page_body(small),
            lambda: {"items": [r.public() for r in small.items], "next": None},
            N,
            "info",
        ),
        _compare(
            "GET /messages body, 20 records of 65,536 chars: byte-bounded page vs plain list",
            lambda: page_body(large),
            lambda: {"items": [r.public() for r in large.items], "next": None},
            20,
            "info",
        ),
    ]
    page = page_body(large)
    plain_size = limits.compact_size({"items": [r.public() for r in large.items], "next": None})
    notes = [
        f"limits: p50 of {N} calls ({HOSTILE_N} for the hostile 6 MB bodies, 20 for the 6 MB and the "
        "65,536-character cases); the 20 long records make a page of "
        f"{len(page['items'])} items, {limits.compact_size(page) / 1e6:.2f} MB, where the unbounded "
        f"list would answer {plain_size / 1e6:.2f} MB",
    ]
    return Section(rows, notes)
