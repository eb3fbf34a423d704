"""Reading ``getBase64FromMediaMessage``'s answer without holding the file more than twice over.

The answer is JSON with the file as one base64 string (4/3 of the file). ``json.loads`` would keep
the raw body, a ``str`` copy and the decoded bytes at once; instead the body is read into one
buffer of bounded size, the base64 value is decoded straight from a view of that buffer, and only
the small rest of the object is parsed as JSON.
"""

from __future__ import annotations

import binascii
import json
import re
from collections.abc import Iterable
from typing import Any

from chalicelib.evolution import wire
from chalicelib.evolution.errors import EvolutionBadResponseError, EvolutionTooLargeError

OPERATION = "getBase64FromMediaMessage"
METADATA_SLACK = 64 * 1024  # the answer's fields besides the file (names, caption, sizes)
_BASE64_KEY = re.compile(rb'"base64"\s*:\s*"')


def body_limit(max_bytes: int) -> int:
    """The largest answer that can carry a file of ``max_bytes``: its base64 plus the metadata."""
    return -(-max_bytes // 3) * 4 + METADATA_SLACK


def read_bounded(chunks: Iterable[bytes], *, limit: int, expected: int | None = None) -> bytearray:
    """The concatenated ``chunks``; EvolutionTooLargeError as soon as they pass ``limit``."""
    if expected is not None and expected > limit:
        raise EvolutionTooLargeError(OPERATION, 201, [f"the answer is {expected} bytes, over {limit}"])
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        if len(buffer) > limit:
            raise EvolutionTooLargeError(OPERATION, 201, [f"the answer is over {limit} bytes"])
    return buffer


def parse_media(raw: bytearray, *, max_bytes: int) -> wire.MediaContent:
    """The decoded file and its metadata; EvolutionBadResponseError for anything unusable."""
    match = _BASE64_KEY.search(raw)
    if match is None:
        return _parse_whole(raw, max_bytes=max_bytes)
    start = match.end()
    end = raw.find(b'"', start)
    if end < 0:
        raise _bad("the base64 string is not terminated")
    view = memoryview(raw)
    try:
        data = binascii.a2b_base64(view[start:end], strict_mode=True)
    except (binascii.Error, ValueError) as e:
        raise _bad(f"the base64 string does not decode: {e}") from None
    finally:
        view.release()
    meta = _loads(bytes(raw[:start]) + bytes(raw[end:]))
    if not isinstance(meta, dict) or meta.get("base64") != "":
        raise _bad("the answer is not one JSON object with a base64 field")
    return _content(data, meta, max_bytes=max_bytes)


def _parse_whole(raw: bytearray, *, max_bytes: int) -> wire.MediaContent:
    """The plain path, for an answer without a ``"base64":"`` member (e.g. ``null``)."""
    body = _loads(bytes(raw))
    if not isinstance(body, dict) or not isinstance(body.get("base64"), str):
        raise _bad("the answer carries no media (Evolution found no media in the message)")
    try:
        data = binascii.a2b_base64(body["base64"], strict_mode=True)
    except (binascii.Error, ValueError) as e:
        raise _bad(f"the base64 string does not decode: {e}") from None
    return _content(data, body, max_bytes=max_bytes)


def _content(data: bytes, meta: dict[str, Any], *, max_bytes: int) -> wire.MediaContent:
    if len(data) > max_bytes:
        raise EvolutionTooLargeError(OPERATION, 201, [f"the file is {len(data)} bytes, over {max_bytes}"])
    if not data:
        raise _bad("the file is empty")
    return wire.MediaContent(
        data=data,
        mimetype=_text(meta.get("mimetype")),
        file_name=_text(meta.get("fileName")),
        media_type=_text(meta.get("mediaType")),
    )


def _text(value: Any) -> str | None:
    return value[:512] if isinstance(value, str) and value else None


def _loads(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise _bad("the answer is not JSON") from None


def _bad(reason: str) -> EvolutionBadResponseError:
    return EvolutionBadResponseError(OPERATION, 201, [reason])
