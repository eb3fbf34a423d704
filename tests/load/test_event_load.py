"""Event delivery under a hostile sink: every event arrives, none is lost, duplicates only under
the same ``webhook-id``. The sink answers 500 to 30 % of attempts and hangs on 5 % (past the
delivery timeout). The full run (5,000 events) is ``make load``; the default suite runs 300.

Webhooks go through the Lambda handler in process (one after the other: chalice keeps the current
request on the app object), while the local worker delivers concurrently. The delivery timeout is
2 s here instead of 10 s and the retry schedule runs 1,000 times faster, so the run takes minutes,
not hours; the code paths are the same.
"""

from __future__ import annotations

import collections
import json
import random
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from tests.conftest import API_KEY, INSTANCE, REPO, WEBHOOK_SECRET, load_webhook
from tests.sink import Sink, running_sink

FAIL_RATE, HANG_RATE = 0.30, 0.05
REPORT = REPO / "build" / "events-load-report.txt"


@pytest.fixture
def service(service_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from app import app
    from chalicelib import deps

    monkeypatch.setenv("EVENTS_RETRY_SCALE", "0.001")
    monkeypatch.setenv("EVENTS_DELIVERY_TIMEOUT", "2")
    monkeypatch.setenv("LOCAL_WORKER_THREADS", "32")
    monkeypatch.setenv("LOG_LEVEL", "ERROR")
    deps.reset()
    yield app
    deps.reset()


def _call(app: Any, method: str, path: str, body: Any, headers: dict[str, str]) -> dict[str, Any]:
    from bench.lambda_event import LambdaContext, rest_event

    event = rest_event(method, path, path, body=json.dumps(body), headers=headers)
    answer: dict[str, Any] = app(event, LambdaContext())
    return answer


def hostile(seed: int) -> Any:
    rng = random.Random(seed)
    lock = threading.Lock()

    def behaviour(headers: dict[str, str], body: bytes) -> int | str:
        with lock:
            roll = rng.random()
        if roll < HANG_RATE:
            return "hang"
        return 500 if roll < HANG_RATE + FAIL_RATE else 204

    return behaviour


def run_load(app: Any, count: int, *, timeout: float) -> dict[str, Any]:
    from chalicelib.deps import get_store

    with running_sink(hostile(count), hang_s=3) as sink:
        auth = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
        created = _call(
            app, "POST", "/event-destinations", {"url": sink.url, "events": ["message.received"]}, auth
        )
        assert created["statusCode"] == 201, created["body"]
        destination = json.loads(created["body"])
        template = load_webhook("messages.upsert.text") | {"instance": INSTANCE}
        hook = {"Content-Type": "application/json", "X-Webhook-Secret": WEBHOOK_SECRET}
        message_ids = [f"3ALOAD{uuid.uuid4().hex[:14].upper()}" for _ in range(count)]
        started = time.monotonic()
        for message_id in message_ids:
            body = json.loads(json.dumps(template))
            body["data"]["key"]["id"] = message_id
            answer = _call(app, "POST", "/webhook", body, hook)
            assert answer["statusCode"] == 200, answer["body"]
        posted = time.monotonic() - started

        def all_delivered() -> bool:
            return len({_message_id(r.body) for r in sink.answered(204)}) >= count

        while not all_delivered():
            assert time.monotonic() - started < timeout, _progress(sink, count)
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        deliveries = _all_deliveries(get_store(), destination["id"])
        outbox = get_store().undispatched_events(INSTANCE, limit=10)
        received = list(sink.received)
    return {
        "count": count,
        "message_ids": message_ids,
        "secret": destination["secret"],
        "received": received,
        "deliveries": deliveries,
        "outbox": outbox,
        "posted_s": posted,
        "elapsed_s": elapsed,
    }


def _message_id(body: bytes) -> str:
    return str(json.loads(body)["data"]["message_id"])


def _progress(sink: Sink, count: int) -> str:
    done = len({_message_id(r.body) for r in sink.answered(204)})
    return f"only {done} of {count} events delivered ({len(sink.received)} attempts so far)"


def _all_deliveries(store: Any, destination_id: str) -> list[Any]:
    items, cursor = store.list_deliveries(destination_id, limit=100)
    while cursor is not None:
        more, cursor = store.list_deliveries(destination_id, limit=100, after=cursor)
        items += more
    return list(items)


def check(result: dict[str, Any]) -> dict[str, int]:
    verifier = Webhook(result["secret"])
    ids_by_message: dict[str, set[str]] = collections.defaultdict(set)
    delivered = collections.Counter()
    for request in result["received"]:
        event = json.loads(request.body)
        assert request.headers["webhook-id"] == event["id"]
        ids_by_message[event["data"]["message_id"]].add(event["id"])
        if request.status == 204:
            verifier.verify(request.body, request.headers)
            delivered[event["id"]] += 1
    lost = set(result["message_ids"]) - set(ids_by_message)
    assert not lost, f"{len(lost)} events never reached the sink"
    split = {m: ids for m, ids in ids_by_message.items() if len(ids) != 1}
    assert not split, f"{len(split)} messages arrived under more than one webhook-id"
    assert len(delivered) == result["count"]
    statuses = collections.Counter(d.status for d in result["deliveries"])
    assert statuses == {"delivered": result["count"]}, statuses
    assert result["outbox"] == []
    statuses_seen = collections.Counter(str(r.status) for r in result["received"])
    return {
        "events": result["count"],
        "attempts": len(result["received"]),
        "answered_500": statuses_seen["500"],
        "hung": statuses_seen["hang"],
        "delivered_events": len(delivered),
        "delivered_more_than_once": sum(1 for n in delivered.values() if n > 1),
        "max_attempts_of_one_event": max(d.attempts for d in result["deliveries"]),
    }


def report(figures: dict[str, int], result: dict[str, Any]) -> str:
    lines = [
        f"event load: {figures['events']} events, sink answering 500 to {FAIL_RATE:.0%} of attempts and "
        f"hanging on {HANG_RATE:.0%} (3 s, past the 2 s delivery timeout)",
        f"  webhooks posted in {result['posted_s']:.1f} s; every event delivered after {result['elapsed_s']:.1f} s",
        f"  attempts {figures['attempts']} (500: {figures['answered_500']}, hung: {figures['hung']}), "
        f"max attempts for one event {figures['max_attempts_of_one_event']}",
        f"  lost 0; delivered {figures['delivered_events']}; delivered more than once (same webhook-id) "
        f"{figures['delivered_more_than_once']}; events under two webhook-ids 0",
    ]
    return "\n".join(lines)


def test_300_events_to_a_hostile_sink_all_arrive_once_per_webhook_id(service: Any) -> None:
    result = run_load(service, 300, timeout=180)
    figures = check(result)

    assert figures["answered_500"] > 0 and figures["hung"] > 0  # the sink was hostile


@pytest.mark.load
def test_5000_events_to_a_hostile_sink_all_arrive_once_per_webhook_id(service: Any) -> None:
    result = run_load(service, 5000, timeout=900)
    figures = check(result)

    text = report(figures, result)
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(text + "\n")
    print(text)  # noqa: T201 - `make load` shows the figures
