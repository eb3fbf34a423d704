"""/event-destinations through the Chalice test client, with the local worker delivering to a real
loopback sink: CRUD and validation, every event type end to end, signatures, retries, 410,
timeouts, replay, the type filter, duplicate webhooks."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from tests.conftest import INSTANCE, WEBHOOK_SECRET, auth, load_webhook
from tests.procs import wait_for
from tests.sink import Sink, running_sink

BUS = "arn:aws:events:us-east-1:123456789012:event-bus/crm"


@pytest.fixture
def api(service_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The app with a compressed retry schedule (1/10,000: a day of retries in about 9 s) and a
    1 s delivery timeout, so the retry paths run in test time."""
    from chalice.test import Client

    from app import app
    from chalicelib import deps
    from tests.conftest import REPO

    monkeypatch.setenv("EVENTS_RETRY_SCALE", "0.0001")
    monkeypatch.setenv("EVENTS_DELIVERY_TIMEOUT", "1")
    deps.reset()
    with Client(app, stage_name="dev", project_dir=str(REPO)) as client:
        yield client
    deps.reset()  # stops the worker before the sink goes away


def _json(response: Any) -> Any:
    return json.loads(response.body) if response.body else None


def _post(api: Any, path: str, body: Any = None) -> Any:
    raw = b"" if body is None else json.dumps(body).encode()
    return api.http.post(path, headers=auth(), body=raw)


def _create(api: Any, **body: Any) -> dict[str, Any]:
    response = _post(api, "/event-destinations", body)
    assert response.status_code == 201, response.body
    created: dict[str, Any] = _json(response)
    return created


def _hook(api: Any, name: str, **data: Any) -> dict[str, Any]:
    body = load_webhook(name)
    body["instance"] = INSTANCE
    if isinstance(body.get("data"), dict):
        body["data"].update(data)
        if "instance" in body["data"]:
            body["data"]["instance"] = INSTANCE
    response = api.http.post(
        "/webhook",
        headers={"Content-Type": "application/json", "X-Webhook-Secret": WEBHOOK_SECRET},
        body=json.dumps(body).encode(),
    )
    assert response.status_code == 200, response.body
    answer: dict[str, Any] = _json(response)
    return answer


def _verified(sink: Sink, secret: str) -> list[dict[str, Any]]:
    """Every event the sink received, each checked with the standardwebhooks verifier."""
    events = []
    for received in list(sink.received):
        if received.status != 204:
            continue
        event = Webhook(secret).verify(received.body, received.headers)
        assert received.headers["webhook-id"] == event["id"]
        events.append(event)
    return events


def _deliveries(api: Any, destination: str, query: str = "") -> list[dict[str, Any]]:
    response = api.http.get(f"/event-destinations/{destination}/deliveries{query}", headers=auth())
    assert response.status_code == 200, response.body
    items: list[dict[str, Any]] = _json(response)["items"]
    return items


# -- CRUD and validation -----------------------------------------------------------------------


def test_a_destination_is_created_with_its_secret_shown_once(api: Any) -> None:
    created = _create(api, url="http://127.0.0.1:9/hooks", events=["message.status"], description="CRM")

    assert created["id"].startswith("dst_")
    assert created["secret"].startswith("whsec_")
    assert (created["enabled"], created["events"], created["description"]) == (
        True,
        ["message.status"],
        "CRM",
    )
    listed = _json(api.http.get("/event-destinations", headers=auth()))["items"]
    one = _json(api.http.get(f"/event-destinations/{created['id']}", headers=auth()))
    assert listed == [one]
    assert "secret" not in one and "salt" not in one
    assert {k: v for k, v in created.items() if k != "secret"} == one


