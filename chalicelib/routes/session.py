"""Routes for the WhatsApp session and health: /health, /status, /connect, /disconnect."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.deps import health_service, instance_service
from chalicelib.models.api import ConnectRequest
from chalicelib.routes._http import api_view, json_response, parse_model, read_json
from chalicelib.routes.auth import api_key_auth

bp = Blueprint(__name__)


@bp.route("/health", methods=["GET"])
@api_view
def health() -> Response:
    report = health_service().check()
    return json_response(report.body, 200 if report.ok else 503, {"Cache-Control": "no-store"})


@bp.route("/status", methods=["GET"], authorizer=api_key_auth)
@api_view
def status() -> dict[str, Any]:
    return instance_service().status()


@bp.route("/connect", methods=["POST"], authorizer=api_key_auth)
@api_view
def connect() -> dict[str, Any]:
    body = parse_model(ConnectRequest, read_json(bp.current_request.raw_body, required=False))
    return instance_service().connect(body.phone)


@bp.route("/disconnect", methods=["POST"], authorizer=api_key_auth)
@api_view
def disconnect() -> dict[str, Any]:
    read_json(bp.current_request.raw_body, required=False)
    return instance_service().disconnect()
