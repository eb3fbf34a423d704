"""One WhatsApp message inside a webhook: its content (text, media, location, reaction, contact,
poll), sender and chat, read from Evolution's wire shape; and the store record made of it. Pure."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import pydantic

from chalicelib.errors import ValidationError
from chalicelib.models.records import MessageRecord, Status, StatusEntry
from chalicelib.models.webhook import (
    ContactCard,
    InboundMessage,
    LocationInfo,
    MediaInfo,
    MessageType,
    PollInfo,
    ReactionInfo,
    Wire,
    WireContact,
    WireContacts,
    WireContext,
    WireLocation,
    WireMedia,
    WireMessage,
    WirePoll,
    WireReaction,
    WireText,
    utf8_safe,
)
from chalicelib.services.message_rules import content_fingerprint
from chalicelib.services.phones import is_group, is_lid, jid_to_e164

W = TypeVar("W", bound=Wire)
Loc = tuple[str | int, ...]
INVALID = "The webhook body is not an Evolution envelope this service understands."

# Content keys of ``data.message`` (first match wins, after Evolution's own ``messageType``).
_CONTENT: dict[str, MessageType] = {
    "conversation": "text",
    "extendedTextMessage": "text",
    "imageMessage": "image",
    "videoMessage": "video",
    "ptvMessage": "video",
    "audioMessage": "audio",
    "documentMessage": "document",
    "stickerMessage": "sticker",
    "locationMessage": "location",
    "liveLocationMessage": "location",
    "contactMessage": "contact",
    "contactsArrayMessage": "contact",
    "reactionMessage": "reaction",
    "pollCreationMessage": "poll",
    "pollCreationMessageV2": "poll",
    "pollCreationMessageV3": "poll",
}
_WRAPPERS = (
    "documentWithCaptionMessage",
    "ephemeralMessage",
    "viewOnceMessage",
    "viewOnceMessageV2",
    "viewOnceMessageV2Extension",
)
_NOT_CONTENT = frozenset({"messageContextInfo", "base64", "mediaUrl"})
_CAPTIONED = frozenset({"image", "video", "document"})


def to_inbound_record(msg: InboundMessage, *, instance: str, record_id: str, now: str) -> MessageRecord:
    """The store record for a message from ``messages.upsert``.

    A contact's message is ``inbound``/``contact`` and starts ``delivered`` (it reached us). A
    message typed on the linked phone (``from_me``) is ``outbound``/``phone``, starts ``sent`` and
    is addressed ``to`` the chat's E.164 number, or its JID when none is known (groups, ``@lid``).
    """
    outbound = msg.from_me
    status: Status = "sent" if outbound else "delivered"
    reaction = msg.reaction
    location = msg.location
    return MessageRecord(
        id=record_id,
        instance=instance,
        direction="outbound" if outbound else "inbound",
        origin="phone" if outbound else "contact",
        message_id=msg.message_id,
        type=msg.type,
        status=status,
        status_history=[StatusEntry(status=status, at=now)],
        to=(msg.chat_phone or msg.chat_jid) if outbound else None,
        jid=msg.chat_jid,
        from_=None if outbound else msg.sender_phone,
        from_lid=None if outbound else msg.sender_lid,
        push_name=None if outbound else msg.push_name,
        text=msg.text,
        caption=msg.caption,
        media={**msg.media.model_dump(exclude_none=True), "stored": False} if msg.media else None,
        location=location.model_dump(exclude_none=True, exclude={"live"}) if location else None,
        reaction={"message_id": reaction.message_id, "emoji": reaction.emoji} if reaction else None,
        fingerprint=msg.fingerprint,
        timestamp=msg.timestamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
        created_at=now,
        updated_at=now,
    )


@dataclass(frozen=True)
class _Content:
    type: MessageType
    raw_type: str | None
    text: str | None = None
    caption: str | None = None
    media: MediaInfo | None = None
    location: LocationInfo | None = None
    reaction: ReactionInfo | None = None
    contacts: list[ContactCard] = field(default_factory=list)
    poll: PollInfo | None = None
    quoted_message_id: str | None = None
    value: str = ""  # what content_fingerprint hashes


def inbound_message(wire: WireMessage, *, owner_jid: str | None, received_at: datetime) -> InboundMessage:
    key = wire.key
    chat = key.remote_jid
    group = is_group(chat)
    broadcast = chat.endswith("@broadcast")
    if key.from_me:
        senders: list[str | None] = [owner_jid]
    elif group or broadcast:
        senders = [key.participant, key.participant_alt, key.participant_pn, key.participant_lid]
    else:
        senders = [chat, key.remote_jid_alt, key.sender_pn, key.sender_lid]
    peers = [] if group or broadcast else [chat, key.remote_jid_alt, key.sender_pn]
    content = _content(wire.message or {}, wire.message_type)
    quoted = _stanza(wire.context_info) or content.quoted_message_id
    return InboundMessage(
        message_id=key.id,
        chat_jid=chat,
        from_me=key.from_me,
        group=group,
        participant=key.participant,
        sender_phone=_first_phone(senders),
        sender_lid=next((jid for jid in senders if jid and is_lid(jid)), None),
        chat_phone=_first_phone(peers),
        push_name=wire.push_name,
        type=content.type,
        raw_type=content.raw_type,
        text=content.text,
        caption=content.caption,
        media=content.media,
        location=content.location,
        reaction=content.reaction,
        contacts=content.contacts,
        poll=content.poll,
        quoted_message_id=quoted,
        timestamp=_timestamp(wire.message_timestamp, received_at),
        fingerprint=content_fingerprint(content.type, content.value),
    )


def _content(message: dict[str, Any], message_type: str | None) -> _Content:
    found = _find_content(message, message_type)
    if found is None:
        first_key = next((k for k in message if k not in _NOT_CONTENT), None)
        raw = message_type or (utf8_safe(first_key) if first_key else None)
        return _Content(type="unknown", raw_type=raw, value=raw or "")
    name, value = found
    return _EXTRACTORS[_CONTENT[name]](name, value, message_type or name)


def _find_content(message: dict[str, Any], message_type: str | None) -> tuple[str, Any] | None:
    for _ in range(3):  # documentWithCaption / ephemeral / viewOnce wrap at most a level or two
        inner = next((message[w] for w in _WRAPPERS if isinstance(message.get(w), dict)), None)
        if inner is None or not isinstance(inner.get("message"), dict):
            break
        message = inner["message"]
    names: Iterable[str] = _CONTENT
    if message_type in _CONTENT:
        names = (message_type, *_CONTENT)
    for name in names:
        value = message.get(name)
        if isinstance(value, str) if name == "conversation" else isinstance(value, dict):
            return name, value
    return None


def _text(name: str, value: Any, raw: str) -> _Content:
    if name == "conversation":
        text = utf8_safe(value)
        return _Content("text", raw, text=text, value=text)
    wire = validate(WireText, value, ("data", "message", name))
    quoted = _stanza(wire.context_info)
    return _Content("text", raw, text=wire.text, quoted_message_id=quoted, value=wire.text or "")


def _media(name: str, value: Any, raw: str) -> _Content:
    kind = _CONTENT[name]
    wire = validate(WireMedia, value, ("data", "message", name))
    size = wire.file_length if wire.file_length is None or wire.file_length >= 0 else None
    media = MediaInfo(
        mimetype=wire.mimetype,
        file_name=(wire.file_name or wire.title) if kind == "document" else wire.file_name,
        size=size,
        seconds=wire.seconds,
        voice_note=bool(wire.ptt) if kind == "audio" else None,
        width=wire.width,
        height=wire.height,
        page_count=wire.page_count if kind == "document" else None,
        animated=wire.is_animated if kind == "sticker" else wire.gif_playback,
    )
    caption = wire.caption if kind in _CAPTIONED else None
    quoted = _stanza(wire.context_info)
    return _Content(kind, raw, caption=caption, media=media, quoted_message_id=quoted, value=caption or "")


def _location(name: str, value: Any, raw: str) -> _Content:
    wire = validate(WireLocation, value, ("data", "message", name))
    lat, lng = wire.degrees_latitude, wire.degrees_longitude
    location = LocationInfo(
        latitude=lat,
        longitude=lng,
        name=wire.name or wire.caption,
        address=wire.address,
        live=name == "liveLocationMessage",
    )
    where = f"{lat:.6f},{lng:.6f}" if lat is not None and lng is not None else ""
    quoted = _stanza(wire.context_info)
    return _Content("location", raw, location=location, quoted_message_id=quoted, value=where)


def _reaction(name: str, value: Any, raw: str) -> _Content:
    wire = validate(WireReaction, value, ("data", "message", name))
    reaction = ReactionInfo(message_id=wire.key.id if wire.key else None, emoji=wire.text or "")
    where = f"{reaction.message_id or ''}:{reaction.emoji}"
    return _Content("reaction", raw, reaction=reaction, value=where)


def _contact(name: str, value: Any, raw: str) -> _Content:
    loc = ("data", "message", name)
    cards = (
        [validate(WireContact, value, loc)]
        if name == "contactMessage"
        else validate(WireContacts, value, loc).contacts
    )
    contacts = [ContactCard(name=c.display_name, vcard=c.vcard) for c in cards]
    vcards = "\n".join(c.vcard or c.name or "" for c in contacts)
    return _Content("contact", raw, contacts=contacts, text=vcards or None, value=vcards)


def _poll(name: str, value: Any, raw: str) -> _Content:
    wire = validate(WirePoll, value, ("data", "message", name))
    options = [o.option_name for o in wire.options if o.option_name is not None]
    poll = PollInfo(name=wire.name, options=options, selectable_count=wire.selectable_options_count)
    return _Content("poll", raw, poll=poll, text=wire.name, value=wire.name or "")


_EXTRACTORS: dict[MessageType, Callable[[str, Any, str], _Content]] = {
    "text": _text,
    "image": _media,
    "video": _media,
    "audio": _media,
    "document": _media,
    "sticker": _media,
    "location": _location,
    "reaction": _reaction,
    "contact": _contact,
    "poll": _poll,
}


# --- small helpers ---


def validate(model: type[W], value: object, loc: Loc) -> W:
    try:
        return model.model_validate(value)
    except pydantic.ValidationError as e:
        details = [{"loc": [*loc, *err["loc"]], "msg": err["msg"]} for err in e.errors()]
        raise ValidationError(INVALID, details=details) from e


def invalid(loc: Loc, msg: str) -> ValidationError:
    return ValidationError(INVALID, details=[{"loc": list(loc), "msg": msg}])


def _stanza(context: WireContext | None) -> str | None:
    return (context.stanza_id or None) if context else None


def _first_phone(jids: Iterable[str | None]) -> str | None:
    return next((phone for jid in jids if jid and (phone := jid_to_e164(jid))), None)


def _timestamp(seconds: int | None, received_at: datetime) -> datetime:
    if seconds is not None and seconds > 0:
        if seconds > 100_000_000_000:  # milliseconds
            seconds //= 1000
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            pass
    return received_at
