"""Routes for messages: send (plain and template), look one up, list them."""

from __future__ import annotations

import re
from typing import Any

from chalice.app import Blueprint, Response

from chalicelib import errors, limits
from chalicelib.deps import message_service
from chalicelib.models.api import ListMessagesQuery, SendMessageRequest, SendTemplateRequest
from chalicelib.openapi import Operation, documented
from chalicelib.openapi.operation import SEND_ERRORS
from chalicelib.routes._http import api_view, json_response, parse_model, parse_query, read_json
from chalicelib.routes.auth import api_key_auth
from chalicelib.routes.templates import LANGUAGE_FALLBACK
from chalicelib.settings import get_settings

bp = Blueprint(__name__)

MAX_REQUEST_BYTES = limits.SEND_BODY_BYTES  # Lambda's 6 MB payload limit, less the event's envelope
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
    return read_json(raw, max_bytes=limits.SEND_BODY_BYTES)


def _send(route: str, model: type[SendMessageRequest] | type[SendTemplateRequest]) -> Response:
    from chalicelib.services.media_urls import check_media_url  # noqa: PLC0415
    from chalicelib.services.messages import request_fingerprint  # noqa: PLC0415

    key = _idempotency_key()
    data = _body()
    request = parse_model(model, data)
    check_media_url(request, get_settings())
    outcome = message_service().deliver(
        request, idempotency_key=key, fingerprint=request_fingerprint(route, data)
    )
    return json_response(outcome.body, outcome.status, outcome.headers)


@bp.route("/messages", methods=["POST"], authorizer=api_key_auth)
@documented(
    Operation(
        "Send a text, media, location or reaction",
        "messages",
        {201: "responses.MessageAccepted"},
        SEND_ERRORS,
        request=SendMessageRequest,
        idempotent=True,
        max_body_bytes=limits.SEND_BODY_BYTES,
        description=(
            "`media.url` may not point at a loopback, private or link-local host (unless the operator "
            'allowlists it): 400 at `["media", "url"]`, before anything is claimed or sent. A '
            'reaction\'s `to` must name the chat of the message it reacts to (400 at `["to"]`). '
            "Coordinates are rounded to 7 decimals."
        ),
    )
)
@api_view
def send_message() -> Response:
    return _send("/messages", SendMessageRequest)


@bp.route("/messages/template", methods=["POST"], authorizer=api_key_auth)
@documented(
    Operation(
        "Render a template and send it",
        "messages",
        {201: "responses.MessageAccepted"},
        (*SEND_ERRORS, errors.TemplateError, errors.TemplateNotSupportedError),
        request=SendTemplateRequest,
        idempotent=True,
        max_body_bytes=limits.SEND_BODY_BYTES,
        description=LANGUAGE_FALLBACK,
    )
)
@api_view
def send_template() -> Response:
    return _send("/messages/template", SendTemplateRequest)


@bp.route("/messages/{message_id}", methods=["GET"], authorizer=api_key_auth)
@documented(
    Operation(
        "One message by its msg_ id or its WhatsApp message_id",
        "messages",
        {200: "responses.MessageRecordOut"},
        (errors.NotFoundError, errors.StoreUnavailableError),
    )
)
@api_view
def get_message(message_id: str) -> dict[str, Any]:
    if not 1 <= len(message_id) <= 128:
        raise errors.NotFoundError("No message with this id.")
    return message_service().get(message_id)


@bp.route("/messages", methods=["GET"], authorizer=api_key_auth)
@documented(
    Operation(
        "List messages, newest first",
        "messages",
        {200: "responses.MessagePage"},
        (errors.ValidationError, errors.StoreUnavailableError),
        query=ListMessagesQuery,
        description=(
            f"A page holds at most `limit` items and at most {limits.PAGE_BYTES // limits.MB} MB of JSON: "
            "it may hold fewer items than `limit`, with `next` continuing right after the last one."
        ),
    )
)
@api_view
def list_messages() -> dict[str, Any]:
    query = parse_query(ListMessagesQuery, bp.current_request.query_params)
    return message_service().list(
        direction=query.direction, status=query.status, after=query.after, limit=query.limit
    )
