"""The durable store's interface: one small Protocol per concern, ``Store`` composing them, and the
result types they return."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from chalicelib.events.types import Event
from chalicelib.models.broadcasts import Broadcast, BroadcastRecipient, Suppression
from chalicelib.models.events import Delivery, Destination
from chalicelib.models.records import InstanceState, MessageRecord

IdempotencyState = Literal["in_progress", "done"]
# An in-progress Idempotency-Key claim is leased: longer than the longest request (API Gateway
# gives up at 29 s; a send waits at most 2 x 2 s to connect + 22 s to read) plus a margin.
LEASE_S = 60


class DuplicateMessageError(ValueError):
    """``create_message`` was given an ``id`` or WhatsApp ``message_id`` the store already holds."""


class ClaimLostError(Exception):
    """``begin_send`` found the Idempotency-Key claim no longer this writer's (its lease ran out
    and another request took it over): nothing was written, nothing may be sent."""


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
    writer: str = ""  # a nonce per claim: a retried write recognises its own earlier one by it
    lease_until: float | None = None  # in progress: until when the claimant may still be sending
    record_id: str | None = None  # the record its send wrote ahead, once it did


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

    def claim_idempotency(
        self, key: str, fingerprint: str, *, now: float, ttl_s: int, lease_s: int = LEASE_S
    ) -> IdempotencyClaim:
        """Atomically claim ``key`` unless a live claim exists; exactly one racer wins.

        The claim is in progress for a lease of ``lease_s``. An in-progress claim whose lease ran
        out and that never wrote a send ahead (no ``record_id``) provably sent nothing, so it can
        be claimed again; one that did write ahead stays (its send may have gone out)."""
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

    def release_idempotency(self, key: str, *, writer: str | None = None) -> None:
        """Drop the claim if it is still in progress (and ``writer``'s, when given): the request
        failed before sending."""
        ...


class SendStore(Protocol):
    """Write-ahead sends: a send is recorded (with its claim) before Evolution is called, and
    settled, with the answer kept under its key, in one write after.

    Invariants: a record exists for every send that may have gone out; the claim of a key names
    that record (``record_id``) from before the call on; a release happens only on proof that
    nothing left.
    """

    def begin_send(self, record: MessageRecord, *, key: str | None = None, writer: str | None = None) -> None:
        """Atomically store ``record`` (``pending``, no WhatsApp id) and, with a ``key``, point
        ``writer``'s in-progress claim at it. ClaimLostError if the claim is no longer ``writer``'s."""
        ...

    def finish_send(
        self,
        id: str,
        status: str,
        *,
        at: str,
        message_id: str | None = None,
        jid: str | None = None,
        error: dict[str, Any] | None = None,
        key: str | None = None,
        response: tuple[int, dict[str, Any], dict[str, str]] | None = None,
    ) -> MessageRecord | None:
        """Atomically settle record ``id`` with the send's outcome (:func:`rules.settle`; a
        WhatsApp id another record already holds is not given to this one) and complete the
        claim of ``key`` with ``response`` (status, body, headers). None if there is no record."""
        ...

    def abandon_send(self, id: str, *, key: str | None = None, writer: str | None = None) -> None:
        """The send provably never left: atomically drop its written-ahead record (if still
        unsettled) and ``writer``'s in-progress claim of ``key``."""
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


class EventStore(Protocol):
    """Pushed events: the outbox of events, destinations, and one delivery per (destination, event).

    Events reporting a change are written by the change's own write (``insert_inbound``,
    ``apply_status``, ``attach_message_id``, ``create_message``, ``update_instance_state``), in the
    same transaction; ``add_event`` is for events that report no stored change (``ping``).
    """

    def add_event(self, event: Event, *, dispatched: bool = False) -> None:
        """Keep ``event`` (in the outbox unless ``dispatched``)."""
        ...

    def get_event(self, instance: str, event_id: str) -> Event | None: ...

    def events_since(self, instance: str, since_id: str, *, limit: int) -> list[Event]:
        """Events with an id at or above ``since_id`` (ids are time-ordered), oldest first."""
        ...

    def undispatched_events(self, instance: str, *, limit: int) -> list[Event]:
        """Outbox events not yet fanned out to destinations, oldest first."""
        ...

    def mark_dispatched(self, instance: str, *event_ids: str) -> None:
        """Take these events out of the outbox (one write for the lot where the backend can)."""
        ...

    def put_destination(self, destination: Destination, *, limit: int) -> bool:
        """Create ``destination``; False when the instance already has ``limit`` of them."""
        ...

    def get_destination(self, instance: str, destination_id: str) -> Destination | None: ...

    def list_destinations(self, instance: str) -> list[Destination]:
        """Every destination of the instance, oldest first."""
        ...

    def delete_destination(self, instance: str, destination_id: str) -> bool:
        """Remove a destination and its deliveries; False when there was none."""
        ...

    def disable_destination(self, instance: str, destination_id: str, *, reason: str) -> None: ...

    def open_delivery(self, delivery: Delivery) -> bool:
        """Insert ``delivery`` unless one exists for its (destination, event); True when inserted."""
        ...

    def get_delivery(self, destination_id: str, event_id: str) -> Delivery | None: ...

    def record_attempt(self, delivery: Delivery, *, token: int, any_status: bool = False) -> bool:
        """Replace the delivery with ``delivery`` if its stored ``token`` is still ``token`` (and
        it is still pending, unless ``any_status``); False when another attempt got there first."""
        ...

    def list_deliveries(
        self, destination_id: str, *, status: str | None = None, after: str | None = None, limit: int = 50
    ) -> tuple[list[Delivery], str | None]:
        """Deliveries newest event first, and the cursor of the next page (None at the end)."""
        ...

    def overdue_deliveries(self, instance: str, *, before: str, limit: int) -> list[Delivery]:
        """Pending deliveries whose next attempt was due before ``before`` (ISO time)."""
        ...