def test_an_eventbridge_destination_has_no_secret(api: Any) -> None:
    created = _create(api, eventbridge_bus=BUS)

    assert created["eventbridge_bus"] == BUS
    assert "secret" not in created and "url" not in created
    assert created["events"] is None


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"url": "https://crm.example/h", "events": ["message.sent"]}, "events"),
        ({"url": "https://crm.example/h", "events": "message.status"}, "events"),
        ({"url": "https://crm.example/h", "events": []}, "events"),
        ({"eventbridge_bus": "arn:aws:sqs:us-east-1:123456789012:q"}, "eventbridge_bus"),
        ({"url": "https://crm.example/h", "eventbridge_bus": BUS}, ""),
        ({}, ""),
        ({"url": "ftp://crm.example/h"}, "url"),
        ({"url": "http://crm.example.com/h"}, "url"),
        ({"url": "https://crm.example/h", "colour": "blue"}, "colour"),
        ({"url": "https://crm.example/h", "description": "x" * 201}, "description"),
    ],
)
def test_a_bad_destination_is_a_400_validation_error(api: Any, body: Any, where: str) -> None:
    response = _post(api, "/event-destinations", body)

    assert response.status_code == 400, response.body
    answer = _json(response)
    assert answer["Code"] == "ValidationError"
    assert any(where in d["loc"] or (not where) for d in answer["Details"]), answer


def test_a_body_that_is_not_json_or_too_large_is_refused(api: Any) -> None:
    bad = api.http.post("/event-destinations", headers=auth(), body=b"{nope")
    huge = _post(api, "/event-destinations", {"url": "https://crm.example/h", "description": "x" * 70_000})

    assert (bad.status_code, _json(bad)["Code"]) == (400, "BadRequestError")
    assert (huge.status_code, _json(huge)["Code"]) == (400, "ValidationError")


def test_unknown_ids_are_404_and_delete_is_204_once(api: Any) -> None:
    created = _create(api, url="http://127.0.0.1:9/hooks")
    path = f"/event-destinations/{created['id']}"

    assert api.http.delete(path, headers=auth()).status_code == 204
    assert api.http.delete(path, headers=auth()).status_code == 404
    for method, suffix in (("GET", ""), ("POST", "/test"), ("GET", "/deliveries"), ("POST", "/replay")):
        response = api.http.request(
            method, path + suffix, headers=auth(), body=b'{"since": "2026-01-01T00:00:00Z"}'
        )
        assert (response.status_code, _json(response)["Code"]) == (404, "NotFoundError"), (method, suffix)
    assert api.http.get("/event-destinations/nope", headers=auth()).status_code == 404


def test_the_routes_need_the_api_key(api: Any) -> None:
    assert api.http.get("/event-destinations").status_code == 401
    assert api.http.get("/event-destinations", headers=auth("wrong-key")).status_code == 403


def test_bad_deliveries_queries_and_replays_are_400(api: Any) -> None:
    created = _create(api, url="http://127.0.0.1:9/hooks")
    base = f"/event-destinations/{created['id']}"

    for query in ("?status=sent", "?limit=0", "?limit=101", "?after=garbage", "?colour=1"):
        response = api.http.get(f"{base}/deliveries{query}", headers=auth())
        assert (response.status_code, _json(response)["Code"]) == (400, "ValidationError"), query
    for body in (
        {},
        {"event_ids": []},
        {"event_ids": ["x"]},
        {"since": "yesterday"},
        {"event_ids": ["evt_1"], "since": "2026-01-01T00:00:00Z"},
    ):
        response = _post(api, f"{base}/replay", body)
        assert (response.status_code, _json(response)["Code"]) == (400, "ValidationError"), body


# -- delivery, end to end ------------------------------------------------------------------------


