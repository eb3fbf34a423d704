"""The public API's request bodies (what clients send us)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from chalicelib.limits import coordinate
from chalicelib.models.records import Direction, Status


class ApiModel(BaseModel):
    """Base of request bodies: unknown fields are an error, strings are not coerced from numbers."""

    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)


class ConnectRequest(ApiModel):
    """``POST /connect``: a phone number asks for a pairing code as well as the QR."""

    phone: str | None = Field(default=None, min_length=8, max_length=32)


MediaKind = Literal["image", "video", "document", "audio"]
MESSAGE_ID_PATTERN = r"^[A-Za-z0-9_\-.:]{1,128}$"


class MediaIn(ApiModel):
    """A media attachment: a public ``url`` or raw ``base64`` (no ``data:`` prefix)."""

    type: MediaKind
    url: str | None = Field(
        default=None,
        min_length=8,
        max_length=2048,
        description=(
            "http(s), no user name or password; not a loopback, private or link-local host, as a "
            "literal or a name resolving to one, unless the operator allowlists it (URL_ALLOWLIST)."
        ),
    )
    base64: str | None = Field(default=None, min_length=4)
    caption: str | None = Field(default=None, max_length=1024)
    filename: str | None = Field(default=None, min_length=1, max_length=255)
    mimetype: str | None = Field(default=None, pattern=r"^[\w.+-]+/[\w.+-]+$", max_length=127)

    @model_validator(mode="after")
    def _one_source(self) -> MediaIn:
        if (self.url is None) == (self.base64 is None):
            raise ValueError("give exactly one of url or base64")
        if self.url is not None and not self.url.lower().startswith(("https://", "http://")):
            raise ValueError("url must be an http(s) URL")
        if self.type == "audio" and self.caption:
            raise ValueError("audio messages have no caption")
        if self.type == "document" and self.base64 is not None and not self.filename:
            raise ValueError("a document sent as base64 needs a filename")
        return self


class LocationIn(ApiModel):
    """Coordinates are rounded to 7 decimals (about 1 cm) before anything is sent or stored."""

    latitude: Annotated[float, Field(ge=-90, le=90), AfterValidator(coordinate)]
    longitude: Annotated[float, Field(ge=-180, le=180), AfterValidator(coordinate)]
    name: str = Field(default="", max_length=256)
    address: str = Field(default="", max_length=512)


class ReactionIn(ApiModel):
    message_id: str = Field(pattern=MESSAGE_ID_PATTERN)
    emoji: str = Field(max_length=16)

    @field_validator("emoji")
    @classmethod
    def _one_emoji(cls, value: str) -> str:
        textual = any(ch.isascii() and (ch.isalnum() or ch.isspace()) for ch in value)
        if value and (textual or len(value) > 10):
            raise ValueError('must be a single emoji, or "" to remove the reaction')
        return value


class _SendCommon(ApiModel):
    to: str = Field(
        min_length=3,
        max_length=64,
        description="An international number in ASCII digits (`+`, spaces, dashes, parentheses allowed), "
        "a group JID (`…@g.us`) or a `…@lid` id.",
    )
    reply_to: str | None = Field(default=None, pattern=MESSAGE_ID_PATTERN)
    delay_ms: int | None = Field(default=None, ge=0, le=20000)
    reference: str | None = Field(default=None, min_length=1, max_length=128)


class SendMessageRequest(_SendCommon):
    """``POST /messages``: ``to`` plus exactly one of text, media, location, reaction."""

    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=False)

    text: str | None = Field(default=None, min_length=1, max_length=4096)
    media: MediaIn | None = None
    location: LocationIn | None = None
    reaction: ReactionIn | None = None
    link_preview: bool | None = None

    @model_validator(mode="after")
    def _exactly_one_content(self) -> SendMessageRequest:
        given = [n for n in ("text", "media", "location", "reaction") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of text, media, location or reaction")
        if self.text is not None and not self.text.strip():
            raise ValueError("text must not be blank")
        if self.link_preview is not None and self.text is None:
            raise ValueError("link_preview applies to text messages only")
        return self


class SendTemplateRequest(_SendCommon):
    """``POST /messages/template``."""

    template: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    language: str | None = Field(
        default=None,
        max_length=16,
        description="Default: the template's own. An unavailable language falls back to the default.",
    )
    variables: dict[str, str | int | float] = Field(default_factory=dict, max_length=50)


class PreviewRequest(ApiModel):
    """``POST /templates/{name}/preview``."""

    language: str | None = Field(
        default=None,
        max_length=16,
        description="Default: the template's own. An unavailable language falls back to the default.",
    )
    variables: dict[str, str | int | float] = Field(default_factory=dict, max_length=50)


class MediaFileQuery(BaseModel):
    """``GET /media/{id}``'s query: the expiry and signature of a link from ``GET /messages/{id}/media``
    (documented from this model; the route checks the pair and answers 403 for anything else)."""

    expires: str = Field(pattern=r"^[0-9]{1,12}$", description="Unix seconds; refused from then on.")
    signature: str = Field(pattern=r"^[0-9a-f]{64}$", description="HMAC-SHA256 of id and expiry.")


class ListMessagesQuery(BaseModel):
    """``GET /messages``'s query parameters: the route validates them with this model and the
    OpenAPI document describes them from it."""

    model_config = ConfigDict(extra="forbid")

    direction: Direction | None = Field(default=None, description="Only inbound or only outbound messages.")
    status: Status | None = Field(default=None, description="Only messages in this status.")
    after: str | None = Field(
        default=None, min_length=1, max_length=512, description="The `next` cursor of the previous page."
    )
    limit: int = Field(default=20, ge=1, le=100, description="Page size.")

    @field_validator("limit", mode="before")
    @classmethod
    def _whole_number(cls, value: object) -> object:
        if isinstance(value, str) and not value.isdigit():
            raise ValueError("must be a whole number from 1 to 100")
        return value
