"""Evolution's wire shapes: request bodies (its own field names) and the parsed answers we use."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MediaType = Literal["image", "video", "document", "audio"]


class Wire(BaseModel):
    """Base of request bodies: Evolution's camelCase names, ``None`` fields left out."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    def body(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class QuotedKey(Wire):
    id: str = Field(min_length=1)


class Quoted(Wire):
    key: QuotedKey


class _Send(Wire):
    number: str = Field(min_length=1)
    delay: int | None = Field(default=None, ge=0)
    quoted: Quoted | None = None


class SendText(_Send):
    text: str = Field(min_length=1)
    link_preview: bool | None = Field(default=None, alias="linkPreview")


class SendMedia(_Send):
    mediatype: MediaType
    media: str = Field(min_length=1)
    mimetype: str | None = None
    caption: str | None = None
    file_name: str | None = Field(default=None, alias="fileName")


class SendAudio(_Send):
    audio: str = Field(min_length=1)


class SendLocation(_Send):
    latitude: float
    longitude: float
    name: str
    address: str


class ReactionKey(Wire):
    id: str = Field(min_length=1)
    remote_jid: str = Field(min_length=1, alias="remoteJid")
    from_me: bool = Field(alias="fromMe")


class SendReaction(Wire):
    key: ReactionKey
    reaction: str


class SendTemplate(Wire):
    number: str = Field(min_length=1)
    name: str = Field(min_length=1)
    language: str = Field(min_length=2)
    components: list[dict[str, Any]] | None = None


class WebhookConfig(Wire):
    enabled: bool = True
    url: str
    events: list[str]
    headers: dict[str, str] | None = None
    by_events: bool = Field(default=False, alias="byEvents")
    base64: bool = False


class SetWebhook(Wire):
    webhook: WebhookConfig


class CreateInstance(Wire):
    instance_name: str = Field(alias="instanceName")
    integration: Literal["WHATSAPP-BAILEYS", "WHATSAPP-BUSINESS"] = "WHATSAPP-BAILEYS"
    qrcode: bool | None = None
    webhook: WebhookConfig | None = None


class MediaKey(Wire):
    id: str = Field(min_length=1)


class MediaMessageRef(Wire):
    key: MediaKey


class GetBase64FromMediaMessage(Wire):
    """``POST /chat/getBase64FromMediaMessage/{instance}``: only the key, so Evolution looks the
    message up in its own store (it keeps the media key and direct path WhatsApp needs)."""

    message: MediaMessageRef
    convert_to_mp4: bool = Field(default=False, alias="convertToMp4")


class MediaContent(BaseModel):
    """``getBase64FromMediaMessage``'s 201 answer, decoded: the bytes and what Evolution says of them
    (``{"mediaType", "fileName", "caption", "size": {…}, "mimetype", "base64", "buffer": null}``)."""

    model_config = ConfigDict(frozen=True)

    data: bytes
    mimetype: str | None = None
    file_name: str | None = None
    media_type: str | None = None


class SentMessage(BaseModel):
    """What a send answered: the WhatsApp message id, the chat, Evolution's status."""

    message_id: str
    remote_jid: str | None
    status: str | None
    message_type: str | None

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> SentMessage:
        key = body.get("key") or {}
        status = body.get("status")
        return cls(
            message_id=str(key["id"]),
            remote_jid=key.get("remoteJid"),
            status=status if isinstance(status, str) else None,
            message_type=body.get("messageType"),
        )


class ConnectResult(BaseModel):
    """Connect's answer: a QR and/or pairing code while pairing, or ``state`` when already open."""

    state: Literal["open", "connecting"]
    qr_code: str | None = None
    pairing_code: str | None = None
    code: str | None = None
    attempt: int = 0

    @classmethod
    def from_body(cls, body: Any) -> ConnectResult:
        if not isinstance(body, dict):
            return cls(state="connecting")
        instance = body.get("instance")
        if isinstance(instance, dict) and instance.get("state") == "open":
            return cls(state="open")
        qr = body.get("base64")
        pairing = body.get("pairingCode")
        code = body.get("code")
        count = body.get("count")
        return cls(
            state="connecting",
            qr_code=qr if isinstance(qr, str) and qr.startswith("data:image/") else None,
            pairing_code=pairing if isinstance(pairing, str) and pairing else None,
            code=code if isinstance(code, str) and code else None,
            attempt=count if isinstance(count, int) else 0,
        )
