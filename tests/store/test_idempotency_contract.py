"""The idempotency contract (IdempotencyStore), run against every backend."""

from __future__ import annotations

from typing import Any

from chalicelib.store import Store
from tests.store.conftest import DAY, NOW, msg_id, race

# -- idempotency ---------------------------------------------------------------------------------


def test_the_first_claim_wins_and_a_second_sees_the_live_in_progress_record(store: Store) -> None:
    first = store.claim_idempotency("key-1", "fp-a", now=NOW, ttl_s=DAY)
    second = store.claim_idempotency("key-1", "fp-b", now=NOW + 5, ttl_s=DAY)

    assert first.claimed and first.record.state == "in_progress"
    assert not second.claimed
    assert second.record.fingerprint == "fp-a"
    assert second.record.state == "in_progress"
    assert second.record.created_at == NOW
    assert second.record.body is None and second.record.headers == {}


def test_a_completed_claim_replays_its_status_body_and_headers(store: Store) -> None:
    body: dict[str, Any] = {"id": msg_id(1), "status": "pending", "location": {"lat": -23.55}}
    store.claim_idempotency("key-1", "fp-a", now=NOW, ttl_s=DAY)
    store.complete_idempotency("key-1", status_code=201, body=body, headers={"X-Request-Id": "r1"})

    replay = store.claim_idempotency("key-1", "fp-a", now=NOW + 60, ttl_s=DAY)

    assert not replay.claimed
    assert replay.record.state == "done"
    assert replay.record.status_code == 201
    assert replay.record.body == body
    assert replay.record.headers == {"X-Request-Id": "r1"}


def test_releasing_an_in_progress_claim_frees_the_key(store: Store) -> None:
    store.claim_idempotency("key-1", "fp-a", now=NOW, ttl_s=DAY)
    store.release_idempotency("key-1")

    assert store.claim_idempotency("key-1", "fp-b", now=NOW + 1, ttl_s=DAY).claimed


def test_releasing_a_completed_claim_keeps_it_for_replay(store: Store) -> None:
    store.claim_idempotency("key-1", "fp-a", now=NOW, ttl_s=DAY)
    store.complete_idempotency("key-1", status_code=201, body={"id": "x"})
    store.release_idempotency("key-1")
    store.release_idempotency("never-claimed")

    again = store.claim_idempotency("key-1", "fp-a", now=NOW + 1, ttl_s=DAY)
    assert not again.claimed and again.record.state == "done"


def test_an_expired_claim_is_treated_as_absent_even_before_it_is_deleted(store: Store) -> None:
    store.claim_idempotency("key-1", "fp-a", now=NOW, ttl_s=60)
    store.complete_idempotency("key-1", status_code=201, body={"id": "x"})

    assert not store.claim_idempotency("key-1", "fp-b", now=NOW + 59, ttl_s=60).claimed
    fresh = store.claim_idempotency("key-1", "fp-b", now=NOW + 60, ttl_s=60)
    assert fresh.claimed
    assert fresh.record.fingerprint == "fp-b" and fresh.record.expires_at == NOW + 120


def test_eight_threads_racing_one_idempotency_key_yield_exactly_one_claim(store: Store) -> None:
    results = race(8, lambda: store.claim_idempotency("hot-key", "fp", now=NOW, ttl_s=DAY))

    assert sum(r.claimed for r in results) == 1
    assert all(r.record.fingerprint == "fp" for r in results)
