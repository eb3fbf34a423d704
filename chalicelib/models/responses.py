"""The public API's response bodies, as pydantic models: the source of the OpenAPI document's schemas.

Nothing at run time builds responses from these (the services return plain dicts); the OpenAPI
generator and the tests use them. ``extra="forbid"`` makes every field the services add without
documenting it a failing conformance test, not a silent drift.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel
from pydantic.json_schema import SkipJsonSchema

from chalicelib.models.records import Status

# ``X | Omitted = None``: the field is left out of the body when it has no value (never ``null``).
Omitted = SkipJsonSchema[None]


def _no_null_defaults(schema: dict[str, Any]) -> None:
    """Drop ``"default": null`` (a response has no defaults; it would contradict an ``Omitted`` type)."""
    for prop in schema.get("properties", {}).values():
        if "default" in prop and prop["default"] is None:
            del prop["default"]


class ResponseModel(BaseModel):
    """Base of response bodies: exactly the documented fields."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, json_schema_extra=_no_null_defaults)


class OpenModel(BaseModel):
    """Base of nested metadata objects that may grow new keys (media metadata, Meta mappings)."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_no_null_defaults)


# -- errors ----------------------------------------------------------------------------------------


class ErrorDetail(ResponseModel):
    """Where a request is wrong (``loc``, a path into the body, query or headers) and why."""

    loc: list[str | int]
    msg: str


class SendErrorDetail(ResponseModel):
    """The record a failed or uncertain send left behind: look it up with ``GET /messages/{id}``."""

    id: str
    status: Status


class ErrorBody(ResponseModel):
    """Every error this service answers, in Chalice's own error shape."""

    Code: str = Field(description="A stable error code, e.g. ValidationError; see the table in API.md.")
    Message: str = Field(description="One sentence a person can act on.")
    Details: list[ErrorDetail | SendErrorDetail] | Omitted = None


class GatewayErrorBody(BaseModel):
    """API Gateway's own answer when the authorizer refuses a request (401, 403)."""

    model_config = ConfigDict(extra="allow", json_schema_extra=_no_null_defaults)

    message: str | Omitted = None
    Message: str | Omitted = None


# -- messages --------------------------------------------------------------------------------------


class TemplateRef(OpenModel):
    """Which template a message was rendered from."""

    name: str
    language: str
    meta_name: str | Omitted = None


class MessageAccepted(ResponseModel):
    """``201`` of ``POST /messages`` and ``POST /messages/template``."""

    id: str = Field(description="The service's id, msg_<ULID>.", examples=["msg_01JDQ4Z9W6M8E3V7K2B5N1P0RS"])
    message_id: str | None = Field(description="WhatsApp's message id.")
    to: str = Field(description="The recipient: E.164, or the group/lid JID as given.")
    jid: str
    type: str = Field(examples=["text", "image", "location", "reaction", "template"])
    status: Status
    reference: str | None
    created_at: str
    template: TemplateRef | Omitted = None


class StatusEntry(ResponseModel):
    status: Status
    at: str


class RecordError(OpenModel):
    """Why a send failed: the error code and message it was answered with."""

    code: str
    message: str


class _RecordCommon(ResponseModel):
    id: str
    message_id: str | None
    type: str
    status: Status
    status_history: list[StatusEntry]
    jid: str | None
    origin: Literal["api", "phone", "contact"]
    text: str | Omitted = None
    caption: str | Omitted = None
    media: dict[str, Any] | Omitted = Field(default=None, description="Media metadata, never content.")
    location: dict[str, Any] | Omitted = None
    reaction: dict[str, Any] | Omitted = None
    template: TemplateRef | Omitted = None
    reference: str | None
    timestamp: str | None = Field(description="When WhatsApp says the message was sent (inbound).")
    created_at: str
    updated_at: str
    error: RecordError | None


class OutboundMessage(_RecordCommon):
    """A message sent by this API, or typed on the linked phone (``origin`` ``phone``)."""

    direction: Literal["outbound"]
    to: str | None
    broadcast_id: str | None = None  # the broadcast this send belongs to (absent otherwise)


class InboundMessage(_RecordCommon):
    """A message a contact sent to the linked number."""

    direction: Literal["inbound"]
    from_: str | None = Field(alias="from", description="The sender in E.164, when known.")
    from_lid: str | None
    push_name: str | None