def test_every_event_type_arrives_signed_with_the_data_get_messages_returns(api: Any) -> None:
    with running_sink() as sink:
        created = _create(api, url=sink.url)
        secret = created["secret"]

        _hook(api, "messages.upsert.text")  # message.received
        inbound = _json(api.http.get("/messages?direction=inbound", headers=auth()))["items"][0]
        _hook(api, "connection.update.open")  # session.state
        _seed_outbound(api, "3EB0C0BD05DCA97A7C09CB")
        _hook(api, "messages.update.read")  # message.status
        ping = _json(_post(api, f"/event-destinations/{created['id']}/test"))

        events = wait_for(
            lambda: (e := _verified(sink, secret)) and len(e) >= 4 and e, timeout=15, what="four events"
        )

    by_type = {e["type"]: e for e in events}
    assert set(by_type) == {"message.received", "session.state", "message.status", "ping"}
    assert by_type["message.received"]["data"] == inbound
    assert by_type["session.state"]["data"]["state"] == "open"
    status = by_type["message.status"]["data"]
    assert status["status"] == "read"
    assert status == _json(api.http.get("/messages/3EB0C0BD05DCA97A7C09CB", headers=auth()))
    assert by_type["ping"]["id"] == ping["event_id"]
    for event in events:
        assert event["instance"] == INSTANCE
        assert set(event) == {"id", "type", "created_at", "instance", "data"}
    assert len({e["id"] for e in events}) == len(events)


def _seed_outbound(api: Any, message_id: str) -> None:
    from chalicelib.deps import get_store
    from tests.store.conftest import outbound

    get_store().create_message(outbound(1, instance=INSTANCE, message_id=message_id))


def test_the_type_filter_holds_but_ping_always_passes(api: Any) -> None:
    with running_sink() as sink:
        created = _create(api, url=sink.url, events=["message.status"])
        _hook(api, "messages.upsert.text")
        _hook(api, "connection.update.open")
        _post(api, f"/event-destinations/{created['id']}/test")

        events = wait_for(lambda: _verified(sink, created["secret"]), timeout=10, what="the ping")
        wait_for(lambda: not _pending_outbox(), timeout=10, what="the outbox to drain")

    assert [e["type"] for e in events] == ["ping"]
    assert [d["type"] for d in _deliveries(api, created["id"])] == ["ping"]


def _pending_outbox() -> bool:
    from chalicelib.deps import get_store
    from chalicelib.settings import get_settings

    return bool(get_store().undispatched_events(get_settings().INSTANCE_NAME, limit=1))


def test_a_failing_sink_is_retried_with_the_same_webhook_id_until_it_answers_2xx(api: Any) -> None:
    answers = iter([500, 503, 429])
    with running_sink(lambda headers, body: next(answers, 204)) as sink:
        created = _create(api, url=sink.url)
        _hook(api, "messages.upsert.text")
        wait_for(lambda: sink.answered(204), timeout=15, what="the delivery after three failures")

    assert [r.status for r in sink.received] == [500, 503, 429, 204]
    assert len({r.headers["webhook-id"] for r in sink.received}) == 1
    (delivery,) = _deliveries(api, created["id"])
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("delivered", 4, 204)
    assert delivery["delivered_at"] and delivery["next_attempt_at"] is None


def test_a_sink_that_hangs_is_timed_out_and_retried(api: Any) -> None:
    hung = threading.Event()

    def behaviour(headers: dict[str, str], body: bytes) -> int | str:
        if not hung.is_set():
            hung.set()
            return "hang"
        return 204

    with running_sink(behaviour, hang_s=5) as sink:
        created = _create(api, url=sink.url)
        _hook(api, "messages.upsert.text")
        wait_for(lambda: len(sink.received) >= 2, timeout=15, what="a second attempt")

    delivery = wait_for(
        lambda: (d := _deliveries(api, created["id"])[0])["status"] == "delivered" and d, timeout=10
    )
    assert delivery["attempts"] == 2


