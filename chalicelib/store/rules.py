"""Every domain rule of the store, once: forward-only statuses, orphan folding, expiry and TTLs,
list cursors and query checks, the instance-state field check, the "unavailable" message.

A backend implements storage, not policy: it calls these and keeps none of its own."""

from __future__ import annotations

import base64
import binascii
import json
import math
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from chalicelib.models.records import STATUS_RANK, InstanceState, MessageRecord, Status, StatusEntry
from chalicelib.store.base import LEASE_S, DuplicateMessageError

DEFAULT_RETENTION_DAYS = 90
DIRECTIONS = ("inbound", "outbound")
UNAVAILABLE = "The message store is unavailable right now; try again shortly."
REJECTED = "This message cannot be stored (too large, or a value the store cannot hold); it was not sent."
# Statuses of an outbound record without a WhatsApp id that a ``send.message`` may settle: a send
# written ahead and not settled (``pending``), one whose outcome is unknown, one recorded failed.
UNRESOLVED = ("pending", "unknown", "failed")


@dataclass(frozen=True)
class OrphanStatus:
    """A status update that arrived before any record carried its WhatsApp id."""

    status: Status
    at: str
    error: dict[str, Any] | None = None


def check_status(status: str) -> Status:
    """``status`` if it is one of ours, else ValueError."""
    if status not in STATUS_RANK:
        raise ValueError(f"unknown message status {status!r}")
    return cast(Status, status)


def check_query(direction: str | None, status: str | None, limit: int) -> None:
    """Validate the filters of ``list_messages``."""
    if direction is not None and direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, not {direction!r}")
    if status is not None:
        check_status(status)
    if limit < 1:
        raise ValueError("limit must be at least 1")


def advance(
    record: MessageRecord,
    status: str,
    at: str,
    error: dict[str, Any] | None = None,
    *,
    updated_at: str | None = None,
) -> MessageRecord | None:
    """A copy of ``record`` moved to ``status`` (``updated_at`` defaults to ``at``), or None
    when that would not move it forward."""
    new = check_status(status)
    if STATUS_RANK[new] <= STATUS_RANK[record.status]:
        return None
    moved = record.model_copy(deep=True)
    moved.status = new
    moved.status_history.append(StatusEntry(status=new, at=at))
    moved.updated_at = updated_at or at
    if error is not None:
        moved.error = error
    return moved


def in_time_order(orphans: list[OrphanStatus]) -> list[OrphanStatus]:
    """Orphans sorted by time, then by rank so a same-instant pair still moves forward."""
    return sorted(orphans, key=lambda o: (epoch(o.at), STATUS_RANK[o.status]))


def later(floor: str, at: str) -> str:
    """The later of two timestamps (compared as times, not strings)."""
    return at if epoch(at) > epoch(floor) else floor


def fold_steps(record: MessageRecord, orphans: list[OrphanStatus]) -> Iterator[tuple[OrphanStatus, str]]:
    """The order in which ``orphans`` are applied to ``record``, each with the ``updated_at`` it
    sets: in time order, and never before the record's own ``updated_at`` (orphans may be older
    than the record: a webhook beat the send's response). Applying each step stays forward-only
    (:func:`advance`), in memory or as a conditional write."""
    floor = record.updated_at
    for orphan in in_time_order(orphans):
        yield orphan, later(floor, orphan.at)


def fold(record: MessageRecord, orphans: list[OrphanStatus]) -> tuple[MessageRecord, bool]:
    """Apply ``orphans`` to ``record`` (:func:`fold_steps`), forward only; also say whether any applied."""
    changed = False
    for orphan, updated_at in fold_steps(record, orphans):
        moved = advance(record, orphan.status, orphan.at, orphan.error, updated_at=updated_at)
        if moved is not None:
            record, changed = moved, True
    return record, changed


def duplicate(record: MessageRecord) -> DuplicateMessageError:
    """The error for a record whose ``id`` or WhatsApp ``message_id`` is already stored."""
    return DuplicateMessageError(f"message {record.id} is already stored")


def attached_status(status: str | None, at: str) -> list[OrphanStatus]:
    """The status given with an attached message id, folded in with the waiting orphans."""
    return [OrphanStatus(check_status(status), at)] if status is not None else []


def inbound_message_id(record: MessageRecord) -> str:
    """The WhatsApp id an inbound record is stored under; ValueError without one."""
    if record.message_id is None:
        raise ValueError("an inbound record needs its WhatsApp message_id")
    return record.message_id


def is_unresolved_send(record: MessageRecord, *, jid: str, fingerprint: str, since: str) -> bool:
    """A send without a WhatsApp id yet (written ahead and not settled, timed out, or recorded
    failed: :data:`UNRESOLVED`) to ``jid`` with this content, made at or after ``since`` (compared
    as times, not strings)."""
    return (
        record.status in UNRESOLVED
        and record.direction == "outbound"
        and record.message_id is None
        and record.jid == jid
        and record.fingerprint == fingerprint
        and epoch(record.created_at) >= epoch(since)
    )


