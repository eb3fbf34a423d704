"""Evolution webhook shapes: tolerant wire models, and the normalised events the service acts on."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag
from pydantic.alias_generators import to_camel

from chalicelib.models.records import Status

# --- lenient scalars: a field of the wrong type becomes None instead of failing the delivery ---


def utf8_safe(value: str) -> str:
    """``value`` with lone surrogates (legal as JSON escapes, not in UTF-8) replaced by U+FFFD."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return value


def _safe(value: object) -> object:
    return utf8_safe(value) if isinstance(value, str) else value


def _str_or_none(value: object) -> str | None:
    return utf8_safe(value) if isinstance(value, str) else None


def _bool_or_none(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _int_or_none(value: object) -> int | None:
    """Protobuf 64-bit ints come as numbers, numeric strings or long.js ``{low, high, unsigned}``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, dict):
        return _long_js(value)
    return _parse_int(value) if isinstance(value, str) and len(value) <= 24 else None


def _parse_int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _long_js(value: dict[Any, Any]) -> int | None:
    low, high = value.get("low"), value.get("high")
    if type(low) is not int or type(high) is not int:
        return None
    number = ((high & 0xFFFFFFFF) << 32) | (low & 0xFFFFFFFF)
    signed = value.get("unsigned") is not True
    return number - (1 << 64) if signed and number >= 1 << 63 else number


def _float_or_none(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _dict_or_none(value: object) -> object:
    return value if isinstance(value, dict) else None


def _dicts(value: object) -> list[object]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


Text = Annotated[str, BeforeValidator(_safe)]
OptStr = Annotated[str | None, BeforeValidator(_str_or_none)]
OptBool = Annotated[bool | None, BeforeValidator(_bool_or_none)]
OptInt = Annotated[int | None, BeforeValidator(_int_or_none)]
OptFloat = Annotated[float | None, BeforeValidator(_float_or_none)]


class Wire(BaseModel):
    """Base of Evolution's wire shapes: camelCase on the wire, unknown fields (blobs) dropped."""

    model_config = ConfigDict(extra="ignore", frozen=True, alias_generator=to_camel)


class WireEnvelope(Wire):
    """Every delivery: ``{event, instance, data, sender?, …}``; ``apikey`` is never read."""

    event: Text = Field(min_length=1)
    instance: Text = Field(min_length=1)
    data: Any = None
    sender: OptStr = None


class WireKey(Wire):
    """``data.key`` of a message; ``*Pn``/``*Lid`` are Baileys-6-era names of the ``*Alt`` ones."""

    remote_jid: Text = Field(min_length=1)
    from_me: bool = False
    id: Text = Field(min_length=1)
    participant: OptStr = None
    remote_jid_alt: OptStr = None
    participant_alt: OptStr = None
    sender_pn: OptStr = None
    sender_lid: OptStr = None
    participant_pn: OptStr = None
    participant_lid: OptStr = None


class WireContext(Wire):
    """``contextInfo``: only the id of the quoted message matters here."""

    stanza_id: OptStr = None


OptContext = Annotated[WireContext | None, BeforeValidator(_dict_or_none)]


class WireText(Wire):
    """``extendedTextMessage``."""

    text: OptStr = None
    context_info: OptContext = None


class WireMedia(Wire):
    """Image, video, audio, document and sticker messages: metadata fields only."""

    mimetype: OptStr = None
    caption: OptStr = None
    file_name: OptStr = None
    title: OptStr = None
    file_length: OptInt = None
    seconds: OptInt = None
    ptt: OptBool = None
    width: OptInt = None
    height: OptInt = None
    page_count: OptInt = None
    is_animated: OptBool = None
    gif_playback: OptBool = None
    context_info: OptContext = None


class WireLocation(Wire):
    """``locationMessage`` / ``liveLocationMessage``."""

    degrees_latitude: OptFloat = None
    degrees_longitude: OptFloat = None
    name: OptStr = None
    address: OptStr = None
    caption: OptStr = None
    context_info: OptContext = None


class WireReactionKey(Wire):
    """The key of the message a reaction points at."""

    id: OptStr = None


class WireReaction(Wire):
    """``reactionMessage``: ``text`` is the emoji, empty when the reaction is removed."""

    key: Annotated[WireReactionKey | None, BeforeValidator(_dict_or_none)] = None
    text: OptStr = None


class WireContact(Wire):
    """``contactMessage`` (and each entry of ``contactsArrayMessage.contacts``)."""

    display_name: OptStr = None
    vcard: OptStr = None


class WireContacts(Wire):
    """``contactsArrayMessage``."""

    contacts: Annotated[list[WireContact], BeforeValidator(_dicts)] = Field(default_factory=list)


class WirePollOption(Wire):
    """One option of a poll."""

    option_name: OptStr = None


class WirePoll(Wire):
    """``pollCreationMessage`` (V2, V3)."""

    name: OptStr = None
    options: Annotated[list[WirePollOption], BeforeValidator(_dicts)] = Field(default_factory=list)
    selectable_options_count: OptInt = None


class WireMessage(Wire):
    """``data`` of ``messages.upsert`` and ``send.message`` (and the body of a send's 201)."""

    key: WireKey
    push_name: OptStr = None
    status: Any = None
    message: Annotated[dict[str, Any] | None, BeforeValidator(_dict_or_none)] = None
    message_type: OptStr = None
    message_timestamp: OptInt = None
    context_info: OptContext = None


class WireStatus(Wire):
    """``data`` of ``messages.update``."""

    key_id: Text = Field(min_length=1)
    remote_jid: OptStr = None
    from_me: OptBool = None
    participant: OptStr = None
    status: Any = None


class WireDeleted(Wire):
    """``data`` of ``messages.delete`` (a message key; ``keyId`` or ``key.id`` in some versions)."""

    id: OptStr = None
    key_id: OptStr = None
    key: Annotated[WireReactionKey | None, BeforeValidator(_dict_or_none)] = None
    remote_jid: OptStr = None
    from_me: OptBool = None


class WireConnection(Wire):
    """``data`` of ``connection.update``."""

    state: Text
    status_reason: OptInt = None
    wuid: OptStr = None
    profile_name: OptStr = None


class WireQrCode(Wire):
    """``data.qrcode`` of ``qrcode.updated``."""

    pairing_code: OptStr = None
    code: OptStr = None
    base64: OptStr = None


class WireQr(Wire):
    """``data`` of ``qrcode.updated``: a QR, or ``{message, statusCode}`` once the limit is hit."""

    qrcode: Annotated[WireQrCode | None, BeforeValidator(_dict_or_none)] = None
    message: OptStr = None


# --- the normalised events ---

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

    @property
    def is_removal(self) -> bool:
        """True when the sender took their reaction back."""
        return self.emoji == ""


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
    broadcast: bool = False  # status@broadcast (stories) and broadcast lists
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
    raw_status: str | None = None


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


KNOWN_EVENTS = frozenset(
    {
        "messages.upsert",
        "messages.update",
        "messages.delete",
        "send.message",
        "connection.update",
        "qrcode.updated",
    }
)


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
