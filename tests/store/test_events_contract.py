"""The events contract (EventStore), run against every backend: the outbox written with the change
it reports, destinations, deliveries guarded by their token."""

from __future__ import annotations

import pytest

from chalicelib.events.types import Event, id_floor, new_event_id
from chalicelib.models.events import Delivery, Destination
from chalicelib.store import Store
from chalicelib.store.rules import epoch
from tests.store.conftest import INSTANCE, at, inbound, outbound, race


def destination(n: int = 1, **fields: object) -> Destination:
    values: dict[str, object] = {
        "id": f"dst_{n:026d}",
        "instance": INSTANCE,
        "url": f"https://crm.example/hooks/{n}",
        "salt": "salt",
        "created_at": at(0),
        "updated_at": at(0),
    }
    values.update(fields)
    return Destination.model_validate(values)


def ping(**fields: object) -> Event:
    values: dict[str, object] = {
        "id": new_event_id(),
        "type": "ping",
        "created_at": "2026-11-25T10:00:00.000Z",
        "instance": INSTANCE,
        "data": {},
    }
    values.update(fields)
    return Event.model_validate(values)


def delivery(event: Event, dst: Destination, **fields: object) -> Delivery:
    values: dict[str, object] = {
        "destination_id": dst.id,
        "event_id": event.id,
        "type": event.type,
        "next_attempt_at": "2026-11-25T10:00:00.000Z",
        "cycle_started_at": 0.0,
        "created_at": event.created_at,
    }
    values.update(fields)
    return Delivery.model_validate(values)


def outbox(store: Store) -> list[Event]:
    return store.undispatched_events(INSTANCE, limit=100)


# -- the outbox: one write with the change -----------------------------------------------------


def test_storing_an_inbound_message_puts_message_received_in_the_outbox_with_the_public_record(
    store: Store,
) -> None:
    record = inbound(1)
    assert store.insert_inbound(record)

    (event,) = outbox(store)
    assert event.type == "message.received"
    assert event.id.startswith("evt_")
    assert event.data == record.public()
    assert event.data == store.get_message(INSTANCE, record.id).public()  # type: ignore[union-attr]


def test_a_redelivered_inbound_message_adds_no_event(store: Store) -> None:
    assert store.insert_inbound(inbound(1))
    assert not store.insert_inbound(inbound(1, id=inbound(2).id))

    assert len(outbox(store)) == 1


def test_eight_threads_storing_the_same_inbound_message_make_one_event(store: Store) -> None:
    results = race(8, lambda: store.insert_inbound(inbound(1, id=new_event_id().replace("evt_", "msg_"))))

    assert results.count(True) == 1
    assert [e.type for e in outbox(store)] == ["message.received"]


def test_each_status_change_is_one_message_status_event_with_the_record_after_it(store: Store) -> None:
    store.create_message(outbound(1, message_id="OUT1"))

    store.apply_status(INSTANCE, "OUT1", "delivered", at=at(2))
    store.apply_status(INSTANCE, "OUT1", "delivered", at=at(3))  # re-delivered: no change
    store.apply_status(INSTANCE, "OUT1", "sent", at=at(4))  # late: no change
    store.apply_status(INSTANCE, "OUT1", "read", at=at(5))

    events = outbox(store)
    assert [(e.type, e.data["status"]) for e in events] == [
        ("message.status", "delivered"),
        ("message.status", "read"),
    ]
    assert [s["status"] for s in events[0].data["status_history"]] == ["pending", "delivered"]
    assert events[1].data == store.get_message(INSTANCE, "OUT1").public()  # type: ignore[union-attr]


def test_a_settled_timed_out_send_is_a_status_event(store: Store) -> None:
    store.create_message(outbound(1, status="unknown", status_history=[{"status": "unknown", "at": at(1)}]))

    store.attach_message_id(outbound(1).id, "OUT1", at=at(2), status="sent")

    (event,) = outbox(store)
    assert (event.type, event.data["status"], event.data["message_id"]) == ("message.status", "sent", "OUT1")


def test_a_session_state_change_is_an_event_and_a_repeat_is_not(store: Store) -> None:
    store.update_instance_state(INSTANCE, state="connecting")
    store.update_instance_state(INSTANCE, state="connecting", qr_code="data:image/png;base64,AA")
    store.update_instance_state(INSTANCE, checked_state="open")
    store.update_instance_state(INSTANCE, state="open")

    events = outbox(store)
    assert [(e.type, e.data["state"], e.data["previous"]) for e in events] == [
        ("session.state", "connecting", None),
        ("session.state", "open", "connecting"),
    ]


def test_dispatched_events_leave_the_outbox_but_stay_readable_and_replayable(store: Store) -> None:
    first, second = ping(), ping(created_at="2026-11-25T10:05:00.000Z")
    store.add_event(first)
    store.add_event(second)
    store.add_event(ping(), dispatched=True)

    store.mark_dispatched(INSTANCE, first.id)

    assert [e.id for e in outbox(store)] == [second.id]
    assert store.get_event(INSTANCE, first.id) == first
    assert store.get_event("other", first.id) is None
    since = store.events_since(INSTANCE, id_floor("evt_", epoch(first.created_at) - 1), limit=10)
    assert [e.id for e in since][:2] == [first.id, second.id]
    assert len(since) == 3


