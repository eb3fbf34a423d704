"""The broadcasts and consent contract (BroadcastStore, ConsentStore), run against every backend:
recipients written in batches, counts that move with each recipient, the pacing slot taken by one
worker at a time, suppressions written with their event."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.events.types import Event, new_event_id
from chalicelib.models.broadcasts import COUNTED, Broadcast, BroadcastRecipient, Suppression
from chalicelib.store import Store
from tests.store.conftest import INSTANCE, NOW, at, race

BC = "bc_01JDQ4Z9W6M8E3V7K2B5N1P0RS"


def broadcast(n: int = 0, *, status: str = "running", total: int = 3, **fields: Any) -> Broadcast:
    values: dict[str, Any] = {
        "id": f"bc_01JDQ4Z9W6M8E3V7K2B5N1P{n:03d}",
        "instance": INSTANCE,
        "name": f"reminder {n}",
        "status": status,
        "text": "Hola",
        "pacing": {"per_minute": 4, "jitter": 0.5},
        "total": total,
        "counts": dict.fromkeys(COUNTED, 0) | {"queued": total},
        "created_at": at(n),
        "updated_at": at(n),
    }
    values.update(fields)
    return Broadcast.model_validate(values)


def recipients(broadcast_id: str, total: int, **fields: Any) -> list[BroadcastRecipient]:
    return [
        BroadcastRecipient.model_validate(
            {"broadcast_id": broadcast_id, "index": i, "to": f"+52155{i:08d}", "status": "queued", **fields}
        )
        for i in range(total)
    ]


def opted(type_: str, to: str) -> Event:
    return Event.model_validate(
        {
            "id": new_event_id(),
            "type": type_,
            "created_at": at(0),
            "instance": INSTANCE,
            "data": {"to": to, "reason": "keyword", "at": at(0)},
        }
    )


def suppression(to: str = "+5215500000001", **fields: Any) -> Suppression:
    return Suppression.model_validate(
        {"instance": INSTANCE, "to": to, "reason": "keyword", "created_at": at(0), **fields}
    )


def test_a_created_broadcast_reads_back_with_every_recipient_in_order(store: Store) -> None:
    b = broadcast(total=250)
    store.create_broadcast(b, recipients(b.id, 250))
    stored = store.get_broadcast(INSTANCE, b.id)
    assert stored is not None and stored.status == "running" and stored.total == 250
    page = store.recipients_from(b.id, 100, limit=5)
    assert [r.index for r in page] == [100, 101, 102, 103, 104]
    assert store.get_recipient(b.id, 249) is not None
    assert store.get_recipient(b.id, 250) is None
    assert store.get_broadcast("another-instance", b.id) is None


def test_broadcasts_list_newest_first_with_a_cursor(store: Store) -> None:
    for n in range(3):
        b = broadcast(n)
        store.create_broadcast(b, recipients(b.id, 1))
    first, cursor = store.list_broadcasts(INSTANCE, limit=2)
    assert [b.name for b in first] == ["reminder 2", "reminder 1"] and cursor is not None
    rest, end = store.list_broadcasts(INSTANCE, after=cursor, limit=2)
    assert [b.name for b in rest] == ["reminder 0"] and end is None
    with pytest.raises(ValueError, match="cursor"):
        store.list_broadcasts(INSTANCE, after="not-a-cursor")


def test_a_recipient_moves_only_from_the_status_it_is_in_and_the_counts_follow(store: Store) -> None:
    b = broadcast()
    store.create_broadcast(b, recipients(b.id, 3))
    assert store.transition_recipient(INSTANCE, b.id, 0, old="queued", new="sending")
    assert not store.transition_recipient(INSTANCE, b.id, 0, old="queued", new="sending")
    assert store.transition_recipient(INSTANCE, b.id, 0, old="sending", new="sent", message_id="msg_1")
    assert store.transition_recipient(INSTANCE, b.id, 1, old="queued", new="failed", reason="not_on_whatsapp")
    stored = store.get_broadcast(INSTANCE, b.id)
    assert stored is not None
    assert stored.counts == {"queued": 1, "sent": 1, "delivered": 0, "read": 0, "failed": 1, "skipped": 0}
    first = store.get_recipient(b.id, 0)
    assert first is not None and first.message_id == "msg_1" and first.status == "sent"


def test_racing_transitions_of_one_recipient_let_exactly_one_through(store: Store) -> None:
    b = broadcast()
    store.create_broadcast(b, recipients(b.id, 3))
    results = race(6, lambda: store.transition_recipient(INSTANCE, b.id, 2, old="queued", new="sending"))
    assert results.count(True) == 1
    stored = store.get_broadcast(INSTANCE, b.id)
    assert stored is not None and stored.counts["queued"] == 3  # sending still counts as queued


def test_recipients_list_by_counted_status_with_a_cursor(store: Store) -> None:
    b = broadcast(total=5)
    store.create_broadcast(b, recipients(b.id, 5))
    store.transition_recipient(INSTANCE, b.id, 1, old="queued", new="sending")
    store.transition_recipient(INSTANCE, b.id, 3, old="queued", new="skipped", reason="opted_out")
    queued, cursor = store.list_recipients(b.id, status="queued", limit=2)
    assert [r.index for r in queued] == [0, 1] and cursor is not None
    rest, end = store.list_recipients(b.id, status="queued", after=cursor, limit=2)
    assert [r.index for r in rest] == [2, 4] and end is None
    skipped, _ = store.list_recipients(b.id, status="skipped")
    assert [(r.index, r.reason) for r in skipped] == [(3, "opted_out")]


def test_the_slot_goes_to_one_worker_and_not_before_it_is_due(store: Store) -> None:
    b = broadcast(next_send_at=NOW)
    store.create_broadcast(b, recipients(b.id, 3))
    assert (
        store.claim_slot(
            INSTANCE, b.id, now=NOW - 1, lease_until=NOW + 59, token="early", next_send_at=NOW + 15
        )
        is None
    )
    tokens = iter(range(8))

    def claim() -> Broadcast | None:
        return store.claim_slot(
            INSTANCE, b.id, now=NOW, lease_until=NOW + 60, token=f"t{next(tokens)}", next_send_at=NOW + 15
        )

    winners = [r for r in race(8, claim) if r is not None]
    assert len(winners) == 1
    token = winners[0].lease_token
    assert token is not None and winners[0].next_send_at == NOW + 15
    assert not store.release_slot(INSTANCE, b.id, token="someone-else", cursor=1)
    assert store.release_slot(INSTANCE, b.id, token=token, cursor=1)
    after = store.get_broadcast(INSTANCE, b.id)
    assert after is not None and after.lease_token is None and after.lease_until is None and after.cursor == 1
    # the next slot is due only at next_send_at; an expired lease is free again
    assert (
        store.claim_slot(INSTANCE, b.id, now=NOW + 14, lease_until=NOW + 74, token="x", next_send_at=NOW + 30)
        is None
    )
    assert store.claim_slot(
        INSTANCE, b.id, now=NOW + 15, lease_until=NOW + 20, token="x", next_send_at=NOW + 30
    )
    assert store.claim_slot(
        INSTANCE, b.id, now=NOW + 31, lease_until=NOW + 90, token="y", next_send_at=NOW + 45
    )


def test_a_paused_broadcast_gives_no_slot_and_updates_check_the_status(store: Store) -> None:
    b = broadcast(next_send_at=NOW)
    store.create_broadcast(b, recipients(b.id, 1))
    paused = store.update_broadcast(INSTANCE, b.id, expect=("running",), status="paused", updated_at=at(5))
    assert paused is not None and paused.status == "paused" and paused.updated_at == at(5)
    assert (
        store.claim_slot(INSTANCE, b.id, now=NOW, lease_until=NOW + 60, token="t", next_send_at=NOW + 15)
        is None
    )
    assert store.update_broadcast(INSTANCE, b.id, expect=("running",), status="cancelled") is None
    with pytest.raises(ValueError, match="updatable"):
        store.update_broadcast(INSTANCE, b.id, expect=("paused",), counts={})


def test_completing_a_broadcast_writes_its_event_in_the_same_write(store: Store) -> None:
    b = broadcast()
    store.create_broadcast(b, recipients(b.id, 1))
    event = Event.model_validate(
        {
            "id": new_event_id(),
            "type": "broadcast.completed",
            "created_at": at(9),
            "instance": INSTANCE,
            "data": {},
        }
    )
    done = store.update_broadcast(INSTANCE, b.id, expect=("running",), event=event, status="completed")
    assert done is not None and done.status == "completed"
    assert [e.id for e in store.undispatched_events(INSTANCE, limit=10)] == [event.id]
    again = event.model_copy(update={"id": new_event_id()})
    assert (
        store.update_broadcast(INSTANCE, b.id, expect=("running",), event=again, status="completed") is None
    )
    assert [e.id for e in store.undispatched_events(INSTANCE, limit=10)] == [event.id]


def test_a_number_is_suppressed_once_with_its_event_and_lifted_once(store: Store) -> None:
    out = opted("recipient.opted_out", "+5215500000001")
    assert store.suppress(suppression(), event=out)
    assert not store.suppress(suppression(), event=opted("recipient.opted_out", "+5215500000001"))
    stored = store.get_suppression(INSTANCE, "+5215500000001")
    assert stored is not None and stored.reason == "keyword"
    back = opted("recipient.opted_in", "+5215500000001")
    assert store.unsuppress(INSTANCE, "+5215500000001", event=back)
    assert not store.unsuppress(INSTANCE, "+5215500000001", event=opted("recipient.opted_in", "+1"))
    assert store.get_suppression(INSTANCE, "+5215500000001") is None
    assert [e.id for e in store.undispatched_events(INSTANCE, limit=10)] == [out.id, back.id]


def test_suppressions_list_newest_first_and_remember_the_last_inbound(store: Store) -> None:
    for n in range(3):
        store.suppress(suppression(f"+521550000000{n}", created_at=at(n)), event=None)
    first, cursor = store.list_suppressions(INSTANCE, limit=2)
    assert [s.to for s in first] == ["+5215500000002", "+5215500000001"] and cursor is not None
    rest, end = store.list_suppressions(INSTANCE, after=cursor, limit=2)
    assert [s.to for s in rest] == ["+5215500000000"] and end is None
    store.note_inbound(INSTANCE, "+5215500000001", at=at(30))
    store.note_inbound(INSTANCE, "+5215500000001", at=at(20))  # an older one never wins
    store.note_inbound(INSTANCE, "+5215599999999", at=at(30))  # not suppressed: nothing kept
    noted = store.get_suppression(INSTANCE, "+5215500000001")
    assert noted is not None and noted.last_inbound_at == at(30)
    assert store.get_suppression(INSTANCE, "+5215599999999") is None
