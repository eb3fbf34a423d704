"""The hard limits: nesting depth without parsing, strict JSON numbers, capped error details."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib import errors, limits


def _depth(value: Any) -> int:
    """The reference: nesting depth of a parsed JSON value (recursive; tests use shallow values)."""
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


_scalars = st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ ab,:é')
_json_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(alphabet='[]{}"\\x'), inner, max_size=3)
    ),
    max_leaves=60,
)


@settings(max_examples=300, deadline=None)
@given(value=_json_values, limit=st.integers(min_value=0, max_value=12))
def test_nesting_check_agrees_with_the_parsed_depth(value: Any, limit: int) -> None:
    raw = json.dumps(value, ensure_ascii=False).encode()
    assert limits.nesting_exceeds(raw, limit) == (_depth(value) > limit)


def _balanced(steps: list[bool]) -> bytes:
    """A balanced bracket text: each step opens (True) or closes (False, when one is open)."""
    out, depth = bytearray(), 0
    for opens in steps:
        if opens or depth == 0:
            out += b"["
            depth += 1
        else:
            out += b"]"
            depth -= 1
    return bytes(out + b"]" * depth)


def _bracket_depth(raw: bytes) -> int:
    depth = deepest = 0
    for byte in raw:
        depth += 1 if byte == ord("[") else -1
        deepest = max(deepest, depth)
    return deepest


@settings(max_examples=500, deadline=None)
@given(steps=st.lists(st.booleans(), max_size=600), limit=st.integers(min_value=0, max_value=70))
def test_nesting_check_agrees_with_the_running_depth_of_any_bracket_shape(
    steps: list[bool], limit: int
) -> None:
    raw = _balanced(steps)
    assert limits.nesting_exceeds(raw, limit) == (_bracket_depth(raw) > limit)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"[" * 64 + b"]" * 64, False),
        (b"[" * 65 + b"]" * 65, True),
        (b'{"a":' * 65 + b"1" + b"}" * 65, True),
        (b"[[]" * 64 + b"]" * 64, True),  # depth grows by one per stair, peaking one above
        (b'{"a":"' + b"[" * 5000 + b'","b":[]}', False),  # brackets inside strings do not count
        (b'{"a":"\\"[[[[' + b"[" * 100 + b'"}', False),  # nor after an escaped quote
    ],
)
def test_nesting_check_on_hand_written_bodies(raw: bytes, expected: bool) -> None:
    assert limits.nesting_exceeds(raw) is expected


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 3_000_000 + b"]" * 3_000_000,
        b"[" + b"[]," * 1_500_000 + b"[]]",
        (b"[" * 60 + b"]" * 60) * 40_000,
        b'"' + b'\\"' * 2_500_000,  # an unterminated string full of escaped quotes
        b'["' + b"[" * 5_000_000 + b'"]',
    ],
    ids=["deep", "wide", "sawtooth", "escaped-quotes", "brackets-in-a-string"],
)
def test_nesting_check_stays_fast_on_hostile_six_megabyte_bodies(raw: bytes) -> None:
    started = time.process_time()
    limits.nesting_exceeds(raw)
    # A loose bound that only a quadratic or recursive check would break (the figures are ~0.5 s).
    assert time.process_time() - started < 10


@pytest.mark.parametrize("raw", [b"NaN", b"[Infinity]", b'{"a": -Infinity}', b"1e400", b"[-1e999]"])
def test_non_finite_numbers_are_not_json(raw: bytes) -> None:
    with pytest.raises(ValueError):
        limits.loads(raw)


def test_finite_numbers_load_as_usual() -> None:
    assert limits.loads(b'{"a": 1e300, "b": -2.5, "c": 12}') == {"a": 1e300, "b": -2.5, "c": 12}


def test_clip_keeps_short_text_and_marks_cut_text() -> None:
    assert limits.clip("abc", 3) == "abc"
    assert limits.clip("abcdef", 4) == "abc…"
    assert len(limits.clip("x" * 10_000, 64)) == 64


def test_error_details_are_capped_in_count_and_size() -> None:
    huge = "f" * 1_000_000
    details: list[dict[str, Any]] = [{"loc": ["body", huge, *range(20)], "msg": huge} for _ in range(500)]
    body = errors.error_body(errors.ValidationError("m" * 1_000_000, details=details))
    assert len(body["Details"]) == limits.MAX_DETAILS + 1
    assert body["Details"][-1] == {"loc": [], "msg": f"and {500 - limits.MAX_DETAILS} more problems"}
    first = body["Details"][0]
    assert first["loc"][0] == "body"
    assert len(first["loc"][1]) == limits.MAX_LOC_PART_CHARS
    assert len(first["loc"]) == limits.MAX_LOC_PARTS + 1 and first["loc"][-1] == "…"
    assert len(first["msg"]) == limits.MAX_DETAIL_MSG_CHARS
    assert len(body["Message"]) == limits.MAX_MESSAGE_CHARS
    assert len(json.dumps(body)) < 30_000


def test_small_error_details_pass_unchanged() -> None:
    details = [{"loc": ["to"], "msg": "not a phone number"}, {"id": "msg_1", "status": "failed"}]
    assert errors.error_body(errors.ValidationError("Bad.", details=details))["Details"] == details
