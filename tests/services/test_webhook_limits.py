"""Webhook limits: ids refused, texts clipped, absurd numbers dropped, and every record the parser
yields fits DynamoDB (numbers it can hold, items under 400 KB)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import errors, limits
from chalicelib.models.webhook import IgnoredEvent, MessageUpserted, QrCodeUpdated
from chalicelib.services import webhook_limits
from chalicelib.services.webhook_content import to_inbound_record
from chalicelib.services.webhooks import parse_envelope
from chalicelib.store.dynamodb.codec import encode
from tests.conftest import load_webhook

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DYNAMODB_ITEM_BYTES = 400 * 1024


def _upsert(message: dict[str, Any], **data: Any) -> dict[str, Any]:
    body = load_webhook("messages.upsert.text")
    body["data"]["message"] = message
    body["data"].update(data)
    return body


def _parse(body: dict[str, Any]) -> Any:
    return parse_envelope(limits.loads(json.dumps(body).encode()), received_at=NOW)


def _message(body: dict[str, Any]) -> Any:
    event = _parse(body)
    assert isinstance(event, MessageUpserted)
    return event.message


@pytest.mark.parametrize(
    ("value", "kept"),
    [(1e300, None), (-1, None), (2**53, None), (2**53 - 1, 2**53 - 1), (183201, 183201), ("12", 12)],
)
def test_media_counts_out_of_range_are_dropped(value: Any, kept: int | None) -> None:
    media = _message(_upsert({"imageMessage": {"fileLength": value, "seconds": value, "width": value}})).media
    assert (media.size, media.seconds, media.width) == (kept, kept, kept)


@pytest.mark.parametrize(
    ("latitude", "longitude", "expected"),
    [
        (1e-300, -1e-300, (0.0, 0.0)),
        (-23.5505199123, -46.6333094999, (-23.5505199, -46.6333095)),
        (90.0000001, 181, (None, None)),
        (1e300, -1e300, (None, None)),
    ],
)
def test_coordinates_are_rounded_and_impossible_ones_dropped(
    latitude: float, longitude: float, expected: tuple[float | None, float | None]
) -> None:
    message = {"locationMessage": {"degreesLatitude": latitude, "degreesLongitude": longitude}}
    location = _message(_upsert(message)).location
    assert (location.latitude, location.longitude) == expected
    assert str(location.latitude) != "-0.0"


def test_texts_and_names_are_clipped_at_their_limits() -> None:
    body = _upsert({"conversation": "t" * 70_000}, pushName="p" * 1000)
    message = _message(body)
    assert len(message.text) == webhook_limits.MAX_TEXT_CHARS and message.text.endswith("…")
    assert len(message.push_name) == webhook_limits.MAX_NAME_CHARS
    short = _message(_upsert({"conversation": "hola"}, pushName="Ana"))
    assert (short.text, short.push_name) == ("hola", "Ana")


def test_the_fingerprint_is_taken_before_clipping() -> None:
    long_a = _message(_upsert({"conversation": "t" * 70_000 + "a"}))
    long_b = _message(_upsert({"conversation": "t" * 70_000 + "b"}))
    assert long_a.text == long_b.text
    assert long_a.fingerprint != long_b.fingerprint


@pytest.mark.parametrize(
    ("seconds", "kept"),
    [
        (1_765_377_000, True),
        (1_000_000_000, False),  # 2001: before WhatsApp
        (int((NOW + timedelta(days=3)).timestamp()), False),
        (10**17, False),  # read as milliseconds, still tens of thousands of years ahead
    ],
)
def test_absurd_message_times_become_the_receive_time(seconds: int, kept: bool) -> None:
    stamp = _message(_upsert({"conversation": "x"}, messageTimestamp=seconds)).timestamp
    assert stamp == (datetime.fromtimestamp(seconds, tz=UTC) if kept else NOW)


@pytest.mark.parametrize(
    ("where", "event"),
    [
        (["data", "key", "id"], "messages.upsert"),
        (["data", "key", "remoteJid"], "messages.upsert"),
        (["data", "key", "id"], "send.message"),
        (["data", "keyId"], "messages.update"),
    ],
)
def test_an_over_long_identifier_refuses_the_delivery(where: list[str], event: str) -> None:
    name = {"messages.upsert": "messages.upsert.text", "send.message": "send.message"}.get(
        event, "messages.update.read"
    )
    body = load_webhook(name)
    target = body
    for part in where[:-1]:
        target = target[part]
    target[where[-1]] = "1" * (webhook_limits.MAX_ID_CHARS + 1)
    with pytest.raises(errors.ValidationError) as excinfo:
        _parse(body)
    assert excinfo.value.details == [
        {"loc": where, "msg": f"longer than {webhook_limits.MAX_ID_CHARS} characters"}
    ]


def test_a_qr_too_large_to_be_one_is_dropped_and_a_long_event_name_clipped() -> None:
    body = load_webhook("qrcode.updated")
    body["data"]["qrcode"]["base64"] = "data:image/png;base64," + "A" * webhook_limits.MAX_QR_CHARS
    event = _parse(body)
    assert isinstance(event, QrCodeUpdated)
    assert event.qr_code is None and event.code  # the code still lets a client draw the QR
    other = _parse({"event": "x" * 10_000, "instance": "acme", "data": {}})
    assert isinstance(other, IgnoredEvent) and len(other.event) == webhook_limits.MAX_EVENT_CHARS


# --- every record the parser produces fits DynamoDB ---

_numbers = st.one_of(
    st.integers(min_value=-(10**60), max_value=10**60),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e300, 1e-300, -1e-300, 5e-324, 2**63, 2**64, -(2**63), 0.1 + 0.2]),
    st.from_regex(r"\A-?[0-9]{1,24}\Z"),
    st.fixed_dictionaries({"low": st.integers(-(2**31), 2**32), "high": st.integers(-(2**31), 2**32)}),
)
_texts = st.one_of(
    st.text(max_size=40),
    st.builds(lambda c, n: c * n, st.sampled_from(["a", "é", "😀", "\u0000"]), st.integers(0, 90_000)),
)
_media_fields = st.fixed_dictionaries(
    {},
    optional={
        "fileLength": _numbers,
        "seconds": _numbers,
        "width": _numbers,
        "height": _numbers,
        "pageCount": _numbers,
        "caption": _texts,
        "fileName": _texts,
        "mimetype": _texts,
        "title": _texts,
    },
)
_contents = st.one_of(
    st.builds(lambda t: {"conversation": t}, _texts),
    st.builds(lambda t: {"extendedTextMessage": {"text": t}}, _texts),
    st.builds(
        lambda kind, fields: {kind: fields},
        st.sampled_from(
            ["imageMessage", "videoMessage", "audioMessage", "documentMessage", "stickerMessage"]
        ),
        _media_fields,
    ),
    st.builds(
        lambda lat, lng, name, address: {
            "locationMessage": {
                "degreesLatitude": lat,
                "degreesLongitude": lng,
                "name": name,
                "address": address,
            }
        },
        _numbers,
        _numbers,
        _texts,
        _texts,
    ),
    st.builds(lambda i, e: {"reactionMessage": {"key": {"id": i}, "text": e}}, _texts, _texts),
    st.builds(lambda name, vcard: {"contactMessage": {"displayName": name, "vcard": vcard}}, _texts, _texts),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=_contents, timestamp=_numbers, push_name=_texts)
def test_every_inbound_record_the_parser_yields_encodes_for_dynamodb(
    content: dict[str, Any], timestamp: Any, push_name: str
) -> None:
    body = _upsert(content, messageTimestamp=timestamp, pushName=push_name)
    message = _message(body)
    record = to_inbound_record(message, instance="acme", record_id="msg_01JDQ4Z9W6M8E3V7K2B5N1P0RS", now="x")
    item = {k: v for k, v in record.model_dump().items() if v is not None}
    encoded = encode(item)  # raises on numbers DynamoDB cannot hold (Underflow, Overflow, Inexact)
    size = sum(len(name.encode()) + _attribute_bytes(value) for name, value in encoded.items())
    assert size < DYNAMODB_ITEM_BYTES - 16 * 1024  # room left for the keys and index attributes


def _attribute_bytes(value: dict[str, Any]) -> int:
    """DynamoDB's item-size accounting for one encoded attribute value (close enough to bound)."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode("utf-8", "surrogatepass"))
    if kind == "N":
        return len(inner) // 2 + 2
    if kind == "M":
        return 3 + sum(len(k.encode()) + _attribute_bytes(v) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(_attribute_bytes(v) + 1 for v in inner)
    return 1