class MessageRecordOut(
    RootModel[Annotated[OutboundMessage | InboundMessage, Field(discriminator="direction")]]
):
    """``GET /messages/{id}``: one message, either direction."""


class MediaLink(ResponseModel):
    """``GET /messages/{id}/media``: a time-limited URL of the stored file (no API key needed)."""

    url: str = Field(
        description="S3 pre-signed GET when deployed; this service's signed /media link locally."
    )
    mimetype: str = Field(description="The type the file is served as (from its bytes where they disagree).")
    filename: str | None = Field(description="The sanitised file name; null for images and voice notes.")
    size: int | None
    sha256: str | None
    expires_at: str


class MessagePage(ResponseModel):
    """``GET /messages``: newest first; pass ``next`` as ``after`` for the next page."""

    items: list[MessageRecordOut]
    next: str | None


# -- session and health ----------------------------------------------------------------------------


class EvolutionCheck(ResponseModel):
    ok: bool
    latency_ms: int
    error: str | Omitted = None


class InstanceCheck(ResponseModel):
    ok: bool
    name: str
    state: str = Field(examples=["open", "connecting", "close", "missing", "unknown"])


class StoreCheck(ResponseModel):
    ok: bool
    error: str | Omitted = None


class HealthChecks(ResponseModel):
    evolution: EvolutionCheck
    instance: InstanceCheck
    store: StoreCheck


class HealthBody(ResponseModel):
    """``GET /health``: 200 when every check passes, 503 with the same body otherwise."""

    status: Literal["ok", "degraded", "down"]
    version: str
    stage: str
    checks: HealthChecks


class StatusBody(ResponseModel):
    """``GET /status``."""

    instance: str
    state: str = Field(examples=["open", "connecting", "close"])
    connected: bool


class ConnectPending(ResponseModel):
    """``POST /connect`` while pairing: scan ``qr_code`` or type ``pairing_code`` on the phone;
    ``state`` is ``close`` when Evolution reports the session closed (no QR then)."""

    instance: str
    state: Literal["connecting", "close"]
    qr_code: str | None = Field(description="data:image/png;base64,…; null until Evolution has a QR.")
    pairing_code: str | None
    code: str | None
    attempt: int
    qr_status: Literal["ready", "pending", "unavailable"] = Field(
        description="ready: a QR (or pairing code) to use now; pending: Evolution has none yet, call again; "
        "unavailable: Evolution reports the session closed."
    )
    reason: str = Field(description="What to do now, in one or two sentences.")


class ConnectOpen(ResponseModel):
    """``POST /connect`` when the session is already open."""

    instance: str
    state: Literal["open"]
    connected: Literal[True]


class ConnectBody(RootModel[Annotated[ConnectPending | ConnectOpen, Field(discriminator="state")]]):
    """``POST /connect``: still pairing, or already connected."""


class DisconnectBody(ResponseModel):
    """``POST /disconnect`` (idempotent)."""

    instance: str
    state: Literal["close"]
    disconnected: Literal[True]
    was_connected: bool


# -- templates -------------------------------------------------------------------------------------


class TemplateVariableOut(ResponseModel):
    required: bool
    max_length: int
    example: str


class MetaMappingOut(OpenModel):
    """How the template maps to an approved Meta template (Cloud-API instances)."""

    name: str
    languages: dict[str, str]
    body_parameters: list[str]


class TemplateOut(ResponseModel):
    """``GET /templates/{name}``."""

    name: str
    description: str
    languages: list[str] = Field(description="The default language first.")
    variables: dict[str, TemplateVariableOut]
    meta: MetaMappingOut | None


class TemplateList(ResponseModel):
    """``GET /templates``."""

    templates: list[TemplateOut]


class PreviewOut(ResponseModel):
    """``POST /templates/{name}/preview``: the text that would be sent, and the language used."""

    text: str
    language: str


# -- webhooks --------------------------------------------------------------------------------------


class WebhookAnswer(ResponseModel):
    """``POST /webhook``: the event is durably recorded (or deliberately ignored)."""

    received: Literal[True]
    event: str
    duplicate: bool | Omitted = None
    ignored: Literal[True] | Omitted = None
