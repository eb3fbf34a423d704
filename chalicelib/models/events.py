"""What the store keeps for pushed events: destinations and per-destination deliveries, and the
API's request bodies for them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chalicelib.events.types import BUS_ARN, EVENT_TYPES

DeliveryStatus = Literal["pending", "delivered", "failed"]
MAX_DESTINATIONS = 50
MAX_REPLAY_IDS = 100
MAX_REPLAY_EVENTS = 10_000


class Destination(BaseModel):
    """Where a client system wants events: an HTTP ``url`` or an EventBridge bus."""

    id: str
    instance: str
    url: str | None = None
    eventbridge_bus: str | None = None
    events: list[str] | None = None  # None: every type
    description: str | None = None
    enabled: bool = True
    disabled_reason: str | None = None
    salt: str  # the secret is derived from it (see chalicelib.events.signing); never shown
    created_at: str
    updated_at: str

    def public(self) -> dict[str, Any]:
        body = self.model_dump(exclude={"salt", "instance", "updated_at"})
        for name in ("url", "eventbridge_bus", "disabled_reason"):
            if body[name] is None:
                body.pop(name)
        return body


class Delivery(BaseModel):
    """One event on its way to one destination."""

    destination_id: str
    event_id: str
    type: str
    status: DeliveryStatus = "pending"
    attempts: int = 0  # every attempt, the successful one included
    last_status_code: int | None = None
    last_error: str | None = None
    next_attempt_at: str | None = None
    delivered_at: str | None = None
    cycle_attempts: int = 0  # attempts since the cycle began (the retry schedule's position)
    token: int = 1  # the attempt the queued job is for; a job with another token is stale
    cycle_started_at: float  # epoch seconds of this cycle's first attempt (replay starts a new one)
    created_at: str  # the event's

    def public(self) -> dict[str, Any]:
        return self.model_dump(
            include={
                "event_id",
                "type",
                "status",
                "attempts",
                "last_status_code",
                "last_error",
                "next_attempt_at",
                "delivered_at",
            }
        )


class CreateDestination(BaseModel):
    """``POST /event-destinations``."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=1, max_length=2048)
    eventbridge_bus: str | None = Field(default=None, min_length=1, max_length=1600)
    events: list[str] | None = Field(default=None, min_length=1, max_length=len(EVENT_TYPES))
    description: str | None = Field(default=None, max_length=200)

    @field_validator("events")
    @classmethod
    def _known_types(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        unknown = [t for t in value if t not in EVENT_TYPES]
        if unknown:
            raise ValueError(f"unknown event types {unknown}; known: {', '.join(EVENT_TYPES)}")
        return sorted(set(value), key=EVENT_TYPES.index)

    @field_validator("eventbridge_bus")
    @classmethod
    def _bus_arn(cls, value: str | None) -> str | None:
        if value is not None and not BUS_ARN.match(value):
            raise ValueError("must be an event bus ARN: arn:aws:events:<region>:<account>:event-bus/<name>")
        return value

    @model_validator(mode="after")
    def _one_target(self) -> CreateDestination:
        if (self.url is None) == (self.eventbridge_bus is None):
            raise ValueError("give exactly one of url and eventbridge_bus")
        return self


class ReplayRequest(BaseModel):
    """``POST /event-destinations/{id}/replay``: some events by id, or every event since a time."""

    model_config = ConfigDict(extra="forbid")

    event_ids: list[str] | None = Field(default=None, min_length=1, max_length=MAX_REPLAY_IDS)
    since: str | None = Field(default=None, max_length=40)

    @field_validator("event_ids")
    @classmethod
    def _ids(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and any(not (4 < len(v) <= 64 and v.startswith("evt_")) for v in value):
            raise ValueError("event ids look like evt_…")
        return value

    @model_validator(mode="after")
    def _one_selector(self) -> ReplayRequest:
        if (self.event_ids is None) == (self.since is None):
            raise ValueError("give exactly one of event_ids and since")
        return self
