"""Evolution webhook shapes as they arrive: tolerant wire models, where a field of the wrong type
becomes None instead of failing the delivery."""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

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
