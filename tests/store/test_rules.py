"""The store's domain rules, once for every backend: folding, unresolved sends, expiry, field checks."""

from __future__ import annotations

import pytest

from chalicelib.store.rules import (
    OrphanStatus,
    attached_status,
    check_instance_fields,
    fold,
    fold_steps,
    inbound_message_id,
    is_live,
    is_unresolved_send,
)
from tests.store.conftest import JID, at, inbound, outbound


def test_fold_steps_go_in_time_order_and_never_date_a_step_before_the_record() -> None:
    record = outbound(10, message_id="WA1")
    orphans = [OrphanStatus("read", at(20)), OrphanStatus("delivered", at(5)), OrphanStatus("sent", at(5))]

    steps = [(o.status, updated_at) for o, updated_at in fold_steps(record, orphans)]

    assert steps == [("sent", at(10)), ("delivered", at(10)), ("read", at(20))]


def test_folding_moves_forward_only_and_says_whether_anything_applied() -> None:
    record = outbound(1, message_id="WA1", status="read")

    unchanged, changed = fold(record, [OrphanStatus("delivered", at(2))])
    moved, moved_changed = fold(record, [OrphanStatus("played", at(3))])

    assert (unchanged, changed) == (record, False)
    assert moved_changed and moved.status == "played" and moved.updated_at == at(3)


def test_an_attached_status_is_checked_and_an_absent_one_adds_nothing() -> None:
    assert attached_status(None, at(1)) == []
    assert attached_status("sent", at(1)) == [OrphanStatus("sent", at(1))]
    with pytest.raises(ValueError, match="unknown message status"):
        attached_status("gone", at(1))


def test_an_inbound_record_without_a_whatsapp_id_is_refused() -> None:
    assert inbound_message_id(inbound(1)) == "IN000001"
    with pytest.raises(ValueError, match="message_id"):
        inbound_message_id(inbound(1, message_id=None))


def test_an_unresolved_send_is_an_unknown_outbound_record_without_an_id_since_a_time() -> None:
    timed_out = outbound(5, status="unknown")
    match = {"jid": JID, "fingerprint": "fp-1"}

    assert is_unresolved_send(timed_out, since="2026-11-25T09:00:05-01:00", **match)
    assert not is_unresolved_send(timed_out, since=at(6), **match)
    assert not is_unresolved_send(timed_out, since=at(0), jid=JID, fingerprint="fp-2")
    assert not is_unresolved_send(outbound(5, status="sent"), since=at(0), **match)
    assert not is_unresolved_send(outbound(5, status="unknown", message_id="WA5"), since=at(0), **match)


def test_an_item_is_live_strictly_before_its_expiry() -> None:
    assert is_live(100.0, 99.9)
    assert not is_live(100.0, 100.0)


@pytest.mark.parametrize(
    ("fields", "message"),
    [({"colour": "blue"}, "colour"), ({"instance": "other"}, "instance"), ({"restart_attempts": "x"}, "int")],
)
def test_instance_state_fields_are_checked_by_name_and_type(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_instance_fields("acme", fields)
    check_instance_fields("acme", {"state": "open", "next_restart_at": None})
