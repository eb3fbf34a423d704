"""Size and range limits on parsed webhook events, so every record the parser yields fits both stores.

Evolution relays what WhatsApp clients send, and a modified client can send anything: a 1 MB
message id, a caption of megabytes, ``fileLength: 1e300``, a latitude of ``1e-300`` (DynamoDB
holds numbers of at most 38 digits between 1e-130 and 1e126, and items of at most 400 KB).
Identifiers cannot be shortened without becoming wrong, so an over-long one refuses the delivery
(400: Evolution does not retry it); free text is clipped at a documented length; numbers out of
any sane range are dropped (None), coordinates rounded to 7 decimals (about 1 cm).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypeVar

from chalicelib.errors import ValidationError
from chalicelib.limits import clip, coordinate
from chalicelib.models.webhook import (
    ConnectionUpdated,
    IgnoredEvent,
    InboundMessage,
    LocationInfo,
    MediaInfo,
    MessageSent,
    MessageUpserted,
    QrCodeUpdated,
    ReactionInfo,
    StatusUpdated,
    WebhookEvent,
)

MAX_ID_CHARS = 256  # WhatsApp message ids and JIDs are well under 100 characters
MAX_TEXT_CHARS = 65_536  # WhatsApp's own limit for a text message
MAX_CAPTION_CHARS = 4_096
MAX_NAME_CHARS = 256  # push names, file names, MIME types, location names
MAX_ADDRESS_CHARS = 1_024
MAX_EMOJI_CHARS = 64
MAX_EVENT_CHARS = 64
MAX_STATE_CHARS = 32
MAX_QR_CHARS = 64 * 1024  # a QR data URL is 5-20 KB; a larger one is not a QR
MAX_CODE_CHARS = 4_096
MAX_PAIRING_CODE_CHARS = 64
MAX_COUNT = 2**53 - 1  # sizes, seconds, pixels, pages: exact in a double, fine for DynamoDB
EARLIEST = datetime.fromisoformat("2009-01-01T00:00:00+00:00")  # before WhatsApp existed
FUTURE_SLACK = timedelta(days=1)

E = TypeVar("E")
_MESSAGE = "The webhook body is not an Evolution envelope this service understands."


def bounded(event: WebhookEvent, *, received_at: datetime) -> WebhookEvent:
    """``event`` with every stored field within its limit; ValidationError for an over-long id."""
    if isinstance(event, MessageUpserted):
        return event.model_copy(update={"message": _message(event.message, received_at)})
    if isinstance(event, MessageSent):
        _id(event.message_id, ("data", "key", "id"))
        _id(event.jid, ("data", "key", "remoteJid"))
        return event.model_copy(update={"timestamp": _when(event.timestamp, received_at)})
    if isinstance(event, StatusUpdated):
        _id(event.message_id, ("data", "keyId"))
        return event.model_copy(
            update={"remote_jid": _short(event.remote_jid), "participant": _short(event.participant)}
        )
    if isinstance(event, ConnectionUpdated):
        return event.model_copy(
            update={
                "raw_state": clip(event.raw_state, MAX_STATE_CHARS),
                "wuid": _short(event.wuid),
                "profile_name": _clip(event.profile_name, MAX_NAME_CHARS),
                "status_reason": _count(event.status_reason),
            }
        )
    if isinstance(event, QrCodeUpdated):
        return event.model_copy(
            update={
                "qr_code": _whole(event.qr_code, MAX_QR_CHARS),
                "code": _whole(event.code, MAX_CODE_CHARS),
                "pairing_code": _whole(event.pairing_code, MAX_PAIRING_CODE_CHARS),
                "message": _clip(event.message, MAX_ADDRESS_CHARS),
            }
        )
    if isinstance(event, IgnoredEvent):
        return event.model_copy(update={"event": clip(event.event, MAX_EVENT_CHARS)})
    return event  # messages.delete: nothing of it is stored


def _message(msg: InboundMessage, received_at: datetime) -> InboundMessage:
    _id(msg.message_id, ("data", "key", "id"))
    _id(msg.chat_jid, ("data", "key", "remoteJid"))
    update: dict[str, Any] = {
        "participant": _short(msg.participant),
        "sender_lid": _short(msg.sender_lid),
        "push_name": _clip(msg.push_name, MAX_NAME_CHARS),
        "text": _clip(msg.text, MAX_TEXT_CHARS),
        "caption": _clip(msg.caption, MAX_CAPTION_CHARS),
        "raw_type": _clip(msg.raw_type, MAX_NAME_CHARS),
        "quoted_message_id": _short(msg.quoted_message_id),
        "timestamp": _when(msg.timestamp, received_at),
    }
    if msg.media is not None:
        update["media"] = _media(msg.media)
    if msg.location is not None:
        update["location"] = _location(msg.location)
    if msg.reaction is not None:
        update["reaction"] = ReactionInfo(
            message_id=_short(msg.reaction.message_id), emoji=clip(msg.reaction.emoji, MAX_EMOJI_CHARS)
        )
    return msg.model_copy(update=update)


def _media(media: MediaInfo) -> MediaInfo:
    return media.model_copy(
        update={
            "mimetype": _clip(media.mimetype, MAX_NAME_CHARS),
            "file_name": _clip(media.file_name, MAX_NAME_CHARS),
            "size": _count(media.size),
            "seconds": _count(media.seconds),
            "width": _count(media.width),
            "height": _count(media.height),
            "page_count": _count(media.page_count),
        }
    )


def _location(location: LocationInfo) -> LocationInfo:
    return location.model_copy(
        update={
            "latitude": _coordinate(location.latitude, 90),
            "longitude": _coordinate(location.longitude, 180),
            "name": _clip(location.name, MAX_NAME_CHARS),
            "address": _clip(location.address, MAX_ADDRESS_CHARS),
        }
    )


def _coordinate(value: float | None, bound: float) -> float | None:
    """Rounded (see :func:`limits.coordinate`); None when outside ±``bound``."""
    return coordinate(value) if value is not None and -bound <= value <= bound else None


def _id(value: str, loc: tuple[str, ...]) -> None:
    if len(value) > MAX_ID_CHARS:
        raise ValidationError(
            _MESSAGE, details=[{"loc": list(loc), "msg": f"longer than {MAX_ID_CHARS} characters"}]
        )


def _short(value: str | None) -> str | None:
    """An optional identifier, dropped when too long to be real."""
    return value if value is None or len(value) <= MAX_ID_CHARS else None


def _clip(value: str | None, limit: int) -> str | None:
    return None if value is None else clip(value, limit)


def _whole(value: str | None, limit: int) -> str | None:
    """A value that is useless cut (a QR image, a code): kept whole or dropped."""
    return value if value is None or len(value) <= limit else None


def _count(value: int | None) -> int | None:
    return value if value is None or 0 <= value <= MAX_COUNT else None


def _when(moment: datetime, received_at: datetime) -> datetime:
    """The message time, or the receive time when it is before WhatsApp or over a day ahead."""
    return moment if EARLIEST <= moment <= received_at + FUTURE_SLACK else received_at
