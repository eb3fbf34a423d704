"""The OpenAPI 3.1 document, generated from the route table, the pydantic models and the error tree.

Each route of ``app.routes`` is looked up in :data:`OPERATIONS` (its request and response models,
the errors it may answer); schemas come from the models, status codes and their descriptions from
:mod:`chalicelib.errors`. A route missing from the table is still listed, marked
``x-undocumented`` (the tests fail on it), so serving the document never breaks on a new route.
Imported lazily by ``GET /openapi.json`` and ``make openapi``; it never imports chalice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, Field
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from chalicelib import __version__, errors
from chalicelib.models import api, responses
from chalicelib.models.records import Direction, Status
from chalicelib.models.webhook import WireEnvelope

OPENAPI_VERSION = "3.1.0"
REF = "#/components/schemas/{model}"
JSON = "application/json"
HTML = "text/html"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})


class RouteEntry(Protocol):
    """What the generator reads of a chalice ``RouteEntry``."""

    @property
    def view_name(self) -> str: ...

    @property
    def view_args(self) -> Sequence[str]: ...

    @property
    def authorizer(self) -> object | None: ...


class ListMessagesQuery(BaseModel):
    """The query parameters of ``GET /messages`` (checked by hand in the route, documented from here)."""

    direction: Direction | None = Field(default=None, description="Only inbound or only outbound messages.")
    status: Status | None = Field(default=None, description="Only messages in this status.")
    after: str | None = Field(
        default=None, min_length=1, max_length=512, description="The `next` cursor of the previous page."
    )
    limit: int = Field(default=20, ge=1, le=100, description="Page size.")


class _FrameworkError(errors.ServiceError):
    """Chalice's own answer when the Content-Type is not application/json."""

    code = "UnsupportedMediaType"
    status = 415


_UPSTREAM: tuple[type[errors.ServiceError], ...] = (
    errors.InstanceNotFoundError,
    errors.RateLimitedError,
    errors.UpstreamError,
    errors.InstanceDisconnectedError,
    errors.UpstreamUnavailableError,
    errors.UpstreamTimeoutError,
)
_SEND: tuple[type[errors.ServiceError], ...] = (
    errors.BadRequestError,
    errors.ValidationError,
    errors.NotFoundError,
    errors.IdempotencyKeyInUseError,
    errors.RecipientNotOnWhatsAppError,
    errors.IdempotencyKeyReusedError,
    errors.StoreUnavailableError,
    *_UPSTREAM,
)
# Errors that always / sometimes carry Retry-After.
_RETRY_AFTER: frozenset[type[errors.ServiceError]] = frozenset(
    {
        errors.RateLimitedError,
        errors.InstanceDisconnectedError,
        errors.UpstreamUnavailableError,
        errors.IdempotencyKeyInUseError,
    }
)
# The statuses an Idempotency-Key keeps (and replays): an accepted send, a refused or uncertain one.
_REPLAYABLE = frozenset({201, 422, 502, 504})

# Cross-field rules the request models check in validators, stated for clients and generators.
_SCHEMA_RULES: dict[str, dict[str, Any]] = {
    "SendMessageRequest": {
        "oneOf": [{"required": [name]} for name in ("text", "media", "location", "reaction")],
    },
    "MediaIn": {"oneOf": [{"required": ["url"]}, {"required": ["base64"]}]},
}


@dataclass(frozen=True)
class Operation:
    """How one route is documented."""

    summary: str
    tag: str
    responses: Mapping[int, type[BaseModel] | None]  # bodies that are not errors (None: free-form)
    errors: tuple[type[errors.ServiceError], ...] = ()
    request: type[BaseModel] | None = None
    body_required: bool = True
    query: type[BaseModel] | None = None
    idempotent: bool = False  # takes Idempotency-Key, may answer Idempotent-Replayed
    webhook: bool = False  # authenticated by the webhook secret
    media_type: str = JSON
    description: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)  # extra documented response headers


