"""Routes for messages: send (plain and template), look one up, list them."""

from __future__ import annotations

import re
from typing import Any

from chalice.app import Blueprint, Response

from chalicelib import errors
from chalicelib.deps import message_service
from chalicelib.models.api import SendMessageRequest, SendTemplateRequest
from chalicelib.models.records import STATUS_RANK
from chalicelib.routes._http import api_view, json_response, parse_model, read_json
from chalicelib.routes.auth import api_key_auth

bp = Blueprint(__name__)

MAX_REQUEST_BYTES = 6 * 1024 * 1024 - 64 * 1024  # Lambda's 6 MB payload limit, less the event's envelope
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def _idempotency_key() -> str | None:
    key: str | None = bp.current_request.headers.get("idempotency-key")
    if key is None:
        return None
    if not _IDEMPOTENCY_KEY.match(key):
        raise errors.ValidationError(
            "Idempotency-Key must be 1 to 255 printable characters without spaces.",
            details=[{"loc": ["header", "Idempotency-Key"], "msg": "1-255 printable ASCII characters"}],
        )
    return key


def _body() -> Any:
    raw = bp.current_request.raw_body
    if raw and len(raw) > MAX_REQUEST_BYTES:
        raise errors.ValidationError(
            "The request is larger than the 6 MB Lambda limit; send large media by url.",
            details=[{"loc": ["body"], "msg": "over 6 MB"}],
        )
    return read_json(raw)


def _send(route: str, model: type[SendMessageRequest] | type[SendTemplateRequest]) -> Response:
    from chalicelib.services.messages import request_fingerprint  # noqa: PLC0415

    key = _idempotency_key()
    data = _body()
    request = parse_model(model, data)
    outcome = message_service().deliver(
        request, idempotency_key=key, fingerprint=request_fingerprint(route, data)
    )
    return json_response(outcome.body, outcome.status, outcome.headers)


@bp.route("/messages", methods=["POST"], authorizer=api_key_auth)
@api_view
def send_message() -> Response:
    return _send("/messages", SendMessageRequest)


@bp.route("/messages/template", methods=["POST"], authorizer=api_key_auth)
@api_view
def send_template() -> Response:
    return _send("/messages/template", SendTemplateRequest)


@bp.route("/messages/{message_id}", methods=["GET"], authorizer=api_key_auth)
@api_view
def get_message(message_id: str) -> dict[str, Any]:
    if not 1 <= len(message_id) <= 128:
        raise errors.NotFoundError("No message with this id.")
    return message_service().get(message_id)


@bp.route("/messages", methods=["GET"], authorizer=api_key_auth)
@api_view
def list_messages() -> dict[str, Any]:
    params: dict[str, str] = dict(bp.current_request.query_params or {})
    details: list[dict[str, Any]] = []
    unknown = sorted(set(params) - {"direction", "status", "after", "limit"})
    details += [{"loc": ["query", name], "msg": "unknown parameter"} for name in unknown]
    direction = params.get("direction")
    if direction is not None and direction not in ("inbound", "outbound"):
        details.append({"loc": ["query", "direction"], "msg": "must be inbound or outbound"})
    status = params.get("status")
    if status is not None and status not in STATUS_RANK:
        details.append({"loc": ["query", "status"], "msg": "must be one of " + ", ".join(STATUS_RANK)})
    raw_limit = params.get("limit", "20")
    limit = int(raw_limit) if raw_limit.isdigit() else 0
    if not 1 <= limit <= 100:
        details.append({"loc": ["query", "limit"], "msg": "must be a whole number from 1 to 100"})
    after = params.get("after")
    if after is not None and not 1 <= len(after) <= 512:
        details.append({"loc": ["query", "after"], "msg": "invalid cursor"})
    if details:
        raise errors.ValidationError("The query parameters are not valid.", details=details)
    return message_service().list(direction=direction, status=status, after=after, limit=limit)