# -- destinations --------------------------------------------------------------------------------


def test_destinations_are_created_listed_disabled_and_deleted(store: Store) -> None:
    assert store.put_destination(destination(1), limit=2)
    assert store.put_destination(destination(2, url=None, eventbridge_bus="arn:aws:events:x"), limit=2)
    assert not store.put_destination(destination(3), limit=2)

    assert [d.id for d in store.list_destinations(INSTANCE)] == [destination(1).id, destination(2).id]
    store.disable_destination(INSTANCE, destination(1).id, reason="410")
    disabled = store.get_destination(INSTANCE, destination(1).id)
    assert disabled is not None and not disabled.enabled and disabled.disabled_reason == "410"

    assert store.delete_destination(INSTANCE, destination(1).id)
    assert not store.delete_destination(INSTANCE, destination(1).id)
    assert store.get_destination(INSTANCE, destination(1).id) is None
    assert store.list_destinations("other") == []


# -- deliveries ----------------------------------------------------------------------------------


def test_a_delivery_is_opened_once(store: Store) -> None:
    dst = destination()
    store.put_destination(dst, limit=10)
    event = ping()

    results = race(6, lambda: store.open_delivery(delivery(event, dst)))

    assert results.count(True) == 1
    assert store.get_delivery(dst.id, event.id) == delivery(event, dst)


def test_only_the_attempt_holding_the_token_is_recorded(store: Store) -> None:
    dst = destination()
    store.put_destination(dst, limit=10)
    event = ping()
    store.open_delivery(delivery(event, dst))
    retry = delivery(
        event, dst, attempts=1, token=2, last_status_code=500, last_error="the destination answered 500"
    )

    assert store.record_attempt(retry, token=1)
    assert not store.record_attempt(retry.model_copy(update={"attempts": 9}), token=1)  # a duplicate job
    done = retry.model_copy(update={"status": "delivered", "attempts": 2, "delivered_at": at(9)})
    assert store.record_attempt(done, token=2)
    assert not store.record_attempt(done.model_copy(update={"token": 3}), token=2)  # no longer pending
    assert store.record_attempt(
        done.model_copy(update={"status": "pending", "token": 3}), token=2, any_status=True
    )

    final = store.get_delivery(dst.id, event.id)
    assert final is not None and (final.status, final.token, final.attempts) == ("pending", 3, 2)


def test_deliveries_list_newest_event_first_by_status_with_a_cursor(store: Store) -> None:
    dst = destination()
    store.put_destination(dst, limit=10)
    events = [ping() for _ in range(5)]
    for n, event in enumerate(events):
        store.open_delivery(delivery(event, dst, status="delivered" if n % 2 else "pending"))

    page, cursor = store.list_deliveries(dst.id, limit=2)
    rest, end = store.list_deliveries(dst.id, limit=10, after=cursor)
    pending, _ = store.list_deliveries(dst.id, status="pending", limit=10)

    assert [d.event_id for d in page + rest] == [e.id for e in reversed(events)]
    assert cursor is not None and end is None
    assert [d.event_id for d in pending] == [events[4].id, events[2].id, events[0].id]
    with pytest.raises(ValueError, match="cursor"):
        store.list_deliveries(dst.id, after="not-a-cursor")


def test_overdue_deliveries_are_the_pending_ones_due_before_the_cutoff(store: Store) -> None:
    dst = destination()
    store.put_destination(dst, limit=10)
    late, soon, done = ping(), ping(), ping()
    store.open_delivery(delivery(late, dst, next_attempt_at="2026-11-25T09:00:00.000Z"))
    store.open_delivery(delivery(soon, dst, next_attempt_at="2026-11-25T11:00:00.000Z"))
    store.open_delivery(delivery(done, dst, status="delivered", next_attempt_at="2026-11-25T09:00:00.000Z"))

    overdue = store.overdue_deliveries(INSTANCE, before="2026-11-25T10:00:00.000Z", limit=10)

    assert [d.event_id for d in overdue] == [late.id]


def test_deleting_a_destination_deletes_its_deliveries(store: Store) -> None:
    dst = destination()
    store.put_destination(dst, limit=10)
    event = ping()
    store.open_delivery(delivery(event, dst))

    store.delete_destination(INSTANCE, dst.id)

    assert store.get_delivery(dst.id, event.id) is None


def test_a_sends_own_outcome_is_its_answer_not_an_event(store: Store) -> None:
    store.begin_send(outbound(1))  # written ahead: pending, no WhatsApp id

    store.finish_send(outbound(1).id, "pending", at=at(2), message_id="OUT1")
    store.begin_send(outbound(2))
    store.finish_send(outbound(2).id, "failed", at=at(3), error={"code": "x", "message": "refused"})

    assert outbox(store) == []


def test_a_send_outcome_that_moves_a_webhook_settled_record_is_an_event(store: Store) -> None:
    store.begin_send(outbound(1, status="unknown", status_history=[{"status": "unknown", "at": at(1)}]))

    store.finish_send(outbound(1).id, "sent", at=at(2), message_id="OUT1")

    (event,) = outbox(store)
    assert (event.type, event.data["status"]) == ("message.status", "sent")