LANGUAGE_FALLBACK = (
    "`language` is optional; without it the template's default language is used. A well-formed code "
    "(`es`, `es-MX`, `ES_mx`) picks that language's body, else its primary language's (`es_MX` → `es`), "
    "else **falls back to the template's default language without an error**: the answer's "
    "`template.language` (a send) or `language` (a preview) says which body was used. A malformed "
    "code is a 422 `TemplateError`."
)

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/health"): Operation(
        "Health of Evolution, the WhatsApp session and the store",
        "session",
        {200: responses.HealthBody, 503: responses.HealthBody},
        description="200 when every check passes, 503 otherwise, with the same body.",
    ),
    ("GET", "/status"): Operation(
        "The WhatsApp session's state", "session", {200: responses.StatusBody}, _UPSTREAM
    ),
    ("POST", "/connect"): Operation(
        "Create the instance if needed and start pairing (QR, or a pairing code for `phone`)",
        "session",
        {200: responses.ConnectBody},
        (errors.BadRequestError, errors.ValidationError, *_UPSTREAM),
        request=api.ConnectRequest,
        body_required=False,
    ),
    ("GET", "/connect/qr"): Operation(
        "A page a person links the WhatsApp session with", "session", {200: None}, media_type=HTML
    ),
    ("POST", "/disconnect"): Operation(
        "Log the WhatsApp session out (idempotent)",
        "session",
        {200: responses.DisconnectBody},
        (errors.BadRequestError, *_UPSTREAM),
    ),
    ("POST", "/messages"): Operation(
        "Send a text, media, location or reaction",
        "messages",
        {201: responses.MessageAccepted},
        _SEND,
        request=api.SendMessageRequest,
        idempotent=True,
    ),
    ("POST", "/messages/template"): Operation(
        "Render a template and send it",
        "messages",
        {201: responses.MessageAccepted},
        (*_SEND, errors.TemplateError, errors.TemplateNotSupportedError),
        request=api.SendTemplateRequest,
        idempotent=True,
        description=LANGUAGE_FALLBACK,
    ),
    ("GET", "/messages"): Operation(
        "List messages, newest first",
        "messages",
        {200: responses.MessagePage},
        (errors.ValidationError, errors.StoreUnavailableError),
        query=ListMessagesQuery,
    ),
    ("GET", "/messages/{message_id}"): Operation(
        "One message by its msg_ id or its WhatsApp message_id",
        "messages",
        {200: responses.MessageRecordOut},
        (errors.NotFoundError, errors.StoreUnavailableError),
    ),
    ("GET", "/templates"): Operation("List the templates", "templates", {200: responses.TemplateList}),
    ("GET", "/templates/{name}"): Operation(
        "One template", "templates", {200: responses.TemplateOut}, (errors.NotFoundError,)
    ),
    ("POST", "/templates/{name}/preview"): Operation(
        "Render a template without sending it",
        "templates",
        {200: responses.PreviewOut},
        (errors.BadRequestError, errors.ValidationError, errors.NotFoundError, errors.TemplateError),
        request=api.PreviewRequest,
        body_required=False,
        description=LANGUAGE_FALLBACK,
    ),
    ("POST", "/webhook"): Operation(
        "Evolution delivers an event",
        "webhooks",
        {200: responses.WebhookAnswer},
        (
            errors.BadRequestError,
            errors.ValidationError,
            errors.UnauthorizedError,
            errors.StoreUnavailableError,
        ),
        request=WireEnvelope,
        webhook=True,
        description="401 and 400 are final (Evolution does not retry them); 503 is retried.",
    ),
    ("POST", "/webhook/{event}"): Operation(
        "Evolution delivers an event (webhook_by_events URL)",
        "webhooks",
        {200: responses.WebhookAnswer},
        (
            errors.BadRequestError,
            errors.ValidationError,
            errors.UnauthorizedError,
            errors.StoreUnavailableError,
        ),
        request=WireEnvelope,
        webhook=True,
        description="401 and 400 are final (Evolution does not retry them); 503 is retried.",
    ),
    ("GET", "/openapi.json"): Operation("This document", "meta", {200: None}),
}

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "ApiKey": {"type": "http", "scheme": "bearer", "description": "`Authorization: Bearer <api key>`."},
    "WebhookSecret": {"type": "apiKey", "in": "header", "name": "X-Webhook-Secret"},
    "WebhookToken": {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "For Evolution's global webhook, which cannot send headers.",
    },
    "WebhookJwt": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": 'HS256 with the webhook secret; claims app="evolution", action="webhook", exp.',
    },
}
WEBHOOK_SECURITY: list[dict[str, list[str]]] = [
    {"WebhookSecret": []},
    {"WebhookToken": []},
    {"WebhookJwt": []},
]

HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-Id": {
        "description": "This request's id (a sane incoming X-Request-Id is echoed); quote it in reports.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 128},
    },
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "Idempotent-Replayed": {
        "description": "The stored answer to an earlier request with the same Idempotency-Key.",
        "schema": {"type": "string", "enum": ["true"]},
    },
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Send the same request twice, send the message once (keys are kept 24 hours).",
    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
}
PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "message_id": {"type": "string", "minLength": 1, "maxLength": 128},
    "name": {"type": "string", "minLength": 1, "maxLength": 64},
    "event": {"type": "string", "minLength": 1, "examples": ["messages-upsert"]},
}


def build_document(routes: Mapping[str, Mapping[str, RouteEntry]]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes`` (``app.routes``)."""
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    for path in sorted(routes):
        for method in sorted(routes[path]):
            if method == "OPTIONS":
                continue
            entry = routes[path][method]
            operation = OPERATIONS.get((method, path))
            item = paths.setdefault(path, {})
            item[method.lower()] = (
                _operation(method, path, entry, operation, schemas)
                if operation is not None
                else _undocumented(entry)
            )
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "WhatsApp gateway (Evolution API)",
            "version": __version__,
            "description": (
                "Send WhatsApp messages and read replies through Evolution API. Errors use Chalice's "
                "shape `{Code, Message, Details?}`; every response carries `X-Request-Id`."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": schemas.components(),
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


def render(document: Mapping[str, Any]) -> str:
    """The document as ``docs/openapi.json`` keeps it: sorted keys, indent 2, final newline."""
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def write(routes: Mapping[str, Mapping[str, RouteEntry]], path: Path) -> bool:
    """Write the document to ``path``; True when the file changed."""
    text = render(build_document(routes))
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


# -- one operation ---------------------------------------------------------------------------------


def _operation(method: str, path: str, entry: RouteEntry, op: Operation, schemas: _Schemas) -> dict[str, Any]:
    authorized = entry.authorizer is not None
    result: dict[str, Any] = {
        "operationId": entry.view_name,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": _parameters(entry, op),
        "responses": _responses(method, op, schemas, authorized=authorized),
    }
    if op.description:
        result["description"] = op.description
    if authorized:
        result["security"] = [{"ApiKey": []}]
    elif op.webhook:
        result["security"] = WEBHOOK_SECURITY
    else:
        result["security"] = []
    if op.request is not None:
        result["requestBody"] = {
            "required": op.body_required,
            "content": {JSON: {"schema": schemas.ref(op.request, "validation")}},
        }
    if not result["parameters"]:
        del result["parameters"]
    return result


def _undocumented(entry: RouteEntry) -> dict[str, Any]:
    return {
        "operationId": entry.view_name,
        "x-undocumented": True,
        "responses": {"default": {"description": "Not documented yet: add the route to OPERATIONS."}},
    }


def _parameters(entry: RouteEntry, op: Operation) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": dict(PATH_PARAMETERS.get(name, {"type": "string", "minLength": 1})),
        }
        for name in entry.view_args
    ]
    if op.query is not None:
        schema = op.query.model_json_schema()
        required = set(schema.get("required", ()))
        for name, prop in schema["properties"].items():
            param_schema = _not_null(prop)
            description = param_schema.pop("description", None)
            param_schema.pop("title", None)
            param: dict[str, Any] = {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": param_schema,
            }
            if description:
                param["description"] = description
            params.append(param)
    if op.idempotent:
        params.append(dict(IDEMPOTENCY_KEY))
    return params


def _not_null(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A query parameter's schema without pydantic's ``anyOf [..., null]`` (absent, never null)."""
    result = dict(schema)
    variants = result.pop("anyOf", None)
    if variants is not None:
        kept = [v for v in variants if v.get("type") != "null"]
        if len(kept) == 1:
            result = {**kept[0], **result}
        else:
            result["anyOf"] = kept
    if result.get("default") is None:
        result.pop("default", None)
    return result


def _responses(method: str, op: Operation, schemas: _Schemas, *, authorized: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status, model in op.responses.items():
        body_schema = schemas.ref(model, "serialization") if model is not None else _free_form(op.media_type)
        out[str(status)] = {
            "description": _first_line(model.__doc__) if model is not None else op.summary,
            "headers": _headers(status, op, ()),
            "content": {op.media_type: {"schema": body_schema}},
        }
    by_status: dict[int, list[type[errors.ServiceError]]] = {}
    error_classes: list[type[errors.ServiceError]] = [*op.errors, errors.ServiceMisconfiguredError]
    if method in WRITE_METHODS:  # Chalice refuses a non-JSON Content-Type before the view runs
        error_classes.append(_FrameworkError)
    for cls in error_classes:
        by_status.setdefault(cls.status, [])
        if cls not in by_status[cls.status]:
            by_status[cls.status].append(cls)
    error_ref = schemas.ref(responses.ErrorBody, "serialization")
    for status in sorted(by_status):
        classes = by_status[status]
        key = str(status)
        described = " ".join(f"`{c.code}`: {_first_line(c.__doc__)}." for c in classes)
        if key in out:  # a documented body for this status too (e.g. /health's 503)
            out[key]["description"] += " Or an error: " + described
            out[key]["content"][JSON]["schema"] = {"anyOf": [out[key]["content"][JSON]["schema"], error_ref]}
            continue
        out[key] = {
            "description": described,
            "headers": _headers(status, op, classes),
            "content": {JSON: {"schema": error_ref}},
        }
    if authorized:
        gateway = schemas.ref(responses.GatewayErrorBody, "serialization")
        out["401"] = {
            "description": "No Authorization header (API Gateway's own answer).",
            "content": {JSON: {"schema": gateway}},
        }
        out["403"] = {
            "description": "Authorization is not `Bearer <a valid api key>` (API Gateway's own answer).",
            "content": {JSON: {"schema": gateway}},
        }
    return dict(sorted(out.items()))


def _headers(status: int, op: Operation, classes: tuple[type[errors.ServiceError], ...] | list[Any]) -> Any:
    headers: dict[str, Any] = {"X-Request-Id": _header("X-Request-Id", required=True)}
    retrying = [c for c in classes if c in _RETRY_AFTER]
    if retrying:
        always = len(retrying) == len(classes) and errors.IdempotencyKeyInUseError not in retrying
        headers["Retry-After"] = _header("Retry-After", required=always)
    if op.idempotent and status in _REPLAYABLE:
        headers["Idempotent-Replayed"] = _header("Idempotent-Replayed", required=False)
    return headers


def _header(name: str, *, required: bool) -> dict[str, Any]:
    return {**HEADERS[name], "required": required}


def _free_form(media_type: str) -> dict[str, Any]:
    return {"type": "string"} if media_type == HTML else {"type": "object"}


def _first_line(text: str | None) -> str:
    """A docstring's first line, as Markdown without its final period."""
    line = text.strip().splitlines()[0] if text and text.strip() else ""
    return _markdown(line).rstrip(".")


def _markdown(text: str) -> str:
    return text.replace("``", "`")


def _markdown_descriptions(schema: Any) -> Any:
    """Docstrings become descriptions: turn their reST ````code```` into Markdown ```code```."""
    if isinstance(schema, dict):
        return {
            k: _markdown(v) if k == "description" and isinstance(v, str) else _markdown_descriptions(v)
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_markdown_descriptions(v) for v in schema]
    return schema


# -- schemas ---------------------------------------------------------------------------------------


class _Schemas:
    """Collects the models an operation refers to; :meth:`components` renders them all at once."""

    def __init__(self) -> None:
        self._models: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {}

    def ref(self, model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, Any]:
        self._models[(model, mode)] = None
        return {"$ref": REF.format(model=model.__name__)}

    def components(self) -> dict[str, Any]:
        keys = list(self._models)
        refs, top = models_json_schema(keys, ref_template=REF)
        defs: dict[str, Any] = dict(top.get("$defs", {}))
        for key, ref in refs.items():
            name = key[0].__name__
            if ref.get("$ref") != REF.format(model=name):
                raise ValueError(f"schema name clash for {name}: {ref}")
        for name, rule in _SCHEMA_RULES.items():
            if name in defs:
                defs[name] = {**defs[name], **rule}
        result: dict[str, Any] = _markdown_descriptions(dict(sorted(defs.items())))
        return result
