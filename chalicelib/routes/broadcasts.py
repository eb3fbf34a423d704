"""Routes for broadcasts (create, list, read, recipients, pause / resume / cancel, the progress
page) and the suppression list."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from chalice.app import Blueprint, Response

from chalicelib import errors
from chalicelib.deps import broadcast_service, consent_service, on_reset
from chalicelib.openapi import Operation, documented
from chalicelib.openapi.operation import HTML
from chalicelib.routes._http import api_view, json_response, parse_model, parse_query, read_json
from chalicelib.routes.auth import api_key_auth
from chalicelib.routes.qr import page_headers

bp = Blueprint(__name__)

PAGE = Path(__file__).resolve().parents[1] / "static" / "broadcast.html"
MAX_BODY_BYTES = 4 * 1024 * 1024  # 10,000 recipients with a few variables each fit comfortably
SUPPRESSION_BODY_BYTES = 4 * 1024
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_ID = re.compile(r"^bc_[0-9A-Z]{26}$")
STEER_ERRORS = (errors.NotFoundError, errors.ConflictError, errors.StoreUnavailableError)


def _body(limit: int) -> Any:
    return read_json(bp.current_request.raw_body, max_bytes=limit)


def _idempotency_key() -> str | None:
    key: str | None = bp.current_request.headers.get("idempotency-key")
    if key is not None and not _IDEMPOTENCY_KEY.match(key):
        raise errors.ValidationError(
            "Idempotency-Key must be 1 to 255 printable characters without spaces.",
            details=[{"loc": ["header", "Idempotency-Key"], "msg": "1-255 printable ASCII characters"}],
        )
    return key


def _known(broadcast_id: str) -> str:
    if not _ID.match(broadcast_id):
        raise errors.NotFoundError("No broadcast with this id.")
    return broadcast_id


@bp.route("/broadcasts", methods=["POST"], authorizer=api_key_auth)
@documented(
    Operation(
        "Send one message to many recipients, paced",
        "broadcasts",
        {202: "broadcast_responses.BroadcastOut"},
        (
            errors.BadRequestError,
            errors.ValidationError,
            errors.NotFoundError,
            errors.IdempotencyKeyInUseError,
            errors.TemplateError,
            errors.IdempotencyKeyReusedError,
            errors.StoreUnavailableError,
        ),
        request="broadcasts.CreateBroadcast",
        idempotent=True,
        max_body_bytes=MAX_BODY_BYTES,
        description="Every recipient is checked up front; a bad one is `skipped` with its reason.",
    )
)
@api_view
def create_broadcast() -> Response:
    from chalicelib.models.broadcasts import CreateBroadcast  # noqa: PLC0415
    from chalicelib.services.messages import request_fingerprint  # noqa: PLC0415

    key = _idempotency_key()
    data = _body(MAX_BODY_BYTES)
    request = parse_model(CreateBroadcast, data)
    body, headers = broadcast_service().create_once(
        request, idempotency_key=key, fingerprint=request_fingerprint("/broadcasts", data)
    )
    return json_response(body, 202, headers)


@bp.route("/broadcasts", methods=["GET"], authorizer=api_key_auth)
@documented(
    Operation(
        "Broadcasts, newest first",
        "broadcasts",
        {200: "broadcast_responses.BroadcastList"},
        (errors.ValidationError,),
        query="broadcast_responses.PageQuery",
    )
)
@api_view
def list_broadcasts() -> dict[str, Any]:
    from chalicelib.models.broadcast_responses import PageQuery  # noqa: PLC0415

    query = parse_query(PageQuery, bp.current_request.query_params)
    return broadcast_service().list(after=query.after, limit=query.limit)


@bp.route("/broadcasts/{broadcast_id}", methods=["GET"], authorizer=api_key_auth)
@documented(
    Operation(
        "One broadcast: status, counts, ETA",
        "broadcasts",
        {200: "broadcast_responses.BroadcastOut"},
        (errors.NotFoundError,),
    )
)
@api_view
def get_broadcast(broadcast_id: str) -> dict[str, Any]:
    return broadcast_service().get(_known(broadcast_id))


@bp.route("/broadcasts/{broadcast_id}/recipients", methods=["GET"], authorizer=api_key_auth)
@documented(
    Operation(
        "A broadcast's recipients by index, with their status and reason",
        "broadcasts",
        {200: "broadcast_responses.RecipientPage"},
        (errors.ValidationError, errors.NotFoundError),
        query="broadcast_responses.RecipientsQuery",
    )
)
@api_view
def list_recipients(broadcast_id: str) -> dict[str, Any]:
    from chalicelib.models.broadcast_responses import RecipientsQuery  # noqa: PLC0415

    query = parse_query(RecipientsQuery, bp.current_request.query_params)
    return broadcast_service().recipients(
        _known(broadcast_id), status=query.status, after=query.after, limit=query.limit
    )


def _steer(summary: str) -> Operation:
    return Operation(
        summary, "broadcasts", {200: "broadcast_responses.BroadcastOut"}, STEER_ERRORS, body_required=False
    )


@bp.route("/broadcasts/{broadcast_id}/pause", methods=["POST"], authorizer=api_key_auth)
@documented(_steer("Pause a scheduled or running broadcast"))
@api_view
def pause_broadcast(broadcast_id: str) -> dict[str, Any]:
    return broadcast_service().pause(_known(broadcast_id))


@bp.route("/broadcasts/{broadcast_id}/resume", methods=["POST"], authorizer=api_key_auth)
@documented(_steer("Resume a paused broadcast"))
@api_view
def resume_broadcast(broadcast_id: str) -> dict[str, Any]:
    return broadcast_service().resume(_known(broadcast_id))


@bp.route("/broadcasts/{broadcast_id}/cancel", methods=["POST"], authorizer=api_key_auth)
@documented(_steer("Cancel a broadcast that has not finished"))
@api_view
def cancel_broadcast(broadcast_id: str) -> dict[str, Any]:
    return broadcast_service().cancel(_known(broadcast_id))


@cache
def page() -> tuple[str, dict[str, str]]:
    """The progress page and its headers, read and hashed once per process."""
    html = PAGE.read_text(encoding="utf-8")
    return html, page_headers(html)


on_reset(page.cache_clear)


@bp.route("/broadcasts/{broadcast_id}/view", methods=["GET"])
@documented(
    Operation(
        "A page a person follows a broadcast on (public; holds no secret)",
        "broadcasts",
        {200: None},
        media_type=HTML,
    )
)
@api_view
def view_broadcast(broadcast_id: str) -> Response:
    html, headers = page()
    return Response(body=html, status_code=200, headers=dict(headers))


# -- consent ---------------------------------------------------------------------------------------


def _number(to: str) -> str:
    from chalicelib.services.recipients import normalize_recipient  # noqa: PLC0415
    from chalicelib.settings import get_settings  # noqa: PLC0415

    value = unquote(to).strip()
    if value.isdigit():
        value = "+" + value
    recipient = normalize_recipient(value, get_settings().DEFAULT_COUNTRY)
    if not recipient.to.startswith("+"):
        raise errors.ValidationError(
            "to: a phone number.", details=[{"loc": ["to"], "msg": "a phone number"}]
        )
    return recipient.to


@bp.route("/suppressions", methods=["GET"], authorizer=api_key_auth)
@documented(
    Operation(
        "Suppressed numbers, newest first",
        "consent",
        {200: "broadcast_responses.SuppressionPage"},
        (errors.ValidationError,),
        query="broadcast_responses.PageQuery",
    )
)
@api_view
def list_suppressions() -> dict[str, Any]:
    from chalicelib.models.broadcast_responses import PageQuery  # noqa: PLC0415

    query = parse_query(PageQuery, bp.current_request.query_params)
    return consent_service().list(after=query.after, limit=query.limit)


@bp.route("/suppressions", methods=["POST"], authorizer=api_key_auth)
@documented(
    Operation(
        "Suppress a number by hand (reason manual)",
        "consent",
        {201: "broadcast_responses.SuppressionOut"},
        (errors.BadRequestError, errors.ValidationError, errors.StoreUnavailableError),
        request="broadcasts.CreateSuppression",
        max_body_bytes=SUPPRESSION_BODY_BYTES,
    )
)
@api_view
def create_suppression() -> Response:
    from chalicelib.models.broadcasts import CreateSuppression  # noqa: PLC0415

    request = parse_model(CreateSuppression, _body(SUPPRESSION_BODY_BYTES))
    body, _ = consent_service().add(_number(request.to), request.note)
    return json_response(body, 201)


@bp.route("/suppressions/{to}", methods=["DELETE"], authorizer=api_key_auth)
@documented(
    Operation("Lift a suppression", "consent", {204: None}, (errors.ValidationError, errors.NotFoundError))
)
@api_view
def delete_suppression(to: str) -> Response:
    consent_service().remove(_number(to))
    return Response(body="", status_code=204)