class MediaStore(Protocol):
    """Inbound media: the records still waiting for their file, and settling them.

    ``insert_inbound`` marks a record with media as waiting (in the same write) and holds back
    its ``message.received`` event; the first ``settle_media`` ends the wait and writes that
    event, with the record as settled, in the same transaction.
    """

    def settle_media(self, instance: str, id: str, media: dict[str, Any], *, at: str) -> MessageRecord | None:
        """Merge ``media`` (``stored``, ``size``, ``sha256``, …) into the record's media and end its
        wait; the record after the change, or as it is when the change is refused (a failure after
        a success), or None when there is no such record with media."""
        ...

    def media_waiting(self, instance: str, *, before: str, limit: int) -> list[str]:
        """Ids of records waiting for their media since before ``before`` (ISO time), oldest first."""
        ...


class BroadcastStore(Protocol):
    """Broadcasts, their recipients (by index) with counts kept on the broadcast, and the pacing
    slot: at most one send in flight per broadcast, never before ``next_send_at``."""

    def create_broadcast(self, broadcast: Broadcast, recipients: list[BroadcastRecipient]) -> None:
        """Write the broadcast and every recipient (in batches; the broadcast is written first, in
        status ``creating``, and takes its given status only once every recipient is written)."""
        ...

    def get_broadcast(self, instance: str, broadcast_id: str) -> Broadcast | None: ...

    def list_broadcasts(
        self, instance: str, *, after: str | None = None, limit: int = 50
    ) -> tuple[list[Broadcast], str | None]:
        """Newest first, and the cursor of the next page (ValueError for a bad cursor)."""
        ...

    def update_broadcast(
        self,
        instance: str,
        broadcast_id: str,
        *,
        expect: tuple[str, ...],
        event: Event | None = None,
        **fields: Any,
    ) -> Broadcast | None:
        """Set ``fields`` if the status is one of ``expect`` (with ``event`` in the same write);
        the broadcast after the change, or None when the status did not match."""
        ...

    def claim_slot(
        self,
        instance: str,
        broadcast_id: str,
        *,
        now: float,
        lease_until: float,
        token: str,
        next_send_at: float,
    ) -> Broadcast | None:
        """Take the sending slot: only while running, due (``next_send_at`` ≤ ``now``) and no live
        lease. Sets the lease and the next due time; None when another worker has it or it is early."""
        ...

    def release_slot(self, instance: str, broadcast_id: str, *, token: str, **fields: Any) -> bool:
        """Drop the lease ``token`` holds, setting ``fields`` (cursor, next_send_at, waiting_for)."""
        ...

    def get_recipient(self, broadcast_id: str, index: int) -> BroadcastRecipient | None: ...

    def recipients_from(self, broadcast_id: str, index: int, *, limit: int) -> list[BroadcastRecipient]:
        """Recipients with an index at or above ``index``, in order."""
        ...

    def list_recipients(
        self, broadcast_id: str, *, status: str | None = None, after: str | None = None, limit: int = 50
    ) -> tuple[list[BroadcastRecipient], str | None]:
        """Recipients by index (``status`` matches the counted status), and the next cursor."""
        ...

    def transition_recipient(
        self, instance: str, broadcast_id: str, index: int, *, old: str, new: str, **fields: Any
    ) -> bool:
        """Move a recipient from status ``old`` to ``new`` (with ``fields``) and its broadcast's counts
        with it, in one write; False when it is no longer in ``old``."""
        ...


class ConsentStore(Protocol):
    """Suppressed numbers: a change and its ``recipient.opted_*`` event are one write."""

    def suppress(self, suppression: Suppression, *, event: Event | None) -> bool:
        """Keep ``suppression``; False (and no event) when the number is already suppressed."""
        ...

    def unsuppress(self, instance: str, to: str, *, event: Event | None) -> bool:
        """Lift a suppression; False (and no event) when there was none."""
        ...

    def get_suppression(self, instance: str, to: str) -> Suppression | None: ...

    def list_suppressions(
        self, instance: str, *, after: str | None = None, limit: int = 50
    ) -> tuple[list[Suppression], str | None]:
        """Newest first, and the next cursor (ValueError for a bad cursor)."""
        ...

    def note_inbound(self, instance: str, to: str, *, at: str) -> None:
        """A suppressed number wrote to us at ``at`` (nothing to do when it is not suppressed)."""
        ...


class Store(
    IdempotencyStore,
    MessageStore,
    SendStore,
    InstanceStore,
    EventStore,
    MediaStore,
    BroadcastStore,
    ConsentStore,
    Protocol,
):
    """Durable state: every concern's protocol, plus a liveness check.

    A new concern (broadcasts, …) adds its own Protocol above and joins this list;
    each backend composes one mixin per concern. Every backend failure surfaces as
    :class:`chalicelib.errors.StoreUnavailableError`.
    """

    def ping(self) -> None:
        """Cheap liveness check; raises StoreUnavailableError."""
        ...
