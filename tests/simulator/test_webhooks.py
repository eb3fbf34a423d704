"""webhook/set and webhook/find, delivery headers and JWT, event filters, retries."""

from __future__ import annotations

import time

import jwt

from devtools.evolution_simulator import Simulator
from devtools.evolution_simulator.webhooks import ALL_EVENTS
from tests.simulator.conftest import Client, Receiver, make_config

JWT_KEY = "a-shared-jwt-key-that-is-32-bytes-long!!"


def test_webhook_find_is_null_before_set_and_set_answers_201_with_the_stored_row(
    client: Client,
) -> None:
    client.create("acme")
    assert client.get("/webhook/find/acme").json() is None
    answer = client.post(
        "/webhook/set/acme",
        json={"webhook": {"enabled": True, "url": "https://h.example.com/e", "events": []}},
    )
    assert answer.status_code == 201
    row = answer.json()
    assert row["url"] == "https://h.example.com/e"
    assert row["events"] == ALL_EVENTS
    assert row["webhookByEvents"] is False
    assert set(row) >= {"id", "headers", "enabled", "webhookBase64", "instanceId", "createdAt"}
    assert client.get("/webhook/find/acme").json() == row


def test_webhook_set_is_validated_with_the_webhook_schema(client: Client) -> None:
    client.create("acme")
    answer = client.post("/webhook/set/acme", json={"webhook": {"url": "https://x.example.com"}})
    assert answer.status_code == 400
    assert answer.json()["response"]["message"] == [['webhook requires property "enabled"']]
    no_events = client.post(
        "/webhook/set/acme", json={"webhook": {"enabled": True, "url": "https://x.example.com"}}
    )
    assert no_events.status_code == 500


def test_a_jwt_key_header_becomes_a_valid_bearer_token(client: Client, receiver: Receiver) -> None:
    client.create("acme")
    client.post(
        "/webhook/set/acme",
        json={
            "webhook": {
                "enabled": True,
                "url": receiver.url,
                "events": ["CONNECTION_UPDATE"],
                "headers": {"jwt_key": JWT_KEY, "x-other": "1"},
            }
        },
    )
    client.get("/instance/connect/acme")
    hit = receiver.wait_for_event("connection.update")[0]
    assert "jwt_key" not in {k.lower() for k in hit.headers}
    assert hit.headers["x-other"] == "1"
    scheme, token = hit.headers["Authorization"].split(" ")
    assert scheme == "Bearer"
    claims = jwt.decode(token, JWT_KEY, algorithms=["HS256"])
    assert claims["app"] == "evolution"
    assert claims["action"] == "webhook"
    assert claims["exp"] - claims["iat"] == 600
    assert abs(claims["iat"] - time.time()) < 5


def test_by_events_appends_the_event_suffix_and_destination_stays_the_base_url(
    client: Client, receiver: Receiver
) -> None:
    client.open_instance("acme", receiver, byEvents=True)
    client.send_text("acme")
    receiver.wait_for_event("send.message")
    paths = {h.body["event"]: h.path for h in receiver.events()}
    assert paths["send.message"] == "/hooks/send-message"
    assert paths["connection.update"] == "/hooks/connection-update"
    assert all(h.body["destination"] == receiver.url for h in receiver.events())


def test_only_the_registered_events_are_delivered(client: Client, receiver: Receiver) -> None:
    client.create("acme", webhook={"url": receiver.url, "events": ["SEND_MESSAGE"]})
    client.get("/instance/connect/acme")
    client.post("/_sim/instances/acme/scan")
    client.send_text("acme")
    receiver.wait_for_event("send.message")
    time.sleep(0.2)
    assert {h.body["event"] for h in receiver.events()} == {"send.message"}


def test_a_disabled_webhook_delivers_nothing(client: Client, receiver: Receiver) -> None:
    client.create("acme")
    client.post(
        "/webhook/set/acme",
        json={"webhook": {"enabled": False, "url": receiver.url, "events": ["SEND_MESSAGE"]}},
    )
    assert client.get("/webhook/find/acme").json()["events"] == []
    client.get("/instance/connect/acme")
    time.sleep(0.2)
    assert receiver.events() == []


def test_a_500_is_retried_until_a_2xx(client: Client, receiver: Receiver, sim: Simulator) -> None:
    client.open_instance("acme", receiver, events=["SEND_MESSAGE"])
    receiver.answer_next_with(500, 503)
    client.send_text("acme")
    hits = receiver.wait_for_event("send.message", count=3)
    assert [h.status for h in hits] == [500, 503, 200]
    assert hits[0].body == hits[2].body
    time.sleep(0.1)  # the simulator logs an attempt just after the receiver answers it
    log = [e for e in client.get("/_sim/webhooks").json() if e["event"] == "send.message"]
    assert [(e["attempt"], e["status"]) for e in log] == [(1, 500), (2, 503), (3, 200)]


def test_a_400_is_not_retried(client: Client, receiver: Receiver) -> None:
    client.open_instance("acme", receiver, events=["SEND_MESSAGE"])
    receiver.answer_next_with(400)
    client.send_text("acme")
    receiver.wait_for_event("send.message")
    time.sleep(0.4)
    assert [h.status for h in receiver.events("send.message")] == [400]


def test_delivery_gives_up_after_the_configured_attempts_on_connection_errors(
    client: Client,
) -> None:
    client.create("acme", webhook={"url": "http://127.0.0.1:9/nowhere", "events": []})
    client.get("/instance/connect/acme")
    deadline = time.monotonic() + 5
    entries: list[dict[str, object]] = []
    while time.monotonic() < deadline:
        entries = [e for e in client.get("/_sim/webhooks").json() if e["event"] == "qrcode.updated"]
        if len(entries) == 4:
            break
        time.sleep(0.05)
    assert [e["attempt"] for e in entries] == [1, 2, 3, 4]
    assert all(e["status"] is None and e["error"] for e in entries)


def test_webhook_delay_postpones_every_delivery(receiver: Receiver) -> None:
    with Simulator(make_config(webhook_delay_ms=300)) as sim:
        client = Client(sim)
        client.create("acme", webhook={"url": receiver.url, "events": ["CONNECTION_UPDATE"]})
        started = time.monotonic()
        client.get("/instance/connect/acme")
        receiver.wait_for_event("connection.update")
        assert time.monotonic() - started >= 0.3


def test_the_envelope_can_carry_the_instance_token_when_exposed(receiver: Receiver) -> None:
    with Simulator(make_config(webhook_expose_apikey=True)) as sim:
        client = Client(sim)
        token = client.create("acme", webhook={"url": receiver.url, "events": []})["hash"]
        client.get("/instance/connect/acme")
        hit = receiver.wait_for_event("connection.update")[0]
        assert hit.body["apikey"] == token
        assert hit.body["server_url"] == sim.url
