"""Broadcasts and consent: the request bodies, and what the store keeps (broadcasts, their
recipients, suppressions)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_RECIPIENTS = 10_000

BroadcastStatus = Literal["creating", "scheduled", "running", "paused", "completed", "cancelled"]
RecipientStatus = Literal["queued", "sending", "sent", "delivered", "read", "failed", "skipped"]
COUNTED = ("queued", "sent", "delivered", "read", "failed", "skipped")
# A recipient's status only moves up this ladder (``failed`` can still be overtaken by a later
# delivered/read, which proves the message went out, as for message records).
RECIPIENT_RANK: dict[str, int] = {
    "queued": 0,
    "sending": 1,
    "sent": 2,
    "failed": 3,
    "delivered": 4,
    "read": 5,
    "skipped": 9,
}
_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


def counted(status: str) -> str:
    """The bucket of ``counts`` a recipient status falls in (``sending`` is still queued)."""
    return "queued" if status == "sending" else status


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)


class Window(_Body):
    """Hours of the day (in ``timezone``) when sends may go out; ``end`` before ``start`` spans midnight."""

    start: str = Field(examples=["09:00"])
    end: str = Field(examples=["19:00"])
    timezone: str = Field(min_length=1, max_length=64, examples=["America/Mexico_City"])

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not _CLOCK.match(value):
            raise ValueError("must be a time of day HH:MM (00:00 to 23:59)")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from chalicelib.services.pacing import zone  # noqa: PLC0415

        zone(value)
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> Window:
        if self.start == self.end:
            raise ValueError("start and end must differ")
        return self


class Pacing(_Body):
    """How fast: ``per_minute`` on average, each gap the mean ± ``jitter`` of it, inside ``window``."""

    model_config = ConfigDict(extra="forbid", strict=False, str_strip_whitespace=True)

    per_minute: float = Field(default=4, ge=1, le=60)
    jitter: float = Field(default=0.5, ge=0, le=1)
    window: Window | None = None


class RecipientIn(BaseModel):
    """One recipient as given; checked one by one (a bad one is skipped, not refused)."""

    model_config = ConfigDict(extra="forbid")

    to: str = Field(min_length=1, max_length=64)
    variables: dict[str, str | int | float] = Field(default_factory=dict, max_length=50)
    reference: str | None = Field(default=None, min_length=1, max_length=128)


class CreateBroadcast(_Body):
    """``POST /broadcasts``: a template (with per-recipient variables) or one text, to many."""

    name: str = Field(min_length=1, max_length=200)
    template: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    language: str | None = Field(default=None, max_length=16)
    text: str | None = Field(default=None, min_length=1, max_length=4096)
    recipients: list[RecipientIn] = Field(min_length=1, max_length=MAX_RECIPIENTS)
    pacing: Pacing = Field(default_factory=Pacing)
    start_at: str | None = Field(default=None, max_length=40)

    @model_validator(mode="after")
    def _one_content(self) -> CreateBroadcast:
        if (self.template is None) == (self.text is None):
            raise ValueError("give exactly one of template or text")
        if self.language is not None and self.template is None:
            raise ValueError("language applies to templates only")
        return self

    @field_validator("start_at")
    @classmethod
    def _iso(cls, value: str | None) -> str | None:
        from chalicelib.services.pacing import parse_instant  # noqa: PLC0415

        if value is not None:
            parse_instant(value)
        return value


class CreateSuppression(_Body):
    """``POST /suppressions``."""

    to: str = Field(min_length=3, max_length=64)
    note: str | None = Field(default=None, min_length=1, max_length=500)


class Broadcast(BaseModel):
    """A broadcast as kept; ``next_send_at``/``lease_*``/``cursor`` drive the pacing."""

    id: str
    instance: str
    name: str
    status: BroadcastStatus
    template: str | None = None
    language: str | None = None
    text: str | None = None
    pacing: dict[str, Any]
    start_at: str | None = None
    total: int
    counts: dict[str, int]
    created_at: str
    updated_at: str
    completed_at: str | None = None
    next_send_at: float = 0.0  # epoch seconds: the earliest the next send may start
    lease_until: float | None = None  # a send is in flight until then (at most one per broadcast)
    lease_token: str | None = None
    cursor: int = 0  # every recipient below this index has been settled
    waiting_for: Literal["session", "window", "start", "upstream"] | None = None

    def public(self, *, eta: str | None) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "template": self.template,
            "language": self.language,
            "text": self.text,
            "total": self.total,
            "counts": {k: self.counts.get(k, 0) for k in COUNTED},
            "pacing": self.pacing,
            "start_at": self.start_at,
            "waiting_for": self.waiting_for,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "completed_at": self.completed_at,
            "eta": eta,
        }


class BroadcastRecipient(BaseModel):
    """One recipient of a broadcast, by its index in the request."""

    broadcast_id: str
    index: int
    to: str
    variables: dict[str, Any] = Field(default_factory=dict)
    reference: str | None = None
    status: RecipientStatus
    message_id: str | None = None  # the msg_… record of its send
    reason: str | None = None

    def public(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "to": self.to,
            "reference": self.reference,
            "status": counted(self.status),
            "message_id": self.message_id,
            "reason": self.reason,
        }


class Suppression(BaseModel):
    """A number that opted out (keyword) or was suppressed by hand; ``last_inbound_at`` allows replies."""

    instance: str
    to: str
    reason: Literal["keyword", "manual"]
    note: str | None = None
    created_at: str
    last_inbound_at: str | None = None

    def public(self) -> dict[str, Any]:
        return {"to": self.to, "reason": self.reason, "note": self.note, "created_at": self.created_at}
