"""Wiring only: the Chalice app, its blueprints, the request middleware and the scheduled job."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from chalice.app import Chalice, Cron, Rate, Request, Response, SQSEvent

from chalicelib import deps
from chalicelib.jobs.names import jobs_queue_name
from chalicelib.logs import get_logger, request_id_var
from chalicelib.media.sniff import BINARY_MEDIA_TYPES
from chalicelib.routes import (
    auth,
    broadcasts,
    docs,
    events,
    gate,
    media,
    messages,
    qr,
    session,
    templates,
    webhooks,
)
from chalicelib.settings import stage_name

app = Chalice(app_name="whatsapp-evolution")
app.register_blueprint(auth.bp)
app.register_blueprint(session.bp)
app.register_blueprint(messages.bp)
app.register_blueprint(webhooks.bp)
app.register_blueprint(templates.bp)
app.register_blueprint(qr.bp)
app.register_blueprint(docs.bp)
app.register_blueprint(events.bp)
app.register_blueprint(broadcasts.bp)
app.register_blueprint(media.bp)
# Media files are served as bytes (locally, by signed link): API Gateway and chalice local pass a
# body through unencoded only for the types listed here.
app.api.binary_types.extend(BINARY_MEDIA_TYPES)

_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@app.middleware("http")
def request_context(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """Give every request an id (echoing a sane ``X-Request-Id``), refuse it while the service is
    misconfigured (503) or its key unverified, and log one line for it."""
    incoming = event.headers.get("x-request-id", "")
    request_id = incoming if _SANE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
    log = get_logger()  # first, so the view's own log lines are already routed
    events.start_local_worker()  # SQLite only: queued jobs run in this process, started on first use
    token = request_id_var.set(request_id)
    started = time.perf_counter()
    try:
        response = gate.refusal(event) or get_response(event)
    finally:
        request_id_var.reset(token)
    response.headers["X-Request-Id"] = request_id
    log.info(
        "request",
        request_id=request_id,
        method=event.method,
        route=event.context.get("resourcePath"),
        status=response.status_code,
        duration_ms=round((time.perf_counter() - started) * 1000, 2),
    )
    return response


@app.schedule(Cron("0/5", "*", "*", "*", "?", "*"), name="health_check")
def health_check(event: Any) -> dict[str, Any]:
    """Every 5 minutes: the /health checks, EMF metrics, an alert when the session leaves open."""
    get_logger()
    return deps.health_service().run_scheduled()


@app.on_sqs_message(queue=jobs_queue_name(stage_name()), batch_size=10, name="jobs_worker")
def jobs_worker(event: SQSEvent) -> dict[str, Any]:
    """Background jobs (event deliveries, ...) from the stage's SQS queue; partial batch failures."""
    get_logger()
    from chalicelib.background import consume_sqs  # noqa: PLC0415

    return consume_sqs(event.to_dict())


@app.schedule(Rate(1, unit=Rate.MINUTES), name="events_sweep")
def events_sweep(event: Any) -> dict[str, int]:
    """Every minute: relay outbox events and re-queue overdue deliveries (lost between two writes)."""
    get_logger()
    from chalicelib.background import run_scheduled_sweep  # noqa: PLC0415

    return run_scheduled_sweep()