def is_written_ahead(record: MessageRecord) -> bool:
    """The record a send wrote before calling Evolution, not settled since: outbound, ``pending``
    and without a WhatsApp id (a settled success has its id; a failure is failed or unknown)."""
    return record.direction == "outbound" and record.status == "pending" and record.message_id is None


def settle(
    record: MessageRecord,
    status: str,
    at: str,
    *,
    message_id: str | None = None,
    jid: str | None = None,
    error: dict[str, Any] | None = None,
) -> MessageRecord:
    """``record`` (written ahead of its send) once the send's outcome is known.

    A record still as written ahead takes the outcome as its first status (the provisional
    ``pending`` is replaced, even by ``unknown``). A record a webhook has settled already keeps
    the WhatsApp id it got (the first id wins) and only moves forward.
    """
    new = check_status(status)
    if is_written_ahead(record):
        return record.model_copy(
            deep=True,
            update={
                "status": new,
                "status_history": [StatusEntry(status=new, at=at)],
                "updated_at": at,
                "message_id": message_id,
                "jid": jid or record.jid,
                "error": error if error is not None else record.error,
            },
        )
    settled = advance(record, new, at, error) or record
    if settled.message_id is None and message_id is not None:
        settled = settled.model_copy(
            update={"message_id": message_id, "updated_at": later(settled.updated_at, at)}
        )
    return settled


def new_writer() -> str:
    """A fresh nonce for one logical write: a retried write that meets its own earlier attempt
    (its answer was lost) recognises it by this value."""
    return uuid.uuid4().hex


def can_reclaim(
    state: str, record_id: str | None, lease_until: float | None, created_at: float, now: float
) -> bool:
    """An in-progress claim another request may take over: its lease ran out before it wrote a
    send ahead, so it provably sent nothing."""
    return state == "in_progress" and record_id is None and lease_over(lease_until, created_at, now)


def lease_over(lease_until: float | None, created_at: float, now: float) -> bool:
    """An in-progress claim's lease has run out at ``now`` (a claim from before leases existed
    counts as leased for :data:`LEASE_S` from its creation)."""
    until = lease_until if lease_until is not None else created_at + LEASE_S
    return until <= now


def merge_media(current: dict[str, Any] | None, update: dict[str, Any]) -> dict[str, Any] | None:
    """The record's media with ``update`` merged in, or None when nothing may change: a record
    without media, or a failed fetch (``stored: false``) arriving after the file was stored."""
    if current is None:
        return None
    if current.get("stored") is True and update.get("stored") is not True:
        return None
    return {**current, **update}


def waits_for_media(record: MessageRecord) -> bool:
    """Whether a newly stored record has media to fetch (its ``message.received`` waits for it)."""
    return record.media is not None


def is_live(expires_at: float, now: float) -> bool:
    """An item with this TTL still counts at ``now`` (expired items may linger until purged)."""
    return expires_at > now


def check_instance_fields(instance: str, fields: dict[str, Any]) -> None:
    """ValueError unless ``fields`` are instance-state fields (never ``instance`` itself) with
    values of the right types."""
    unknown = set(fields) - set(InstanceState.model_fields) | ({"instance"} & set(fields))
    if unknown:
        raise ValueError(f"not instance-state fields: {sorted(unknown)}")
    InstanceState.model_validate({"instance": instance, **fields})


def epoch(iso: str) -> float:
    """Epoch seconds of an ISO-8601 timestamp (``Z`` or an offset)."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def expires_at(iso: str, retention_days: int) -> int:
    """The TTL (epoch seconds) of an item dated ``iso`` kept for ``retention_days``."""
    return math.ceil(epoch(iso)) + retention_days * 86_400


def ttl_expiry(now: float, ttl_s: int) -> int:
    """The TTL (epoch seconds, rounded up to a whole second) of an item written at ``now``."""
    return math.ceil(now + ttl_s)


def encode_cursor(last_id: str) -> str:
    """An opaque cursor meaning "items older than ``last_id``"."""
    raw = json.dumps({"v": 1, "before": last_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, prefix: str = "msg_") -> str:
    """The id (``<prefix>…``) a cursor points after; ValueError when it is not one of ours."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as e:
        raise ValueError("invalid cursor") from e
    if not isinstance(data, dict) or data.get("v") != 1:
        raise ValueError("invalid cursor")
    before = data.get("before")
    if not isinstance(before, str) or not before.startswith(prefix):
        raise ValueError("invalid cursor")
    return before


BROADCAST_FIELDS = frozenset(
    {"status", "updated_at", "completed_at", "next_send_at", "cursor", "waiting_for"}
)


def broadcast_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` if each is one a broadcast's update may set (the lease has its own methods)."""
    unknown = set(fields) - BROADCAST_FIELDS
    if unknown:
        raise ValueError(f"not updatable broadcast fields: {sorted(unknown)}")
    return fields


def recipient_cursor(cursor: str) -> int:
    """The recipient index a cursor of ``list_recipients`` starts at; ValueError when not ours."""
    value = decode_cursor(cursor, prefix="r_").removeprefix("r_")
    if not value.isdigit() or len(value) > 6:
        raise ValueError("invalid cursor")
    return int(value)
