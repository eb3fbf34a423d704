"""Response bodies and query parameters of ``/broadcasts`` and ``/suppressions`` (for the OpenAPI
document and its conformance tests)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chalicelib.models.responses import ResponseModel


class Counts(ResponseModel):
    """Every recipient counted once, under its current status."""

    queued: int = Field(ge=0)
    sent: int = Field(ge=0)
    delivered: int = Field(ge=0)
    read: int = Field(ge=0)
    failed: int = Field(ge=0)
    skipped: int = Field(ge=0)


class BroadcastOut(ResponseModel):
    id: str = Field(pattern=r"^bc_[0-9A-Z]{26}$")
    name: str
    status: Literal["scheduled", "running", "paused", "completed", "cancelled"]
    template: str | None
    language: str | None
    text: str | None
    total: int = Field(ge=0, description="Every recipient given, skipped ones included.")
    counts: Counts
    pacing: dict[str, Any]
    start_at: str | None
    waiting_for: Literal["session", "window", "start", "upstream"] | None = Field(
        description="Why no send is going out right now (the session is not open, outside the window, …)."
    )
    created_at: str
    updated_at: str
    completed_at: str | None
    eta: str | None = Field(description="When the last queued recipient should be sent, at this pace.")


class BroadcastList(ResponseModel):
    items: list[BroadcastOut]
    next: str | None


class RecipientOut(ResponseModel):
    index: int = Field(ge=0)
    to: str
    reference: str | None
    status: Literal["queued", "sent", "delivered", "read", "failed", "skipped"]
    message_id: str | None
    reason: str | None


class RecipientPage(ResponseModel):
    items: list[RecipientOut]
    next: str | None


class SuppressionOut(ResponseModel):
    to: str
    reason: Literal["keyword", "manual"]
    note: str | None
    created_at: str


class SuppressionPage(ResponseModel):
    items: list[SuppressionOut]
    next: str | None


class _Page(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after: str | None = Field(default=None, min_length=1, max_length=512, description="The `next` cursor.")
    limit: int = Field(default=20, ge=1, le=100, description="Page size.")

    @field_validator("limit", mode="before")
    @classmethod
    def _whole_number(cls, value: object) -> object:
        if isinstance(value, str) and not value.isdigit():
            raise ValueError("must be a whole number from 1 to 100")
        return value


class PageQuery(_Page):
    """``?after=&limit=``."""


class RecipientsQuery(_Page):
    """``GET /broadcasts/{id}/recipients``."""

    status: Literal["queued", "sent", "delivered", "read", "failed", "skipped"] | None = Field(
        default=None, description="Only recipients in this status."
    )
