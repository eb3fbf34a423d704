"""Each Evolution event's envelope read into its typed event: one pure parser per event (no I/O,
no logging); :mod:`chalicelib.services.webhooks` holds the table that picks the parser."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.models.webhook import (
    ConnectionState,
    ConnectionUpdated,
    MessageDeleted,
    MessageSent,
    MessageUpserted,
    QrCodeUpdated,
    StatusUpdated,
    WireConnection,
    WireDeleted,
    WireEnvelope,
    WireMessage,
    WireQr,
    WireStatus,
)
from chalicelib.services.message_rules import map_status
from chalicelib.services.webhook_content import inbound_message, invalid, validate

_STATES: dict[str, ConnectionState] = {
    "open": "open",
    "connecting": "connecting",
    "close": "close",
    "refused": "refused",
}
_MESSAGE = "The webhook body is not an Evolution envelope this service understands."


def parse_upserted(envelope: WireEnvelope, received_at: datetime) -> MessageUpserted:
    wire = validate(WireMessage, _one_message(envelope.data), ("data",))
    message = inbound_message(wire, owner_jid=envelope.sender, received_at=received_at)
    return MessageUpserted(instance=envelope.instance, message=message)


def parse_sent(envelope: WireEnvelope, received_at: datetime) -> MessageSent:
    wire = validate(WireMessage, _one_message(envelope.data), ("data",))
    message = inbound_message(wire, owner_jid=envelope.sender, received_at=received_at)
    return MessageSent(
        instance=envelope.instance,
        message_id=message.message_id,
        jid=message.chat_jid,
        status=map_status(wire.status),
        type=message.type,
        fingerprint=message.fingerprint,
        timestamp=message.timestamp,
    )


def parse_status_updated(envelope: WireEnvelope, _received_at: datetime) -> StatusUpdated:
    wire = validate(WireStatus, envelope.data, ("data",))
    return StatusUpdated(
        instance=envelope.instance,
        message_id=wire.key_id,
        remote_jid=wire.remote_jid,
        from_me=wire.from_me,
        participant=wire.participant,
        status=map_status(wire.status),
    )


def parse_deleted(envelope: WireEnvelope, _received_at: datetime) -> MessageDeleted:
    wire = validate(WireDeleted, envelope.data, ("data",))
    message_id = wire.id or wire.key_id or (wire.key.id if wire.key else None)
    if not message_id:
        raise invalid(("data", "id"), "Field required")
    return MessageDeleted(
        instance=envelope.instance,
        message_id=message_id,
        remote_jid=wire.remote_jid,
        from_me=wire.from_me,
    )


def parse_connection(envelope: WireEnvelope, _received_at: datetime) -> ConnectionUpdated:
    wire = validate(WireConnection, envelope.data, ("data",))
    return ConnectionUpdated(
        instance=envelope.instance,
        state=_STATES.get(wire.state.strip().lower()),
        raw_state=wire.state,
        status_reason=wire.status_reason,
        wuid=wire.wuid,
        profile_name=wire.profile_name,
    )


def parse_qrcode(envelope: WireEnvelope, _received_at: datetime) -> QrCodeUpdated:
    wire = validate(WireQr, envelope.data, ("data",))
    qr = wire.qrcode
    if qr is None:
        return QrCodeUpdated(instance=envelope.instance, message=wire.message)
    return QrCodeUpdated(
        instance=envelope.instance,
        qr_code=qr.base64 or None,
        code=qr.code or None,
        pairing_code=qr.pairing_code or None,
        message=wire.message,
    )


def _one_message(data: object) -> object:
    """Older versions wrap the single message of ``messages.upsert`` in a list."""
    if not isinstance(data, list):
        return data
    if len(data) != 1:
        raise invalid(("data",), f"expected one message, got a list of {len(data)}")
    return data[0]


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
