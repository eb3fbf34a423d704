"""The service's own view of Evolution's webhooks: normalised, immutable events and the message
content they carry."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from chalicelib.models.records import Status

MessageType = Literal[
    "text", "image", "video", "audio", "document", "sticker",
    "location", "contact", "reaction", "poll", "unknown",
]  # fmt: skip
ConnectionState = Literal["open", "connecting", "close", "refused"]


class Normalised(BaseModel):
    """Base of the service's own view of a webhook: snake_case, immutable."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class MediaInfo(Normalised):
    """What is known about a media attachment, never its content (no base64, thumbnail or keys)."""

    mimetype: str | None = None
    file_name: str | None = None
    size: int | None = None
    seconds: int | None = None
    voice_note: bool | None = None
    width: int | None = None
    height: int | None = None
    page_count: int | None = None
    animated: bool | None = None


class LocationInfo(Normalised):
    """A shared (or live) location."""

    latitude: float | None = None
    longitude: float | None = None
    name: str | None = None
    address: str | None = None
    live: bool = False


class ReactionInfo(Normalised):
    """A reaction to ``message_id``; an empty ``emoji`` removes the earlier reaction."""

    message_id: str | None = None
    emoji: str = ""


class ContactCard(Normalised):
    """A shared contact."""

    name: str | None = None
    vcard: str | None = None


class PollInfo(Normalised):
    """A poll someone created."""

    name: str | None = None
    options: list[str] = Field(default_factory=list)
    selectable_count: int | None = None


class InboundMessage(Normalised):
    """One WhatsApp message as the service sees it (received, or typed on the linked phone)."""

    message_id: str
    chat_jid: str
    from_me: bool
    group: bool
    participant: str | None = None
    sender_phone: str | None = None  # E.164; for from_me, the instance's own number when known
    sender_lid: str | None = None
    chat_phone: str | None = None  # the other side of a one-to-one chat, E.164, when known
    push_name: str | None = None
    type: MessageType
    raw_type: str | None = None  # Evolution's messageType, e.g. "pollUpdateMessage"
    text: str | None = None
    caption: str | None = None
    media: MediaInfo | None = None
    location: LocationInfo | None = None
    reaction: ReactionInfo | None = None
    contacts: list[ContactCard] = Field(default_factory=list)
    poll: PollInfo | None = None
    quoted_message_id: str | None = None
    timestamp: datetime
    fingerprint: str


class MessageUpserted(Normalised):
    """``messages.upsert``: a message arrived (or was typed on the phone)."""

    event: Literal["messages.upsert"] = "messages.upsert"
    instance: str
    message: InboundMessage


class StatusUpdated(Normalised):
    """``messages.update``: delivery progress; ``status`` None when Evolution's value is unknown."""

    event: Literal["messages.update"] = "messages.update"
    instance: str
    message_id: str
    remote_jid: str | None = None
    from_me: bool | None = None
    participant: str | None = None
    status: Status | None = None


class MessageDeleted(Normalised):
    """``messages.delete``: a message was deleted for everyone."""

    event: Literal["messages.delete"] = "messages.delete"
    instance: str
    message_id: str
    remote_jid: str | None = None
    from_me: bool | None = None


class MessageSent(Normalised):
    """``send.message``: Evolution sent a message through its API (ours, or another client's)."""

    event: Literal["send.message"] = "send.message"
    instance: str
    message_id: str
    jid: str
    status: Status | None = None
    type: MessageType
    fingerprint: str
    timestamp: datetime


class ConnectionUpdated(Normalised):
    """``connection.update``; ``state`` is None for a state this service does not know."""

    event: Literal["connection.update"] = "connection.update"
    instance: str
    state: ConnectionState | None = None
    raw_state: str
    status_reason: int | None = None
    wuid: str | None = None
    profile_name: str | None = None


class QrCodeUpdated(Normalised):
    """``qrcode.updated``: a new QR and pairing code, or only ``message`` once the limit is hit."""

    event: Literal["qrcode.updated"] = "qrcode.updated"
    instance: str
    qr_code: str | None = None  # data:image/png;base64,…
    code: str | None = None
    pairing_code: str | None = None
    message: str | None = None


class IgnoredEvent(Normalised):
    """Any other event (contacts, chats, presence, groups, …): accepted, not acted on."""

    event: str
    instance: str


# The events this service parses, each with its own model; ``event`` names it.
EVENT_MODELS: tuple[type[Normalised], ...] = (
    MessageUpserted,
    StatusUpdated,
    MessageDeleted,
    MessageSent,
    ConnectionUpdated,
    QrCodeUpdated,
)
KNOWN_EVENTS = frozenset(str(model.model_fields["event"].default) for model in EVENT_MODELS)


def _event_tag(value: Any) -> str:
    event = value.get("event") if isinstance(value, dict) else getattr(value, "event", None)
    return event if event in KNOWN_EVENTS else "ignored"


WebhookEvent = Annotated[
    Annotated[MessageUpserted, Tag("messages.upsert")]
    | Annotated[StatusUpdated, Tag("messages.update")]
    | Annotated[MessageDeleted, Tag("messages.delete")]
    | Annotated[MessageSent, Tag("send.message")]
    | Annotated[ConnectionUpdated, Tag("connection.update")]
    | Annotated[QrCodeUpdated, Tag("qrcode.updated")]
    | Annotated[IgnoredEvent, Tag("ignored")],
    Discriminator(_event_tag),
]