def test_410_disables_the_destination_and_fails_the_delivery(api: Any) -> None:
    with running_sink(lambda headers, body: 410) as sink:
        created = _create(api, url=sink.url)
        _hook(api, "messages.upsert.text")
        delivery = wait_for(
            lambda: (d := _deliveries(api, created["id"])) and d[0]["status"] == "failed" and d[0], timeout=10
        )
        _hook(api, "connection.update.open")  # nothing more goes to a disabled destination
        wait_for(lambda: not _pending_outbox(), timeout=10, what="the outbox to drain")

    assert (delivery["attempts"], delivery["last_status_code"]) == (1, 410)
    destination = _json(api.http.get(f"/event-destinations/{created['id']}", headers=auth()))
    assert destination["enabled"] is False
    assert "410" in destination["disabled_reason"]
    assert len(sink.received) == 1


def test_a_delivery_that_never_succeeds_is_failed_after_its_retry_window_then_replayed(api: Any) -> None:
    fixed = threading.Event()
    with running_sink(lambda headers, body: 204 if fixed.is_set() else 500) as sink:
        created = _create(api, url=sink.url)
        _hook(api, "messages.upsert.text")
        failed = wait_for(
            lambda: (d := _deliveries(api, created["id"], "?status=failed")) and d[0],
            timeout=30,
            what="the delivery to fail after the (compressed) 24 hours",
        )
        first_id = sink.received[0].headers["webhook-id"]

        fixed.set()
        replay = _post(
            api, f"/event-destinations/{created['id']}/replay", {"event_ids": [failed["event_id"]]}
        )
        assert (replay.status_code, _json(replay)) == (202, {"queued": 1})
        wait_for(lambda: sink.answered(204), timeout=10, what="the replayed delivery")

    assert failed["attempts"] >= 7 and failed["last_status_code"] == 500
    assert failed["event_id"] == first_id == sink.answered(204)[0].headers["webhook-id"]
    (delivered,) = _deliveries(api, created["id"], "?status=delivered")
    assert delivered["attempts"] == failed["attempts"] + 1


def test_replay_since_a_time_sends_the_events_again_under_their_ids(api: Any) -> None:
    with running_sink() as sink:
        created = _create(api, url=sink.url)
        _hook(api, "messages.upsert.text")
        _hook(api, "connection.update.open")
        wait_for(lambda: len(sink.answered(204)) == 2, timeout=10, what="two events")
        first = [r.headers["webhook-id"] for r in sink.received]

        replay = _post(api, f"/event-destinations/{created['id']}/replay", {"since": "2020-01-01T00:00:00Z"})
        assert (replay.status_code, _json(replay)) == (202, {"queued": 2})
        wait_for(lambda: len(sink.answered(204)) == 4, timeout=10, what="the replays")
        missing = _post(
            api,
            f"/event-destinations/{created['id']}/replay",
            {"event_ids": ["evt_00000000000000000000000000"]},
        )

    assert sorted(r.headers["webhook-id"] for r in sink.received[2:]) == sorted(first)
    assert (missing.status_code, _json(missing)["Code"]) == (404, "NotFoundError")


def test_eight_threads_of_the_same_webhook_make_one_event_delivered_once(api: Any) -> None:
    """Through the webhook service (chalice's test client patches os.environ per request, so it
    cannot be driven from threads); the e2e suite does the same over HTTP."""
    from datetime import UTC, datetime

    from chalicelib.background import kick
    from chalicelib.deps import webhook_service
    from chalicelib.services.webhooks import parse_envelope

    with running_sink() as sink:
        created = _create(api, url=sink.url)
        body = load_webhook("messages.upsert.text") | {"instance": INSTANCE}
        barrier = threading.Barrier(8)
        answers: list[dict[str, Any]] = []

        def send() -> None:
            event = parse_envelope(json.loads(json.dumps(body)), received_at=datetime.now(UTC))
            barrier.wait()
            answers.append(webhook_service().handle(event))
            kick()

        threads = [threading.Thread(target=send) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wait_for(lambda: sink.answered(204), timeout=10, what="the event")
        wait_for(lambda: not _pending_outbox(), timeout=10, what="the outbox to drain")

    assert sorted(a["duplicate"] for a in answers) == [False] + [True] * 7
    assert len(sink.received) == 1
    assert len(_deliveries(api, created["id"])) == 1
