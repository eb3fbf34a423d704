"""Routes for event destinations: ``/event-destinations`` CRUD, ``test``, ``deliveries``, ``replay``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, Response

from chalicelib import errors
from chalicelib.openapi import Operation, documented
from chalicelib.routes._http import api_view, json_response, parse_model, read_json
from chalicelib.routes.auth import api_key_auth

if TYPE_CHECKING:
    from chalicelib.services.events import EventService

bp = Blueprint(__name__)
logger = logging.getLogger(__name__)


def _service() -> EventService:
    from chalicelib.background import get_dispatcher  # noqa: PLC0415
    from chalicelib.deps import get_store  # noqa: PLC0415
    from chalicelib.services.events import EventService  # noqa: PLC0415
    from chalicelib.settings import get_settings  # noqa: PLC0415

    return EventService(store=get_store(), dispatcher=get_dispatcher(), settings=get_settings())


def _body(*, required: bool = True) -> Any:
    """The JSON body: at most ``limits.SMALL_BODY_BYTES`` (64 KB), as the document says."""
    return read_json(bp.current_request.raw_body, required=required)


def _no_query(allowed: frozenset[str] = frozenset()) -> dict[str, str]:
    params: dict[str, str] = dict(bp.current_request.query_params or {})
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise errors.ValidationError(
            "The query parameters are not valid.",
            details=[{"loc": ["query", name], "msg": "unknown parameter"} for name in unknown],
        )
    return params


@bp.route("/event-destinations", methods=["POST"], authorizer=api_key_auth)
@documented(
    Operation(
        "Register where events are pushed (an https URL or an EventBridge bus)",
        "events",
        {201: "event_responses.DestinationCreated"},
        (errors.BadRequestError, errors.ValidationError, errors.StoreUnavailableError),
        request="events.CreateDestination",
        description="The `secret` (whsec_…) is shown only in this answer.",
    )
)
@api_view
def create_destination() -> Response:
    from chalicelib.models.events import CreateDestination  # noqa: PLC0415

    request = parse_model(CreateDestination, _body())
    return json_response(_service().create(request), 201)


@bp.route("/event-destinations", methods=["GET"], authorizer=api_key_auth)
@documented(
    Operation(
        "The event destinations",
        "events",
        {200: "event_responses.DestinationList"},
        (errors.ValidationError,),
    )
)
@api_view
def list_destinations() -> dict[str, Any]:
    _no_query()
    return _service().list()


@bp.route("/event-destinations/{destination_id}", methods=["GET"], authorizer=api_key_auth)
@documented(
    Operation(
        "One event destination", "events", {200: "event_responses.DestinationOut"}, (errors.NotFoundError,)
    )
)
@api_view
def get_destination(destination_id: str) -> dict[str, Any]:
    return _service().get(destination_id)


@bp.route("/event-destinations/{destination_id}", methods=["DELETE"], authorizer=api_key_auth)
@documented(Operation("Delete an event destination", "events", {204: None}, (errors.NotFoundError,)))
@api_view
def delete_destination(destination_id: str) -> Response:
    _service().delete(destination_id)
    return Response(body="", status_code=204)


@bp.route("/event-destinations/{destination_id}/test", methods=["POST"], authorizer=api_key_auth)
@documented(
    Operation(
        "Deliver a ping event to this destination",
        "events",
        {202: "event_responses.Queued"},
        (errors.BadRequestError, errors.NotFoundError),
        body_required=False,
    )
)
@api_view
def test_destination(destination_id: str) -> Response:
    _body(required=False)
    return json_response(_service().test(destination_id), 202)


@bp.route("/event-destinations/{destination_id}/deliveries", methods=["GET"], authorizer=api_key_auth)
@documented(
    Operation(
        "The deliveries to this destination, newest event first",
        "events",
        {200: "event_responses.DeliveryPage"},
        (errors.ValidationError, errors.NotFoundError),
        query="event_responses.DeliveriesQuery",
    )
)
@api_view
def list_deliveries(destination_id: str) -> dict[str, Any]:
    from chalicelib.services.events import DELIVERY_STATUSES  # noqa: PLC0415

    params = _no_query(frozenset({"status", "after", "limit"}))
    details: list[dict[str, Any]] = []
    status = params.get("status")
    if status is not None and status not in DELIVERY_STATUSES:
        details.append({"loc": ["query", "status"], "msg": "must be one of " + ", ".join(DELIVERY_STATUSES)})
    raw_limit = params.get("limit", "20")
    limit = int(raw_limit) if raw_limit.isdigit() and len(raw_limit) <= 3 else 0
    if not 1 <= limit <= 100:
        details.append({"loc": ["query", "limit"], "msg": "must be a whole number from 1 to 100"})
    after = params.get("after")
    if after is not None and not 1 <= len(after) <= 512:
        details.append({"loc": ["query", "after"], "msg": "invalid cursor"})
    if details:
        raise errors.ValidationError("The query parameters are not valid.", details=details)
    return _service().deliveries(destination_id, status=status, after=after, limit=limit)


@bp.route("/event-destinations/{destination_id}/replay", methods=["POST"], authorizer=api_key_auth)
@documented(
    Operation(
        "Deliver events again (same ids): some by id, or all since a time",
        "events",
        {202: "event_responses.Queued"},
        (errors.BadRequestError, errors.ValidationError, errors.NotFoundError),
        request="events.ReplayRequest",
    )
)
@api_view
def replay(destination_id: str) -> Response:
    from chalicelib.models.events import ReplayRequest  # noqa: PLC0415

    request = parse_model(ReplayRequest, _body())
    return json_response(_service().replay(destination_id, request), 202)


def start_local_worker() -> None:
    """Start the local job worker on first use (a no-op when deployed or already running)."""
    from chalicelib.background import ensure_local_worker  # noqa: PLC0415

    try:
        ensure_local_worker()
    except Exception:  # a broken setting: the view answers for it; queued work waits
        logger.exception("the local job worker could not start")
