"""The dispatcher over a real SQLite store, with fakes for the transport and the senders: the relay
fans out once, a job's token guards its attempt, the sweeper re-queues lost jobs, EventBridge."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from chalicelib.events.dispatch import DELIVER, Dispatcher
from chalicelib.events.http import AttemptResult
from chalicelib.events.types import Event, new_event_id
from chalicelib.jobs.envelope import Job
from chalicelib.jobs.registry import DONE, Registry, RunAgain
from chalicelib.jobs.runner import run_job
from chalicelib.models.events import Destination
from chalicelib.store.sqlite import SQLiteStore
from chalicelib.urlguard import URLPolicy
from tests.jobs.fakes import ListTransport
from tests.store.conftest import INSTANCE, inbound

KEY = "k" * 40


class Senders:
    def __init__(self, *verdicts: AttemptResult) -> None:
        self.verdicts = list(verdicts)
        self.posts: list[tuple[str, str, dict[str, str]]] = []
        self.puts: list[tuple[str, Event]] = []

    def post(self, url: str, body: str, headers: dict[str, str], **kwargs: Any) -> AttemptResult:
        self.posts.append((url, body, headers))
        return self.verdicts.pop(0) if self.verdicts else AttemptResult("delivered", 204)

    def put(self, bus: str, event: Event) -> AttemptResult:
        self.puts.append((bus, event))
        return self.verdicts.pop(0) if self.verdicts else AttemptResult("delivered", 200)


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    return SQLiteStore(str(tmp_path / "store.db"))


def dispatcher(
    store: SQLiteStore, senders: Senders, transport: ListTransport, now: float = 1000.0
) -> Dispatcher:
    return Dispatcher(
        store=store,
        instance=INSTANCE,
        transport=transport,
        signing_key=lambda: KEY,
        policy=URLPolicy,
        post=senders.post,
        put_bus=senders.put,
        clock=lambda: now,
    )


def destination(store: SQLiteStore, n: int = 1, **fields: Any) -> Destination:
    values: dict[str, Any] = {
        "id": f"dst_{n:026d}",
        "instance": INSTANCE,
        "url": "https://crm.example/hooks",
        "salt": "s",
        "created_at": "2026-11-25T10:00:00.000Z",
        "updated_at": "2026-11-25T10:00:00.000Z",
    }
    values.update(fields)
    dst = Destination.model_validate(values)
    store.put_destination(dst, limit=50)
    return dst


def run(d: Dispatcher, transport: ListTransport, now: float = 1000.0) -> list[Any]:
    registry = Registry()
    d.register(registry)
    outcomes = []
    while transport.jobs:
        job = transport.jobs.pop(0)
        outcomes.append(run_job(job.again(not_before=0), registry=registry, transport=transport, now=now))
        if len(outcomes) > 50:
            break
    return outcomes


def test_the_relay_fans_an_event_out_once_per_matching_destination(store: SQLiteStore) -> None:
    senders, transport = Senders(), ListTransport()
    all_types = destination(store, 1)
    destination(store, 2, events=["message.status"])
    bus = destination(
        store, 3, url=None, eventbridge_bus="arn:aws:events:us-east-1:123456789012:event-bus/crm"
    )
    store.insert_inbound(inbound(1, instance=INSTANCE))
    d = dispatcher(store, senders, transport)

    assert d.relay() == 2
    assert d.relay() == 0  # dispatched: nothing more
    run(d, transport)

    ((url, body, headers),) = senders.posts
    assert url == all_types.url and '"message.received"' in body
    assert headers["webhook-signature"].startswith("v1,")
    ((arn, event),) = senders.puts
    assert arn == bus.eventbridge_bus and event.type == "message.received"


def test_a_duplicate_job_for_an_attempt_already_recorded_does_nothing(store: SQLiteStore) -> None:
    senders, transport = Senders(AttemptResult("retry", 500, "500")), ListTransport()
    destination(store)
    store.insert_inbound(inbound(1, instance=INSTANCE))
    d = dispatcher(store, senders, transport)
    d.relay()
    first = transport.jobs.pop()
    registry = Registry()
    d.register(registry)

    assert isinstance(run_job(first, registry=registry, transport=transport, now=1000.0), RunAgain)
    assert (
        run_job(first, registry=registry, transport=transport, now=1000.0) == DONE
    )  # SQS delivered it twice

    assert len(senders.posts) == 1
    (retry,) = transport.jobs
    assert (retry.kind, retry.attempt) == (DELIVER, 2)
    assert 4 <= retry.not_before - 1000.0 <= 6  # about 5 s


def test_a_refused_url_is_not_requested_and_is_retried_later(store: SQLiteStore) -> None:
    transport = ListTransport()
    destination(store, url="https://10.0.0.1/hooks")
    store.insert_inbound(inbound(1, instance=INSTANCE))
    d = Dispatcher(
        store=store,
        instance=INSTANCE,
        transport=transport,
        signing_key=lambda: KEY,
        policy=URLPolicy,  # the production policy: private targets refused
        clock=lambda: 1000.0,
    )
    d.relay()

    registry = Registry()
    d.register(registry)
    outcome = run_job(transport.jobs.pop(), registry=registry, transport=transport, now=1000.0)

    assert isinstance(outcome, RunAgain)
    (delivery,) = store.list_deliveries(f"dst_{1:026d}")[0]
    assert delivery.status == "pending" and "private" in (delivery.last_error or "")
    assert delivery.last_status_code is None


def test_the_sweeper_requeues_a_pending_delivery_whose_job_was_lost(store: SQLiteStore) -> None:
    senders, transport = Senders(), ListTransport()
    destination(store)
    store.insert_inbound(inbound(1, instance=INSTANCE))
    dispatcher(store, senders, transport, now=1000.0).relay()
    transport.jobs.clear()  # the process died before the job reached the queue

    assert dispatcher(store, senders, transport, now=1000.0 + 60).sweep() == 0  # not overdue yet
    later = dispatcher(store, senders, transport, now=1000.0 + 3600)
    assert later.sweep() == 1
    run(later, transport, now=1000.0 + 3600)

    assert len(senders.posts) == 1
    ((delivery,), _) = store.list_deliveries(f"dst_{1:026d}")
    assert delivery.status == "delivered"


def test_a_disabled_destination_or_an_expired_event_fails_the_delivery_without_sending(
    store: SQLiteStore,
) -> None:
    senders, transport = Senders(), ListTransport()
    dst = destination(store)
    store.insert_inbound(inbound(1, instance=INSTANCE))
    d = dispatcher(store, senders, transport)
    d.relay()
    store.disable_destination(INSTANCE, dst.id, reason="the destination answered 410 Gone")
    run(d, transport)

    assert senders.posts == []
    ((delivery,), _) = store.list_deliveries(dst.id)
    assert (delivery.status, delivery.attempts) == ("failed", 0)
    assert delivery.last_error == "the destination is disabled"


def test_replay_reopens_a_delivered_event_under_the_same_id(store: SQLiteStore) -> None:
    senders, transport = Senders(), ListTransport()
    dst = destination(store)
    event = Event(
        id=new_event_id(), type="ping", created_at="2026-11-25T10:00:00.000Z", instance=INSTANCE, data={}
    )
    store.add_event(event, dispatched=True)
    d = dispatcher(store, senders, transport)
    d.open(dst, event)
    run(d, transport)

    assert d.replay(dst, [event]) == 1
    run(d, transport)

    assert [h["webhook-id"] for _, _, h in senders.posts] == [event.id, event.id]
    ((delivery,), _) = store.list_deliveries(dst.id)
    assert (delivery.status, delivery.attempts, delivery.token) == ("delivered", 2, 2)


def test_a_job_for_a_deleted_destination_is_done(store: SQLiteStore) -> None:
    senders, transport = Senders(), ListTransport()
    dst = destination(store)
    store.insert_inbound(inbound(1, instance=INSTANCE))
    d = dispatcher(store, senders, transport)
    d.relay()
    store.delete_destination(INSTANCE, dst.id)

    assert run(d, transport) == [DONE]
    assert senders.posts == []


def test_the_deliver_job_carries_only_ids() -> None:
    job = Job(kind=DELIVER, payload={"destination": "dst_1", "event": "evt_1"})
    assert set(job.payload) == {"destination", "event"}
    assert time.time() >= job.not_before
