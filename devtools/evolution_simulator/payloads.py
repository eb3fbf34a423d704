"""Builders for the JSON Evolution emits: message objects, webhook ``data`` and the envelope."""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import secrets
import string
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from devtools.evolution_simulator.numbers import create_jid, is_base64, jid_user

# A 1x1 JPEG, used as jpegThumbnail and as media content when webhook base64 is on.
TINY_JPEG = (
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwc"
    "KDcpLDAxNDQ0Hyc5PTgyPC4zNDL/wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAACf/EABQQAQAAAAAAAAAA"
    "AAAAAAAAAAD/2gAIAQEAAD8AKp//2Q=="
)
TINY_PDF = base64.b64encode(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n").decode()
TINY_OGG = base64.b64encode(b"OggS\x00\x02" + bytes(20)).decode()
WAVEFORM = "AAAAAAYRHCcwNTc2NjUzMC4rKCUiHxwZFhMQDQoHBQMCAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="
_MEDIA_DIRS = {"image": "t62.7118-24", "video": "t62.7161-24", "audio": "t62.7117-24"}
_BASE36 = string.digits + string.ascii_lowercase


def iso_now_utc() -> str:
    """Real UTC time, for the simulator's own logs."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def evolution_date_time(offset_hours: float) -> str:
    """``date_time`` as Evolution writes it: server-local time with a misleading ``Z``."""
    local = datetime.now(UTC) + timedelta(hours=offset_hours)
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}Z"


def now_seconds() -> int:
    return int(time.time())


def new_message_id() -> str:
    """Baileys ``generateMessageIDV2``: ``3EB0`` + 18 upper-case hex digits (22 characters)."""
    return "3EB0" + secrets.token_hex(9).upper()


def new_inbound_id(source: str) -> str:
    """Ids as phones make them: 32 hex for android, ``3A`` + 18 hex for iOS, ``3EB0…`` for web."""
    if source == "android":
        return secrets.token_hex(16).upper()
    if source == "ios":
        return "3A" + secrets.token_hex(9).upper()
    return new_message_id()


def new_wamid(number: str) -> str:
    """A Cloud API message id (``wamid.`` + base64 of a protobuf-ish blob)."""
    blob = b"\x15\x02\x00\x11\x18\x12" + number.encode() + secrets.token_bytes(18)
    return "wamid." + base64.b64encode(blob).decode()


def new_cuid() -> str:
    """A Prisma ``cuid()``-looking row id (``messageId`` in messages.update)."""
    return "c" + "".join(secrets.choice(_BASE36) for _ in range(24))


def new_token() -> str:
    """An instance token as Evolution generates it: an upper-case UUID v4."""
    return str(uuid.uuid4()).upper()


def _b64(size: int) -> str:
    return base64.b64encode(secrets.token_bytes(size)).decode()


def _media_location(kind: str) -> tuple[str, str]:
    folder = _MEDIA_DIRS.get(kind, "t62.7119-24")
    blob = secrets.token_urlsafe(30)
    query = f"ccb=11-4&oh=01_{secrets.token_urlsafe(24)}&oe={secrets.token_hex(4).upper()}"
    path = f"/v/{folder}/{blob}.enc?{query}&_nc_sid=5e03e0"
    return f"https://mmg.whatsapp.net{path}&mms3=true", path


def _media_fields(kind: str, content: bytes | None, mimetype: str) -> dict[str, Any]:
    url, direct_path = _media_location(kind)
    digest = hashlib.sha256(content).digest() if content is not None else secrets.token_bytes(32)
    length = len(content) if content is not None else 10_000 + secrets.randbelow(400_000)
    return {
        "url": url,
        "mimetype": mimetype,
        "fileSha256": base64.b64encode(digest).decode(),
        "fileLength": str(length),
        "mediaKey": _b64(32),
        "fileEncSha256": _b64(32),
        "directPath": direct_path,
        "mediaKeyTimestamp": str(now_seconds()),
    }


def _decoded(media: str) -> bytes | None:
    return base64.b64decode(media) if is_base64(media) else None


def _guess_mimetype(name: str | None, fallback: str) -> str:
    guessed = mimetypes.guess_type(name or "")[0] if name else None
    return guessed or fallback


def text_content(body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    return {"conversation": body["text"]}, "conversation"


def media_content(body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    kind = body["mediatype"]
    media = str(body.get("media") or "")
    content = _decoded(media)
    from_url = media.rsplit("/", 1)[-1].split("?", 1)[0] if content is None else None
    name = body.get("fileName") or from_url
    fallbacks = {
        "image": "image/png",
        "video": "video/mp4",
        "audio": "audio/mp4",
        "document": "application/pdf",
    }
    mimetype = body.get("mimetype") or _guess_mimetype(name, fallbacks[kind])
    fields = _media_fields(kind, content, mimetype)
    caption = body.get("caption")
    if kind == "image":
        fields |= {"height": 1280, "width": 960, "jpegThumbnail": TINY_JPEG}
    elif kind == "video":
        fields |= {"seconds": 12, "height": 1280, "width": 720, "jpegThumbnail": TINY_JPEG}
    elif kind == "audio":
        fields |= {"seconds": 7, "ptt": False}
    else:
        fields |= {"title": body.get("fileName") or name or "file", "fileName": name or "file"}
        fields |= {"pageCount": 1, "contactVcard": False}
    if caption and kind != "audio":
        fields["caption"] = caption
    return {f"{kind}Message": fields}, f"{kind}Message"


def audio_content(body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    fields = _media_fields("audio", _decoded(str(body.get("audio") or "")), "audio/ogg; codecs=opus")
    fields |= {"seconds": 7, "ptt": True, "waveform": WAVEFORM}
    return {"audioMessage": fields}, "audioMessage"


def location_content(body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    location = {
        "degreesLatitude": body["latitude"],
        "degreesLongitude": body["longitude"],
        "name": body["name"],
        "address": body["address"],
    }
    return {"locationMessage": location}, "locationMessage"


def reaction_content(body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    reaction = {
        "key": body["key"],
        "text": body["reaction"],
        "senderTimestampMs": str(int(time.time() * 1000)),
    }
    return {"reactionMessage": reaction}, "reactionMessage"


def sticker_content(body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    fields = _media_fields("sticker", _decoded(str(body.get("sticker") or "")), "image/webp")
    fields |= {"height": 64, "width": 64, "isAnimated": False}
    return {"stickerMessage": fields}, "stickerMessage"


def template_content(body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    template = {k: body[k] for k in ("name", "language", "components") if k in body}
    return {"template": template}, "conversation"


def context_info(body: dict[str, Any], remote_jid: str) -> dict[str, Any] | None:
    """``data.contextInfo`` for quoted replies and mentions (prepareMessage moves it there)."""
    info: dict[str, Any] = {}
    quoted = body.get("quoted")
    if isinstance(quoted, dict) and isinstance(quoted.get("key"), dict):
        info["stanzaId"] = quoted["key"].get("id")
        info["participant"] = quoted["key"].get("remoteJid") or remote_jid
        info["quotedMessage"] = quoted.get("message") or {"conversation": ""}
    mentioned = body.get("mentioned")
    if isinstance(mentioned, list) and mentioned:
        info["mentionedJid"] = [create_jid(str(m)) for m in mentioned]
    return info or None


def baileys_message(
    *,
    remote_jid: str,
    content: dict[str, Any],
    message_type: str,
    instance_id: str,
    context: dict[str, Any] | None,
) -> dict[str, Any]:
    """The message object a Baileys send answers with (and ``send.message`` carries)."""
    message: dict[str, Any] = {
        "key": {"remoteJid": remote_jid, "fromMe": True, "id": new_message_id()},
        "pushName": "Você",
        "status": "PENDING",
        "message": content,
    }
    if context:
        message["contextInfo"] = context
    message |= {
        "messageType": message_type,
        "messageTimestamp": now_seconds(),
        "instanceId": instance_id,
        "source": "web",
    }
    return message


def cloud_message(
    *, remote_jid: str, content: dict[str, Any], message_type: str, instance_id: str
) -> dict[str, Any]:
    """The message object a Cloud API (WHATSAPP-BUSINESS) send answers with."""
    return {
        "key": {"fromMe": True, "id": new_wamid(jid_user(remote_jid)), "remoteJid": remote_jid},
        "message": content,
        "messageType": message_type,
        "messageTimestamp": now_seconds(),
        "instanceId": instance_id,
        "status": "PENDING",
        "source": "unknown",
    }


def graph_error(code: int = 131030) -> dict[str, Any]:
    """A raw Meta Graph error object, as Evolution returns it with HTTP 201."""
    messages = {
        131030: "Recipient phone number not in allowed list",
        131026: "Message undeliverable",
        131047: "Re-engagement message",
        132001: "Template name does not exist in the translation",
    }
    text = messages.get(code, "Message failed to send")
    return {
        "message": f"(#{code}) {text}",
        "type": "OAuthException",
        "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": f"{text}."},
        "fbtrace_id": "A" + secrets.token_urlsafe(16),
    }


def message_status(message: dict[str, Any], status: str, *, row_id: str, cloud: bool) -> dict[str, Any]:
    """``messages.update`` data for an outgoing message."""
    key = message["key"]
    data: dict[str, Any] = {"keyId": key["id"], "remoteJid": key["remoteJid"], "fromMe": True}
    if cloud:
        data["participant"] = key["remoteJid"]
    return data | {"status": status, "instanceId": message["instanceId"], "messageId": row_id}


def connection_update(
    instance: str,
    state: str,
    status_reason: int,
    *,
    wuid: str | None = None,
    profile_name: str | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {"instance": instance}
    if state == "open":
        data |= {
            "wuid": wuid,
            "profileName": profile_name,
            "profilePictureUrl": None,
        }
    elif wuid and state == "refused":
        data["wuid"] = wuid
    return data | {"state": state, "statusReason": status_reason}


def qrcode_updated(instance: str, pairing_code: str | None, code: str, data_url: str) -> dict[str, Any]:
    qrcode = {"instance": instance, "pairingCode": pairing_code, "code": code, "base64": data_url}
    return {"qrcode": qrcode}


QR_LIMIT_DATA = {"message": "QR code limit reached, please login again", "statusCode": 500}

_DEVICE_LIST = {
    "deviceListMetadata": {
        "senderKeyHash": "q1w2e3r4t5y6u7i8o9==",
        "senderTimestamp": "1765100000",
        "recipientKeyHash": "R7CbehSmMzBxHQ==",
        "recipientTimestamp": "1765200000",
    },
    "deviceListMetadataVersion": 2,
    "messageSecret": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ1Ng==",
}


def lid_for(number: str) -> str:
    """A stable fake LID (15 digits) for a phone number."""
    digest = hashlib.sha256(number.encode()).hexdigest()
    return str(100_000_000_000_000 + int(digest[:12], 16) % 899_999_999_999_999) + "@lid"


def _inbound_content(kind: str, spec: dict[str, Any], *, with_base64: bool) -> tuple[dict[str, Any], str]:
    text = spec.get("text")
    content: dict[str, Any]
    if kind in {"text", "lid", "group"}:
        return {"conversation": text or "Olá! Gostaria de um orçamento."}, "conversation"
    if kind == "image":
        fields = _media_fields("image", base64.b64decode(TINY_JPEG), "image/jpeg")
        fields |= {"height": 1280, "width": 960, "jpegThumbnail": TINY_JPEG}
        if text:
            fields["caption"] = text
        content, raw = {"imageMessage": fields}, TINY_JPEG
    elif kind == "document":
        name = spec.get("fileName") or "orcamento-2025.pdf"
        fields = _media_fields("document", base64.b64decode(TINY_PDF), "application/pdf")
        fields |= {"title": name, "pageCount": 1, "fileName": name, "contactVcard": False}
        if text:
            fields["caption"] = text
        content, raw = {"documentMessage": fields}, TINY_PDF
    elif kind == "audio":
        fields = _media_fields("audio", base64.b64decode(TINY_OGG), "audio/ogg; codecs=opus")
        fields |= {"seconds": 7, "ptt": True, "waveform": WAVEFORM}
        content, raw = {"audioMessage": fields}, TINY_OGG
    elif kind == "location":
        location = {
            "degreesLatitude": spec.get("latitude", -23.561414),
            "degreesLongitude": spec.get("longitude", -46.655881),
            "name": spec.get("name", "Av. Paulista, 1000"),
            "address": spec.get("address", "Bela Vista, São Paulo - SP"),
            "jpegThumbnail": TINY_JPEG,
        }
        return {"locationMessage": location}, "locationMessage"
    elif kind == "reaction":
        target = spec.get("key") or {}
        reaction = {
            "key": {
                "remoteJid": target.get("remoteJid", ""),
                "fromMe": target.get("fromMe", True),
                "id": target.get("id", ""),
            },
            "text": text if text is not None else "👍",
            "senderTimestampMs": str(int(time.time() * 1000)),
        }
        return {"reactionMessage": reaction}, "reactionMessage"
    else:
        raise ValueError(kind)
    message_type = next(iter(content))
    if with_base64:
        content["base64"] = raw
    return content, message_type


INBOUND_KINDS = ("text", "image", "document", "audio", "lid", "group", "location", "reaction")


def inbound_message(
    kind: str, spec: dict[str, Any], *, instance_id: str, with_base64: bool
) -> dict[str, Any]:
    """``messages.upsert`` data for a message received from ``spec["from"]``, like the fixtures."""
    number = "".join(ch for ch in str(spec.get("from") or "5511999999999") if ch.isdigit())
    source = str(spec.get("source") or ("web" if kind in {"document", "lid"} else "android"))
    phone_jid = create_jid(number)
    key: dict[str, Any]
    if kind == "lid":
        key = {"remoteJid": lid_for(number), "fromMe": False, "id": new_inbound_id(source)}
    elif kind == "group":
        group = str(spec.get("group") or "120363000000000001@g.us")
        key = {
            "remoteJid": group,
            "fromMe": False,
            "id": new_inbound_id(source),
            "participant": phone_jid,
            "participantAlt": lid_for(number),
            "addressingMode": "pn",
        }
    else:
        key = {
            "remoteJid": phone_jid,
            "remoteJidAlt": lid_for(number),
            "fromMe": False,
            "id": new_inbound_id(source),
            "addressingMode": "pn",
        }
    content, message_type = _inbound_content(kind, spec, with_base64=with_base64)
    content = content | {"messageContextInfo": _DEVICE_LIST}
    return {
        "key": key,
        "pushName": str(spec.get("pushName") or "Maria Silva"),
        "status": "DELIVERY_ACK",
        "message": content,
        "messageType": message_type,
        "messageTimestamp": now_seconds(),
        "instanceId": instance_id,
        "source": source,
    }
