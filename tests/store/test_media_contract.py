"""The media contract (MediaStore), run against every backend: a record with media waits for its
file, and its message.received event goes out once, with the record as settled."""

from __future__ import annotations

from chalicelib.store import Store
from tests.store.conftest import INSTANCE, at, inbound, outbound, race

PDF = {"mimetype": "application/pdf", "file_name": "cv.pdf", "size": 1200, "stored": False}


def received(store: Store) -> list[dict[str, object]]:
    events = store.undispatched_events(INSTANCE, limit=100)
    return [e.data for e in events if e.type == "message.received"]


def test_an_inbound_record_with_media_waits_and_holds_back_its_event(store: Store) -> None:
    record = inbound(1, type="document", text=None, media=PDF)

    assert store.insert_inbound(record)

    assert store.media_waiting(INSTANCE, before=at(2), limit=10) == [record.id]
    assert received(store) == []


def test_an_inbound_record_without_media_emits_at_once_and_does_not_wait(store: Store) -> None:
    assert store.insert_inbound(inbound(1))

    assert store.media_waiting(INSTANCE, before=at(59), limit=10) == []
    assert len(received(store)) == 1


def test_settling_stored_ends_the_wait_and_emits_message_received_with_the_settled_record(
    store: Store,
) -> None:
    record = inbound(1, type="document", text=None, media=PDF)
    store.insert_inbound(record)

    settled = store.settle_media(
        INSTANCE, record.id, {"stored": True, "size": 1234, "sha256": "ab" * 32}, at=at(3)
    )

    assert settled is not None and settled.media is not None
    assert settled.media == PDF | {"stored": True, "size": 1234, "sha256": "ab" * 32}
    assert store.media_waiting(INSTANCE, before=at(59), limit=10) == []
    (event,) = received(store)
    assert event["media"] == settled.media and event["id"] == record.id
    fetched = store.get_message(INSTANCE, record.id)
    assert fetched is not None and fetched.media == settled.media and fetched.updated_at == at(3)


def test_the_event_goes_out_once_though_the_media_is_settled_again(store: Store) -> None:
    record = inbound(1, type="document", text=None, media=PDF)
    store.insert_inbound(record)

    store.settle_media(INSTANCE, record.id, {"stored": False, "error": "gone"}, at=at(3))
    store.settle_media(INSTANCE, record.id, {"stored": True, "size": 5, "sha256": "cd" * 32}, at=at(4))

    (event,) = received(store)
    assert event["media"] == PDF | {"stored": False, "error": "gone"}
    again = store.get_message(INSTANCE, record.id)
    assert again is not None and again.media is not None and again.media["stored"] is True


def test_a_failure_never_overwrites_a_stored_file(store: Store) -> None:
    record = inbound(1, type="document", text=None, media=PDF)
    store.insert_inbound(record)
    store.settle_media(INSTANCE, record.id, {"stored": True, "size": 5, "sha256": "cd" * 32}, at=at(3))

    kept = store.settle_media(INSTANCE, record.id, {"stored": False, "error": "late failure"}, at=at(4))

    assert kept is not None and kept.media is not None
    assert kept.media["stored"] is True and "error" not in kept.media
    fetched = store.get_message(INSTANCE, record.id)
    assert fetched is not None and fetched.media == kept.media


def test_settling_a_record_without_media_or_an_unknown_id_changes_nothing(store: Store) -> None:
    plain = inbound(1)
    store.insert_inbound(plain)

    assert store.settle_media(INSTANCE, plain.id, {"stored": True}, at=at(3)) is None
    assert store.settle_media(INSTANCE, "msg_00000000000000000000000000", {"stored": True}, at=at(3)) is None
    fetched = store.get_message(INSTANCE, plain.id)
    assert fetched is not None and fetched.media is None


def test_a_phone_typed_message_with_media_waits_but_never_emits_message_received(store: Store) -> None:
    record = outbound(1, message_id="OUT1", origin="phone", status="sent", type="image", text=None, media=PDF)
    assert store.insert_inbound(record)

    store.settle_media(INSTANCE, record.id, {"stored": True, "size": 5, "sha256": "cd" * 32}, at=at(3))

    assert received(store) == []
    assert store.media_waiting(INSTANCE, before=at(59), limit=10) == []


def test_waiting_lists_the_oldest_first_and_only_those_older_than_the_cut(store: Store) -> None:
    records = [inbound(n, type="image", text=None, media=PDF) for n in (5, 1, 3)]
    for record in records:
        store.insert_inbound(record)

    assert store.media_waiting(INSTANCE, before=at(4), limit=10) == [records[1].id, records[2].id]
    assert store.media_waiting(INSTANCE, before=at(59), limit=1) == [records[1].id]
    assert store.media_waiting("another-instance", before=at(59), limit=10) == []


def test_concurrent_settles_emit_exactly_one_event(store: Store) -> None:
    record = inbound(1, type="document", text=None, media=PDF)
    store.insert_inbound(record)

    results = race(4, lambda: store.settle_media(INSTANCE, record.id, {"stored": True, "size": 5}, at=at(3)))

    assert all(r is not None and r.media is not None and r.media["stored"] for r in results)
    assert len(received(store)) == 1
