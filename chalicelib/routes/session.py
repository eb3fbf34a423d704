"""Routes for the WhatsApp session and health: /health, /status, /connect, /disconnect."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response

from chalicelib.deps import get_evolution, get_store
from chalicelib.models.api import ConnectRequest
from chalicelib.routes._http import api_view, json_response, parse_model, read_json
from chalicelib.routes.auth import api_key_auth
from chalicelib.settings import get_settings

bp = Blueprint(__name__)


def _instances() -> Any:
    from chalicelib.services.instances import InstanceService  # noqa: PLC0415

    return InstanceService(evolution=get_evolution(), settings=get_settings(), store=get_store())


def health_service() -> Any:
    from chalicelib.services.health import HealthService  # noqa: PLC0415

    return HealthService(evolution=get_evolution(), store=get_store(), settings=get_settings())


@bp.route("/health", methods=["GET"])
@api_view
def health() -> Response:
    report = health_service().check()
    return json_response(report.body, 200 if report.ok else 503, {"Cache-Control": "no-store"})


@bp.route("/status", methods=["GET"], authorizer=api_key_auth)
@api_view
def status() -> dict[str, Any]:
    result: dict[str, Any] = _instances().status()
    return result


@bp.route("/connect", methods=["POST"], authorizer=api_key_auth)
@api_view
def connect() -> dict[str, Any]:
    body = parse_model(ConnectRequest, read_json(bp.current_request.raw_body, required=False))
    result: dict[str, Any] = _instances().connect(body.phone)
    return result


@bp.route("/disconnect", methods=["POST"], authorizer=api_key_auth)
@api_view
def disconnect() -> dict[str, Any]:
    read_json(bp.current_request.raw_body, required=False)
    result: dict[str, Any] = _instances().disconnect()
    return result
