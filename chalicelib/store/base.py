"""The durable store's interface: one small Protocol per concern, ``Store`` composing them, and the
result types they return."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from chalicelib.models.records import InstanceState, MessageRecord

IdempotencyState = Literal["in_progress", "done"]


class DuplicateMessageError(ValueError):
    """``create_message`` was given an ``id`` or WhatsApp ``message_id`` the store already holds."""


@dataclass(frozen=True)
class IdempotencyRecord:
    """A claimed Idempotency-Key: in progress, or done with the response to replay."""

    key: str
    fingerprint: str
    state: IdempotencyState
    created_at: float  # epoch seconds (the ``now`` of the claim)
    expires_at: float  # epoch seconds; at or after this the key is free again
    status_code: int | None = None
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class IdempotencyClaim:
    """The outcome of ``claim_idempotency``: ours (``claimed``) or someone else's ``record``."""

    claimed: bool
    record: IdempotencyRecord  # the new claim when ``claimed``, else the live one that won


@dataclass(frozen=True)
class StatusResult:
    """The outcome of ``apply_status``: was there a record, did the status move, the record now.

    ``kept`` is True when no record had that id yet and this status was newly kept as an orphan
    (False when the same status was already kept: a re-delivery).
    """

    found: bool
    applied: bool
    record: MessageRecord | None = None
    kept: bool = False

    @property
    def duplicate(self) -> bool:
        """Nothing new was learnt: a re-delivered or out-of-date status."""
        return not (self.applied or self.kept)


@dataclass(frozen=True)
class MessagePage:
    """A page of ``list_messages``, newest first; ``next`` is an opaque cursor, None at the end."""

    items: list[MessageRecord]
    next: str | None = None


class IdempotencyStore(Protocol):
    """Idempotency-Key claims: exactly one racer wins a key; a done claim replays its answer."""

    def claim_idempotency(self, key: str, fingerprint: str, *, now: float, ttl_s: int) -> IdempotencyClaim:
        """Atomically claim ``key`` unless a live claim exists; exactly one racer wins."""
        ...

    def complete_idempotency(
        self,
        key: str,
        *,
        status_code: int,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        """Mark the claim done and keep the response to replay."""
        ...

    def release_idempotency(self, key: str) -> None:
        """Drop the claim if it is still in progress (the request failed before sending)."""
        ...


class MessageStore(Protocol):
    """Message records with their status history, orphan statuses, timed-out and parked sends."""

    def create_message(self, record: MessageRecord) -> MessageRecord:
        """Insert a new record and fold in orphan statuses for its ``message_id``."""
        ...

    def attach_message_id(
        self, id: str, message_id: str, *, at: str, status: str | None = None
    ) -> MessageRecord | None:
        """Give a record without a WhatsApp id one; None if it is missing or already had one."""
        ...

    def insert_inbound(self, record: MessageRecord) -> bool:
        """Store a received message once per (instance, message_id); False for a re-delivery."""
        ...

    def apply_status(
        self,
        instance: str,
        message_id: str,
        status: str,
        *,
        at: str,
        error: dict[str, Any] | None = None,
    ) -> StatusResult:
        """Move the status forward only; keep it as an orphan when no record has that id yet."""
        ...

    def get_message(self, instance: str, id_or_message_id: str) -> MessageRecord | None:
        """A record by ``msg_…`` id or WhatsApp message id."""
        ...

    def list_messages(
        self,
        instance: str,
        *,
        direction: str | None = None,
        status: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> MessagePage:
        """Records newest first; ``after`` is a cursor from a previous page (ValueError if bad)."""
        ...

    def find_unknown_sends(
        self, instance: str, *, jid: str, fingerprint: str, since: str
    ) -> list[MessageRecord]:
        """Timed-out sends (``unknown``, no message id) to ``jid`` with ``fingerprint``."""
        ...

    def park_send(
        self,
        instance: str,
        *,
        jid: str,
        fingerprint: str,
        message_id: str,
        status: str,
        now: float,
        ttl_s: int,
    ) -> bool:
        """Keep a ``send.message`` that matched no record, by chat and content, for ``ttl_s``: it
        can beat the timed-out send it confirms. False when one for that chat and content is
        already parked."""
        ...

    def take_parked_send(
        self, instance: str, *, jid: str, fingerprint: str, now: float
    ) -> tuple[str, str] | None:
        """Remove and return ``(message_id, status)`` of a live parked send for this chat and content."""
        ...


class InstanceStore(Protocol):
    """The last known state of each WhatsApp instance."""

    def get_instance_state(self, instance: str) -> InstanceState | None:
        """The last known state of the instance, if any."""
        ...

    def update_instance_state(self, instance: str, **fields: Any) -> InstanceState:
        """Merge ``fields`` into the instance state and return the result."""
        ...


class Store(IdempotencyStore, MessageStore, InstanceStore, Protocol):
    """Durable state: every concern's protocol, plus a liveness check.

    A new concern (events, media, broadcasts) adds its own Protocol above and joins this list;
    each backend composes one mixin per concern. Every backend failure surfaces as
    :class:`chalicelib.errors.StoreUnavailableError`.
    """

    def ping(self) -> None:
        """Cheap liveness check; raises StoreUnavailableError."""
        ...
