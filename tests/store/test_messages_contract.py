"""The message contract (MessageStore), run against every backend."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from chalicelib.models.records import MessageRecord
from chalicelib.store import DuplicateMessageError, Store
from tests.store.conftest import INSTANCE, JID, Backend, at, history, inbound, msg_id, outbound, race

# -- inbound -------------------------------------------------------------------------------------


def test_an_inbound_message_is_stored_once_and_a_redelivery_changes_nothing(store: Store) -> None:
    assert store.insert_inbound(inbound(1, text="first"))
    assert not store.insert_inbound(inbound(2, message_id="IN000001", text="second"))

    stored = store.get_message(INSTANCE, "IN000001")
    assert stored is not None and stored.id == msg_id(1) and stored.text == "first"
    assert store.get_message(INSTANCE, msg_id(2)) is None


def test_eight_threads_inserting_the_same_inbound_event_store_it_exactly_once(
    store: Store,
) -> None:
    counter = iter(range(100, 200))
    lock = threading.Lock()

    def insert() -> bool:
        with lock:
            n = next(counter)
        return store.insert_inbound(inbound(n, message_id="IN-RACE"))

    assert sorted(race(8, insert)) == [False] * 7 + [True]
    page = store.list_messages(INSTANCE, direction="inbound", status=None, after=None, limit=50)
    assert [r.message_id for r in page.items] == ["IN-RACE"]


# -- statuses ------------------------------------------------------------------------------------


def test_read_before_delivery_ack_ends_at_read_with_a_correct_history(store: Store) -> None:
    store.create_message(outbound(1, message_id="WA1"))

    read = store.apply_status(INSTANCE, "WA1", "read", at=at(5))
    late = store.apply_status(INSTANCE, "WA1", "delivered", at=at(3))

    assert read.found and read.applied
    assert late.found and not late.applied
    assert late.record is not None and late.record.status == "read"
    stored = store.get_message(INSTANCE, "WA1")
    assert stored is not None and stored.status == "read" and stored.updated_at == at(5)
    assert history(stored) == [("pending", at(1)), ("read", at(5))]


def test_statuses_in_order_build_the_whole_history_and_duplicates_are_no_ops(
    store: Store,
) -> None:
    store.create_message(outbound(1, message_id="WA1"))
    for step, status in enumerate(["sent", "delivered", "delivered", "read", "played"], start=2):
        store.apply_status(INSTANCE, "WA1", status, at=at(step))

    assert history(store.get_message(INSTANCE, "WA1")) == [
        ("pending", at(1)),
        ("sent", at(2)),
        ("delivered", at(3)),
        ("read", at(5)),
        ("played", at(6)),
    ]


def test_failed_overrides_sent_and_yields_to_a_later_delivered_but_not_to_sent(
    store: Store,
) -> None:
    store.create_message(outbound(1, message_id="WA1"))
    store.apply_status(INSTANCE, "WA1", "sent", at=at(2))
    error = {"code": "131026", "message": "Message undeliverable"}

    failed = store.apply_status(INSTANCE, "WA1", "failed", at=at(3), error=error)
    resent = store.apply_status(INSTANCE, "WA1", "sent", at=at(4))
    delivered = store.apply_status(INSTANCE, "WA1", "delivered", at=at(5))

    assert failed.applied and failed.record is not None and failed.record.error == error
    assert not resent.applied
    assert delivered.applied and delivered.record is not None
    assert delivered.record.status == "delivered"
    assert [s for s, _ in history(delivered.record)] == ["pending", "sent", "failed", "delivered"]


def test_an_inbound_message_takes_status_updates_too(store: Store) -> None:
    store.insert_inbound(inbound(1, status="delivered"))

    result = store.apply_status(INSTANCE, "IN000001", "read", at=at(9))

    assert result.applied and result.record is not None and result.record.status == "read"


def test_an_unknown_status_name_is_rejected(store: Store) -> None:
    store.create_message(outbound(1, message_id="WA1"))

    with pytest.raises(ValueError, match="status"):
        store.apply_status(INSTANCE, "WA1", "seen", at=at(2))


# -- orphans -------------------------------------------------------------------------------------


def test_statuses_for_an_unknown_message_id_are_kept_as_orphans(backend: Backend) -> None:
    result = backend.store.apply_status(INSTANCE, "WA-EARLY", "delivered", at=at(2))

    assert result == type(result)(found=False, applied=False, record=None, kept=True)
    assert backend.store.get_message(INSTANCE, "WA-EARLY") is None
    assert backend.orphans(INSTANCE, "WA-EARLY") == 1


def test_orphan_statuses_are_folded_in_time_order_when_the_message_is_created(
    backend: Backend,
) -> None:
    store = backend.store
    store.apply_status(INSTANCE, "WA1", "read", at=at(4))
    store.apply_status(INSTANCE, "WA1", "sent", at=at(2))
    store.apply_status(INSTANCE, "WA1", "delivered", at=at(3))
    store.apply_status(INSTANCE, "WA1", "delivered", at=at(3))

    created = store.create_message(outbound(1, message_id="WA1"))

    expected = [("pending", at(1)), ("sent", at(2)), ("delivered", at(3)), ("read", at(4))]
    assert created.status == "read" and history(created) == expected
    assert created.updated_at == at(4)
    assert history(store.get_message(INSTANCE, msg_id(1))) == expected
    assert backend.orphans(INSTANCE, "WA1") == 0
    assert not store.apply_status(INSTANCE, "WA1", "delivered", at=at(5)).applied


def test_orphans_older_than_the_record_never_move_updated_at_back(store: Store) -> None:
    store.apply_status(INSTANCE, "WA1", "sent", at=at(5))

    created = store.create_message(outbound(6, message_id="WA1"))

    assert created.status == "sent" and created.updated_at == at(6)
    assert history(created) == [("pending", at(6)), ("sent", at(5))]
    assert store.get_message(INSTANCE, "WA1") == created


def test_orphans_of_another_instance_are_not_folded(backend: Backend) -> None:
    backend.store.apply_status("other-instance", "WA1", "read", at=at(4))

    created = backend.store.create_message(outbound(1, message_id="WA1"))

    assert created.status == "pending"
    assert backend.orphans("other-instance", "WA1") == 1


def test_a_timed_out_send_is_reconciled_by_attaching_its_message_id(backend: Backend) -> None:
    store = backend.store
    store.create_message(outbound(1, status="unknown"))
    store.apply_status(INSTANCE, "WA1", "delivered", at=at(3))
    error = {"code": "131026", "message": "Message undeliverable"}
    store.apply_status(INSTANCE, "WA1", "failed", at=at(2), error=error)

    attached = store.attach_message_id(msg_id(1), "WA1", at=at(4), status="sent")

    assert attached is not None and attached.message_id == "WA1"
    assert attached.status == "delivered" and attached.updated_at == at(4)
    assert attached.error == error  # kept from the failed step; the history shows what followed
    assert history(attached) == [
        ("unknown", at(1)),
        ("failed", at(2)),
        ("delivered", at(3)),
    ]
    assert backend.orphans(INSTANCE, "WA1") == 0
    assert store.get_message(INSTANCE, "WA1") == attached
    assert store.find_unknown_sends(INSTANCE, jid=JID, fingerprint="fp-1", since=at(0)) == []


def test_attaching_with_no_orphans_applies_the_given_status(store: Store) -> None:
    store.create_message(outbound(1, status="unknown"))

    attached = store.attach_message_id(msg_id(1), "WA1", at=at(4), status="sent")

    assert attached is not None and attached.status == "sent" and attached.updated_at == at(4)
    assert history(attached) == [("unknown", at(1)), ("sent", at(4))]


def test_a_message_id_is_attached_only_once_and_only_to_an_existing_record(store: Store) -> None:
    store.create_message(outbound(1, status="unknown"))
    store.create_message(outbound(2, status="unknown"))

    assert store.attach_message_id(msg_id(1), "WA1", at=at(4)) is not None
    assert store.attach_message_id(msg_id(1), "WA2", at=at(5)) is None
    assert store.attach_message_id(msg_id(2), "WA1", at=at(5)) is None
    assert store.attach_message_id(msg_id(9), "WA9", at=at(5)) is None
    second = store.get_message(INSTANCE, msg_id(2))
    assert second is not None and second.message_id is None


# -- records -------------------------------------------------------------------------------------


def test_a_message_is_found_by_its_id_or_its_whatsapp_id_within_its_instance(
    store: Store,
) -> None:
    record = outbound(1, message_id="3EB0C0BD05DCA97A7C09CB", location={"latitude": -23.55})
    store.create_message(record)

    assert store.get_message(INSTANCE, msg_id(1)) == record
    assert store.get_message(INSTANCE, "3EB0C0BD05DCA97A7C09CB") == record
    assert store.get_message("other-instance", msg_id(1)) is None
    assert store.get_message(INSTANCE, msg_id(2)) is None
    assert store.get_message(INSTANCE, "nope") is None


def test_every_field_of_a_record_survives_the_round_trip(store: Store) -> None:
    record = outbound(
        1,
        message_id="WA1",
        reference="crm-4711",
        media={"type": "document", "url": "https://x/cv.pdf", "size": 12.5, "pages": 3},
        template={"name": "interview_reminder", "language": "es"},
        reaction={"message_id": "WA0", "emoji": "👍"},
        error={"code": "x", "message": "y", "detail": None},
    )
    store.create_message(record)

    assert store.get_message(INSTANCE, msg_id(1)) == record
    inbound_record = inbound(2, from_lid="123@lid", caption="photo")
    store.insert_inbound(inbound_record)
    assert store.get_message(INSTANCE, msg_id(2)) == inbound_record


def test_creating_a_message_twice_is_refused(store: Store) -> None:
    store.create_message(outbound(1, message_id="WA1"))

    with pytest.raises(DuplicateMessageError):
        store.create_message(outbound(1, message_id="WA1"))
    with pytest.raises(DuplicateMessageError):
        store.create_message(outbound(2, message_id="WA1"))
    assert store.get_message(INSTANCE, msg_id(2)) is None


# -- listing -------------------------------------------------------------------------------------


def _fill(store: Store, count: int = 25) -> list[MessageRecord]:
    """``count`` records alternating direction; every third outbound one is read."""
    records = []
    for n in range(count):
        if n % 2:
            record = inbound(n)
            store.insert_inbound(record)
        else:
            record = store.create_message(outbound(n, message_id=f"WA{n}"))
            if n % 3 == 0:
                read = store.apply_status(INSTANCE, f"WA{n}", "read", at=at(n + 1)).record
                assert read is not None
                record = read
        records.append(record)
    return records


def _all_pages(store: Store, limit: int, **filters: Any) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        page = store.list_messages(INSTANCE, after=cursor, limit=limit, **filters)
        pages.append([r.id for r in page.items])
        if page.next is None:
            return pages
        cursor = page.next
        assert len(pages) < 50, "paging does not end"


def test_listing_pages_newest_first_through_every_record_without_skip_or_repeat(
    store: Store,
) -> None:
    records = _fill(store)

    pages = _all_pages(store, 7, direction=None, status=None)

    assert [len(p) for p in pages] == [7, 7, 7, 4]
    assert [i for p in pages for i in p] == [r.id for r in reversed(records)]


@pytest.mark.parametrize(
    ("filters", "wanted"),
    [
        ({"direction": "inbound"}, lambda r: r.direction == "inbound"),
        ({"direction": "outbound"}, lambda r: r.direction == "outbound"),
        ({"status": "read"}, lambda r: r.status == "read"),
        ({"direction": "outbound", "status": "pending"}, lambda r: r.status == "pending"),
        ({"direction": "inbound", "status": "read"}, lambda r: False),
    ],
)
def test_listing_with_filters_pages_through_exactly_the_matching_records(
    store: Store, filters: dict[str, str], wanted: Callable[[MessageRecord], bool]
) -> None:
    records = _fill(store)

    pages = _all_pages(store, 7, **{"direction": None, "status": None, **filters})

    assert [i for p in pages for i in p] == [r.id for r in reversed(records) if wanted(r)]
    assert all(len(p) <= 7 for p in pages)


def test_listing_returns_full_records_and_keeps_instances_apart(store: Store) -> None:
    store.create_message(outbound(1, message_id="WA1"))
    store.create_message(outbound(2, instance="other-instance"))

    page = store.list_messages(INSTANCE, direction=None, status=None, after=None, limit=10)

    assert page.items == [outbound(1, message_id="WA1")]
    assert page.next is None


def test_an_empty_store_lists_nothing(store: Store) -> None:
    page = store.list_messages(INSTANCE, direction="outbound", status=None, after=None, limit=5)

    assert page.items == [] and page.next is None


@pytest.mark.parametrize(
    "cursor", ["", "garbage!", "bm90LWpzb24", "eyJ2IjoxfQ", "WzFd", "eyJ2IjoyLCJiZWZvcmUiOiJtc2dfIn0"]
)
def test_a_bad_cursor_is_a_value_error(store: Store, cursor: str) -> None:
    with pytest.raises(ValueError, match="cursor"):
        store.list_messages(INSTANCE, direction=None, status=None, after=cursor, limit=5)


def test_bad_list_filters_are_value_errors(store: Store) -> None:
    with pytest.raises(ValueError, match="direction"):
        store.list_messages(INSTANCE, direction="sideways", status=None, after=None, limit=5)
    with pytest.raises(ValueError, match="status"):
        store.list_messages(INSTANCE, direction=None, status="seen", after=None, limit=5)
    with pytest.raises(ValueError, match="limit"):
        store.list_messages(INSTANCE, direction=None, status=None, after=None, limit=0)


# -- reconciling timed-out sends -----------------------------------------------------------------


def test_find_unknown_sends_returns_only_matching_unresolved_timed_out_sends(
    store: Store,
) -> None:
    store.create_message(outbound(1, status="unknown"))  # too old
    store.create_message(outbound(10, status="unknown"))  # match
    store.create_message(outbound(11, status="unknown", fingerprint="fp-other"))
    store.create_message(outbound(12, status="unknown", jid="other@s.whatsapp.net"))
    store.create_message(outbound(13, status="pending"))
    store.create_message(outbound(14, status="unknown", instance="other-instance"))
    store.create_message(outbound(15, status="unknown"))  # match
    store.create_message(outbound(16, status="unknown"))  # attached below
    store.attach_message_id(msg_id(16), "WA16", at=at(20))

    found = store.find_unknown_sends(INSTANCE, jid=JID, fingerprint="fp-1", since=at(10))

    assert [r.id for r in found] == [msg_id(10), msg_id(15)]


def test_find_unknown_sends_compares_times_not_strings(store: Store) -> None:
    store.create_message(outbound(1, status="unknown", created_at="2026-11-25T10:00:00.500Z"))

    since_before = "2026-11-25T10:00:00Z"
    since_after = "2026-11-25T10:00:00.900Z"
    assert len(store.find_unknown_sends(INSTANCE, jid=JID, fingerprint="fp-1", since=since_before)) == 1
    assert store.find_unknown_sends(INSTANCE, jid=JID, fingerprint="fp-1", since=since_after) == []


# -- parked send.message events ------------------------------------------------------------------


def test_an_orphan_status_says_whether_it_was_newly_kept(store: Store) -> None:
    first = store.apply_status("acme", "3EB0ORPHANKEPT", "delivered", at="2026-11-25T10:00:00.000Z")
    again = store.apply_status("acme", "3EB0ORPHANKEPT", "delivered", at="2026-11-25T10:00:01.000Z")
    assert (first.found, first.kept, first.duplicate) == (False, True, False)
    assert (again.found, again.kept, again.duplicate) == (False, False, True)


def test_a_parked_send_is_taken_once_then_gone(store: Store) -> None:
    park = {"jid": JID, "fingerprint": "fp1", "message_id": "3EB0PARK", "status": "pending", "ttl_s": 300}
    assert store.park_send(INSTANCE, now=1_000.0, **park) is True
    assert store.park_send(INSTANCE, now=1_001.0, **{**park, "message_id": "3EB0OTHER"}) is False
    assert store.take_parked_send(INSTANCE, jid=JID, fingerprint="fp2", now=1_002.0) is None
    assert store.take_parked_send(INSTANCE, jid=JID, fingerprint="fp1", now=1_002.0) == (
        "3EB0PARK",
        "pending",
    )
    assert store.take_parked_send(INSTANCE, jid=JID, fingerprint="fp1", now=1_003.0) is None
    assert store.park_send(INSTANCE, now=1_004.0, **{**park, "message_id": "3EB0AGAIN"}) is True


def test_an_expired_parked_send_is_neither_returned_nor_in_the_way(store: Store) -> None:
    park = {"jid": JID, "fingerprint": "fp", "status": "sent", "ttl_s": 300}
    assert store.park_send(INSTANCE, message_id="3EB0OLD", now=1_000.0, **park) is True
    assert store.park_send(INSTANCE, message_id="3EB0NEW", now=1_301.0, **park) is True
    assert store.take_parked_send(INSTANCE, jid=JID, fingerprint="fp", now=1_302.0) == ("3EB0NEW", "sent")
    assert store.park_send(INSTANCE, message_id="3EB0X", now=2_000.0, **park) is True
    assert store.take_parked_send(INSTANCE, jid=JID, fingerprint="fp", now=2_301.0) is None
