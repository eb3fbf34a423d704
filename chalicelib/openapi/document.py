"""The OpenAPI 3.1 document, generated from the routes, the pydantic models and the error tree.

Each route of ``app.routes`` carries its :class:`~chalicelib.openapi.operation.Operation` on its
view (its request and response models, the errors it may answer); schemas come from the models,
status codes and their descriptions from :mod:`chalicelib.errors`. A route without one is still
listed, marked ``x-undocumented`` (the tests fail on it), so serving the document never breaks on
a new route. Imported lazily by ``GET /openapi.json`` and ``make openapi``; it never imports chalice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from chalicelib import __version__, errors, limits
from chalicelib.models import responses
from chalicelib.openapi.operation import HTML, JSON, Operation, operation_of
from chalicelib.openapi.schemas import Schemas, first_line, resolve
from chalicelib.services.webhook_auth import LEEWAY_SECONDS, MAX_LIFETIME_SECONDS

OPENAPI_VERSION = "3.1.0"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})


class RouteEntry(Protocol):
    """What the generator reads of a chalice ``RouteEntry``."""

    @property
    def view_name(self) -> str: ...

    @property
    def view_args(self) -> Sequence[str]: ...

    @property
    def authorizer(self) -> object | None: ...

    @property
    def view_function(self) -> object: ...


class _FrameworkError(errors.ServiceError):
    """Chalice's own answer when the Content-Type is not application/json."""

    code = "UnsupportedMediaType"
    status = 415


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
        "description": (
            'HS256 with the webhook secret; claims app="evolution", action="webhook", iat (not in the '
            f"future) and exp (not past, at most {MAX_LIFETIME_SECONDS // 60} minutes after iat; "
            f"Evolution's last 10), {LEEWAY_SECONDS} s leeway."
        ),
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
    "media_id": {"type": "string", "minLength": 1, "maxLength": 64},
    "broadcast_id": {"type": "string", "pattern": "^bc_[0-9A-Z]{26}$"},
    "to": {"type": "string", "minLength": 1, "maxLength": 64, "examples": ["+5511999999999"]},
}


def build_document(routes: Mapping[str, Mapping[str, RouteEntry]]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes`` (``app.routes``)."""
    schemas = Schemas()
    paths: dict[str, dict[str, Any]] = {}
    for path in sorted(routes):
        for method in sorted(routes[path]):
            if method == "OPTIONS":
                continue
            entry = routes[path][method]
            operation = operation_of(entry.view_function)
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
                f"shape `{{Code, Message, Details?}}` (`Message` at most {limits.MAX_MESSAGE_CHARS:,} "
                f"characters, `Details` at most {limits.MAX_DETAILS} entries and a last `and N more "
                f"problems`, each `loc` part at most {limits.MAX_LOC_PART_CHARS} and each `msg` at most "
                f"{limits.MAX_DETAIL_MSG_CHARS} characters); every response carries `X-Request-Id`."
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


def _operation(method: str, path: str, entry: RouteEntry, op: Operation, schemas: Schemas) -> dict[str, Any]:
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
            "description": (
                f"JSON of at most {op.max_body_bytes:,} bytes, nested at most {limits.MAX_JSON_DEPTH} "
                "levels deep; larger is a 400 ValidationError, deeper or non-finite numbers a 400 "
                "BadRequestError."
            ),
            "content": {JSON: {"schema": schemas.ref(resolve(op.request), "validation")}},
        }
    if not result["parameters"]:
        del result["parameters"]
    return result


def _undocumented(entry: RouteEntry) -> dict[str, Any]:
    return {
        "operationId": entry.view_name,
        "x-undocumented": True,
        "responses": {"default": {"description": "Not documented yet: give the view an Operation."}},
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
        schema = resolve(op.query).model_json_schema()
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


def _responses(method: str, op: Operation, schemas: Schemas, *, authorized: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status, ref in op.responses.items():
        model = resolve(ref) if ref is not None else None
        body_schema = schemas.ref(model, "serialization") if model is not None else _free_form(op.media_type)
        out[str(status)] = {
            "description": first_line(model.__doc__) if model is not None else op.summary,
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
        described = " ".join(f"`{c.code}`: {first_line(c.__doc__)}." for c in classes)
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
    if media_type == JSON:
        return {"type": "object"}
    if media_type == HTML:
        return {"type": "string"}
    return {"type": "string", "contentMediaType": media_type}  # a file
