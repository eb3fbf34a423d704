"""Response bodies of ``/event-destinations`` (for the OpenAPI document and its conformance tests)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from chalicelib.events.types import EventType
from chalicelib.models.responses import Omitted, ResponseModel


class DestinationOut(ResponseModel):
    """An event destination (never its secret)."""

    id: str = Field(pattern=r"^dst_[0-9A-Z]{26}$")
    url: str | Omitted = None
    eventbridge_bus: str | Omitted = None
    events: list[EventType] | None = Field(description="The event types it receives; null: every type.")
    description: str | None
    enabled: bool = Field(description="False once the destination answered 410 Gone.")
    disabled_reason: str | Omitted = None
    created_at: str


class DestinationCreated(DestinationOut):
    """A new destination; ``secret`` (for URL destinations) is shown in this answer only."""

    secret: str | Omitted = Field(default=None, pattern=r"^whsec_[A-Za-z0-9+/]{43}=$")


class DestinationList(ResponseModel):
    items: list[DestinationOut]


class DeliveryOut(ResponseModel):
    """One event on its way to one destination."""

    event_id: str
    type: EventType
    status: Literal["pending", "delivered", "failed"]
    attempts: int = Field(ge=0, description="Every attempt, the successful one included.")
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: str | None
    delivered_at: str | None


class DeliveryPage(ResponseModel):
    items: list[DeliveryOut]
    next: str | None


class Queued(ResponseModel):
    """How many deliveries were queued (and, for a test ping, its event id)."""

    queued: int = Field(ge=0)
    event_id: str | Omitted = None


class DeliveriesQuery(BaseModel):
    """The query parameters of ``GET /event-destinations/{id}/deliveries``."""

    status: Literal["pending", "delivered", "failed"] | None = Field(default=None, description="Only these.")
    after: str | None = Field(default=None, min_length=1, max_length=512, description="The `next` cursor.")
    limit: int = Field(default=20, ge=1, le=100, description="Page size.")
