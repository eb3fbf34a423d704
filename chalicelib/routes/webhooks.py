"""Routes Evolution calls: ``POST /webhook`` and ``POST /webhook/{event}`` (``byEvents`` suffixes)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalice.app import Blueprint

from chalicelib import errors, limits
from chalicelib.deps import webhook_service
from chalicelib.openapi import Operation, documented
from chalicelib.openapi.operation import WEBHOOK_ERRORS
from chalicelib.routes._http import api_view, read_json
from chalicelib.settings import get_settings

bp = Blueprint(__name__)
_FINAL = "401 and 400 are final (Evolution does not retry them); 503 is retried."


def _handle() -> dict[str, Any]:
    from chalicelib.services.webhook_auth import authenticate  # noqa: PLC0415
    from chalicelib.services.webhooks import parse_envelope  # noqa: PLC0415

    request = bp.current_request
    secret = get_settings().WEBHOOK_SECRET.get_secret_value()
    if authenticate(request.headers, dict(request.query_params or {}), secret) is None:
        raise errors.UnauthorizedError("Missing or wrong webhook secret.")
    body = read_json(request.raw_body, max_bytes=limits.WEBHOOK_BODY_BYTES)
    event = parse_envelope(body, received_at=datetime.now(UTC))
    answer = webhook_service().handle(event)
    if not (answer.get("duplicate") or answer.get("ignored")):
        from chalicelib.background import kick  # noqa: PLC0415

        kick()  # the change's events are in the outbox: relay them now
    return answer


@bp.route("/webhook", methods=["POST"])
@documented(
    Operation(
        "Evolution delivers an event",
        "webhooks",
        {200: "responses.WebhookAnswer"},
        WEBHOOK_ERRORS,
        request="webhook.WireEnvelope",
        webhook=True,
        description=_FINAL,
        max_body_bytes=limits.WEBHOOK_BODY_BYTES,
    )
)
@api_view
def webhook() -> dict[str, Any]:
    return _handle()


@bp.route("/webhook/{event}", methods=["POST"])
@documented(
    Operation(
        "Evolution delivers an event (webhook_by_events URL)",
        "webhooks",
        {200: "responses.WebhookAnswer"},
        WEBHOOK_ERRORS,
        request="webhook.WireEnvelope",
        webhook=True,
        description=_FINAL,
        max_body_bytes=limits.WEBHOOK_BODY_BYTES,
    )
)
@api_view
def webhook_by_event(event: str) -> dict[str, Any]:
    return _handle()
