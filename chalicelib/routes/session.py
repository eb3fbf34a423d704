"""Routes for the WhatsApp session and health: /health, /status, /connect, /disconnect."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib import errors
from chalicelib.deps import health_service, instance_service
from chalicelib.models.api import ConnectRequest
from chalicelib.openapi import Operation, documented
from chalicelib.openapi.operation import UPSTREAM_ERRORS
from chalicelib.routes._http import api_view, json_response, parse_model, read_json
from chalicelib.routes.auth import api_key_auth

bp = Blueprint(__name__)


@bp.route("/health", methods=["GET"])
@documented(
    Operation(
        "Health of Evolution, the WhatsApp session and the store",
        "session",
        {200: "responses.HealthBody", 503: "responses.HealthBody"},
        description="200 when every check passes, 503 otherwise, with the same body.",
    )
)
@api_view
def health() -> Response:
    report = health_service().check()
    return json_response(report.body, 200 if report.ok else 503, {"Cache-Control": "no-store"})


@bp.route("/status", methods=["GET"], authorizer=api_key_auth)
@documented(
    Operation("The WhatsApp session's state", "session", {200: "responses.StatusBody"}, UPSTREAM_ERRORS)
)
@api_view
def status() -> dict[str, Any]:
    return instance_service().status()


@bp.route("/connect", methods=["POST"], authorizer=api_key_auth)
@documented(
    Operation(
        "Create the instance if needed and start pairing (QR, or a pairing code for `phone`)",
        "session",
        {200: "responses.ConnectBody"},
        (errors.BadRequestError, errors.ValidationError, *UPSTREAM_ERRORS),
        request=ConnectRequest,
        body_required=False,
    )
)
@api_view
def connect() -> dict[str, Any]:
    body = parse_model(ConnectRequest, read_json(bp.current_request.raw_body, required=False))
    return instance_service().connect(body.phone)


@bp.route("/disconnect", methods=["POST"], authorizer=api_key_auth)
@documented(
    Operation(
        "Log the WhatsApp session out (idempotent)",
        "session",
        {200: "responses.DisconnectBody"},
        (errors.BadRequestError, *UPSTREAM_ERRORS),
    )
)
@api_view
def disconnect() -> dict[str, Any]:
    read_json(bp.current_request.raw_body, required=False)
    return instance_service().disconnect()
