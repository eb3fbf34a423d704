"""The write-ahead send contract (SendStore) and leased claims, run against every backend."""

from __future__ import annotations

import pytest

from chalicelib.store import Store
from chalicelib.store.base import LEASE_S, ClaimLostError
from tests.store.conftest import DAY, INSTANCE, JID, NOW, at, history, msg_id, outbound

REPLY = (201, {"id": msg_id(1), "message_id": "WA1"}, {"X-Request-Id": "r1"})


def _claim(store: Store, key: str = "key-1", now: float = NOW) -> str:
    claim = store.claim_idempotency(key, "fp", now=now, ttl_s=DAY)
    assert claim.claimed
    return claim.record.writer


def test_a_send_written_ahead_is_a_pending_record_its_claim_points_at(store: Store) -> None:
    writer = _claim(store)

    store.begin_send(outbound(1), key="key-1", writer=writer)

    assert store.get_message(INSTANCE, msg_id(1)) == outbound(1)
    seen = store.claim_idempotency("key-1", "fp", now=NOW + 1, ttl_s=DAY)
    assert not seen.claimed
    assert seen.record.record_id == msg_id(1)
    assert seen.record.state == "in_progress"
    assert seen.record.lease_until == NOW + LEASE_S


def test_a_send_is_not_written_ahead_under_a_claim_that_is_no_longer_ours(store: Store) -> None:
    _claim(store)

    with pytest.raises(ClaimLostError):
        store.begin_send(outbound(1), key="key-1", writer="someone-else")

    assert store.get_message(INSTANCE, msg_id(1)) is None


def test_settling_replaces_the_provisional_status_attaches_the_id_and_completes_the_claim(
    store: Store,
) -> None:
    writer = _claim(store)
    store.begin_send(outbound(1), key="key-1", writer=writer)
    store.apply_status(INSTANCE, "WA1", "delivered", at=at(3))  # the ack beat the answer

    settled = store.finish_send(
        msg_id(1), "pending", at=at(2), message_id="WA1", jid=JID, key="key-1", response=REPLY
    )

    assert settled is not None
    assert history(settled) == [("pending", at(2)), ("delivered", at(3))]
    assert store.get_message(INSTANCE, "WA1") == settled
    replay = store.claim_idempotency("key-1", "fp", now=NOW + 5, ttl_s=DAY)
    assert replay.record.state == "done"
    assert (replay.record.status_code, replay.record.body, replay.record.headers) == REPLY


def test_an_unknown_outcome_replaces_the_provisional_pending_and_lists_it_for_reconciliation(
    store: Store,
) -> None:
    store.begin_send(outbound(1))

    settled = store.finish_send(msg_id(1), "unknown", at=at(2), error={"code": "UpstreamTimeout"})

    assert settled is not None and history(settled) == [("unknown", at(2))]
    assert settled.error == {"code": "UpstreamTimeout"}
    found = store.find_unknown_sends(INSTANCE, jid=JID, fingerprint="fp-1", since=at(0))
    assert [r.id for r in found] == [msg_id(1)]


def test_a_record_a_webhook_settled_first_keeps_its_id_and_only_moves_forward(store: Store) -> None:
    store.begin_send(outbound(1))
    store.attach_message_id(msg_id(1), "WA1", at=at(2), status="sent")

    settled = store.finish_send(msg_id(1), "pending", at=at(3), message_id="WA1")
    again = store.finish_send(msg_id(1), "unknown", at=at(4))

    assert settled is not None and settled.message_id == "WA1"
    assert settled.status == "sent"
    assert again == settled


def test_an_id_a_twin_already_holds_is_not_given_to_a_second_record(store: Store) -> None:
    store.begin_send(outbound(1))
    store.begin_send(outbound(2))
    store.attach_message_id(msg_id(2), "WA1", at=at(2), status="pending")  # reconciled to the twin

    settled = store.finish_send(msg_id(1), "pending", at=at(3), message_id="WA1")

    assert settled is not None and settled.message_id is None
    assert store.get_message(INSTANCE, "WA1") is not None
    assert store.get_message(INSTANCE, "WA1").id == msg_id(2)  # type: ignore[union-attr]


def test_settling_a_missing_record_still_completes_the_claim(store: Store) -> None:
    _claim(store)

    assert store.finish_send(msg_id(9), "unknown", at=at(1), key="key-1", response=REPLY) is None

    assert store.claim_idempotency("key-1", "fp", now=NOW + 1, ttl_s=DAY).record.status_code == 201


def test_a_send_that_never_left_is_abandoned_record_and_claim_alike(store: Store) -> None:
    writer = _claim(store)
    store.begin_send(outbound(1), key="key-1", writer=writer)

    store.abandon_send(msg_id(1), key="key-1", writer=writer)

    assert store.get_message(INSTANCE, msg_id(1)) is None
    assert store.find_unknown_sends(INSTANCE, jid=JID, fingerprint="fp-1", since=at(0)) == []
    assert store.claim_idempotency("key-1", "fp", now=NOW + 1, ttl_s=DAY).claimed


def test_abandoning_keeps_a_record_that_was_settled_meanwhile(store: Store) -> None:
    store.begin_send(outbound(1))
    store.attach_message_id(msg_id(1), "WA1", at=at(2))

    store.abandon_send(msg_id(1))

    assert store.get_message(INSTANCE, "WA1") is not None


# -- leases ------------------------------------------------------------------------------------------


def test_a_claim_whose_lease_ran_out_before_it_wrote_ahead_can_be_claimed_again(store: Store) -> None:
    stale = _claim(store)

    during = store.claim_idempotency("key-1", "fp", now=NOW + LEASE_S - 1, ttl_s=DAY)
    after = store.claim_idempotency("key-1", "fp", now=NOW + LEASE_S, ttl_s=DAY)

    assert not during.claimed
    assert after.claimed and after.record.writer != stale
    with pytest.raises(ClaimLostError):
        store.begin_send(outbound(1), key="key-1", writer=stale)


def test_a_claim_that_wrote_a_send_ahead_is_never_claimed_again_while_the_key_lives(store: Store) -> None:
    writer = _claim(store)
    store.begin_send(outbound(1), key="key-1", writer=writer)

    later = store.claim_idempotency("key-1", "fp", now=NOW + LEASE_S * 10, ttl_s=DAY)

    assert not later.claimed and later.record.record_id == msg_id(1)


def test_a_release_with_a_writer_only_releases_that_writers_claim(store: Store) -> None:
    _claim(store)

    store.release_idempotency("key-1", writer="someone-else")
    assert not store.claim_idempotency("key-1", "fp", now=NOW + 1, ttl_s=DAY).claimed
