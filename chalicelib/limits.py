"""Hard limits in one place: body sizes, JSON nesting, error details, list pages in bytes.

Every number here is listed in the README's "Limits" section; change both together.
"""

from __future__ import annotations

import json
import math
import re
from array import array
from itertools import accumulate
from typing import Any

KB = 1024
MB = 1024 * KB

# Lambda refuses a request event over 6 MB; the event's envelope (headers, context) takes the rest.
LAMBDA_BODY_BYTES = 6 * MB - 64 * KB
SEND_BODY_BYTES = LAMBDA_BODY_BYTES  # POST /messages, /messages/template: base64 media travel inline
# Evolution's webhooks are a few KB; with its "webhook base64" option on (POST /connect registers
# ours with it off) a media message carries its content too. Whatever Lambda could deliver is
# accepted (the content is never stored); anything larger is refused with a 400, which Evolution
# does not retry, and logged.
WEBHOOK_BODY_BYTES = LAMBDA_BODY_BYTES
SMALL_BODY_BYTES = 64 * KB  # every other JSON body (/connect, /disconnect, template previews)

MAX_JSON_DEPTH = 64  # nested arrays/objects; Evolution's deepest webhook is about 12

MAX_DETAILS = 20  # error Details entries
MAX_LOC_PARTS = 8  # path segments in one Details "loc"
MAX_LOC_PART_CHARS = 64
MAX_DETAIL_MSG_CHARS = 256
MAX_MESSAGE_CHARS = 1024

COORDINATE_DECIMALS = 7  # about 1 cm; DynamoDB cannot hold 1e-300

PAGE_BYTES = 1 * MB  # a GET /messages page, serialised compactly (Lambda answers at most 6 MB)

_ELLIPSIS = "…"
# A JSON string, or an unterminated one up to the end: every match attempt from a quote succeeds,
# and the loop is unrolled, so stripping strings stays linear even on hostile input.
_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_UNIFY = bytes.maketrans(b"{}", b"[]")
_SIGNS = bytes.maketrans(b"[]", b"\x01\xff")  # as signed bytes: +1, -1
_VALLEYS = tuple(b"]" * k + b"[" * k for k in (64, 32, 16, 8, 4, 2, 1))
_VALLEY_ROUNDS = 8


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, marked with an ellipsis when cut."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + _ELLIPSIS


def coordinate(value: float) -> float:
    """A latitude or longitude rounded to :data:`COORDINATE_DECIMALS` (``-0.0`` becomes ``0.0``)."""
    return round(value, COORDINATE_DECIMALS) + 0.0


def nesting_exceeds(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text ``raw`` nests arrays/objects deeper than ``limit``, without parsing it.

    Linear and without recursion. Strings are stripped and the brackets left read as +1/-1: the
    depth is the highest running sum. Removing a "valley" (``]`` * k then ``[`` * k) never changes
    that maximum, so a few C-speed passes remove every valley, leaving ``[`` * depth then the
    closers; when a round stops paying (hostile shapes), the running sum of what is left decides.
    Text that is not JSON may give either answer; the parser refuses it next.
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    skeleton = (_STRING.sub(b"", raw) if b'"' in raw else raw).translate(_UNIFY, _NOT_BRACKETS)
    too_deep = b"[" * (limit + 1)
    for _ in range(_VALLEY_ROUNDS):
        if too_deep in skeleton:
            return True
        before = len(skeleton)
        for valley in _VALLEYS:
            skeleton = skeleton.replace(valley, b"")
        if b"][" not in skeleton:  # every opener now comes first: the depth is their count
            return len(skeleton) - len(skeleton.lstrip(b"[")) > limit
        if len(skeleton) > before * 3 // 4:
            break
    return max(accumulate(array("b", skeleton.translate(_SIGNS))), default=0) > limit


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def loads(raw: bytes) -> Any:
    """``json.loads`` that refuses ``NaN``/``Infinity`` and numbers that overflow a float."""
    return json.loads(raw, parse_float=_finite_float, parse_constant=_no_constant)


def bounded_details(details: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Error ``Details`` with at most :data:`MAX_DETAILS` entries and every ``loc``/``msg`` clipped,
    so no client input of any size is reflected back whole."""
    bounded = [
        {clip(str(k), MAX_LOC_PART_CHARS): _bounded_value(v) for k, v in list(d.items())[:MAX_LOC_PARTS]}
        for d in details[:MAX_DETAILS]
    ]
    if len(details) > MAX_DETAILS:
        bounded.append({"loc": [], "msg": f"and {len(details) - MAX_DETAILS} more problems"})
    return bounded


def _bounded_value(value: Any) -> Any:
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, list | tuple):
        parts = [v if isinstance(v, int) else clip(str(v), MAX_LOC_PART_CHARS) for v in value]
        return parts[:MAX_LOC_PARTS] + ([_ELLIPSIS] if len(parts) > MAX_LOC_PARTS else [])
    return clip(str(value), MAX_DETAIL_MSG_CHARS)


def compact_size(value: Any) -> int:
    """Bytes of ``value`` serialised as the response will be (compact, ASCII-escaped)."""
    return len(json.dumps(value, separators=(",", ":")))
