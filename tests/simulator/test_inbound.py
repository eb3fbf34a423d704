"""Inbound messages injected through the control API arrive as messages.upsert like the fixtures."""

from __future__ import annotations

import pytest

from tests.conftest import load_webhook
from tests.simulator.conftest import Client, Receiver

FIXTURE_FOR_KIND = {
    "text": "messages.upsert.text",
    "image": "messages.upsert.image",
    "document": "messages.upsert.document",
    "audio": "messages.upsert.audio",
    "lid": "messages.upsert.lid",
    "location": "messages.upsert.location",
}


@pytest.mark.parametrize("kind", ["text", "image", "document", "audio", "lid", "location"])
def test_an_injected_message_has_the_fixtures_shape(client: Client, receiver: Receiver, kind: str) -> None:
    client.open_instance("acme", receiver, events=["MESSAGES_UPSERT"])
    answer = client.post(
        "/_sim/instances/acme/inbound", json={"kind": kind, "from": "5511999999999", "text": "Oi"}
    )
    assert answer.status_code == 200
    hit = receiver.wait_for_event("messages.upsert")[0]
    fixture = load_webhook(FIXTURE_FOR_KIND[kind])
    assert set(hit.body) == set(fixture)
    data, expected = hit.body["data"], fixture["data"]
    assert set(data) == set(expected) - {"contextInfo"}  # contextInfo is optional
    assert set(data["key"]) == set(expected["key"])
    assert data["messageType"] == expected["messageType"]
    assert set(data["message"]) == set(expected["message"]) - {"base64"}
    assert data["key"]["fromMe"] is False
    assert data == answer.json()["data"]


def test_a_lid_sender_has_no_phone_number_anywhere(client: Client, receiver: Receiver) -> None:
    client.open_instance("acme", receiver, events=["MESSAGES_UPSERT"])
    client.post("/_sim/instances/acme/inbound", json={"kind": "lid", "from": "5511999999999"})
    key = receiver.wait_for_event("messages.upsert")[0].body["data"]["key"]
    assert key["remoteJid"].endswith("@lid")
    assert "5511999999999" not in str(key)


def test_a_group_message_carries_the_participant(client: Client, receiver: Receiver) -> None:
    client.open_instance("acme", receiver, events=["MESSAGES_UPSERT"])
    client.post("/_sim/instances/acme/inbound", json={"kind": "group", "from": "5511999999999"})
    key = receiver.wait_for_event("messages.upsert")[0].body["data"]["key"]
    assert key["remoteJid"].endswith("@g.us")
    assert key["participant"] == "5511999999999@s.whatsapp.net"
    assert key["participantAlt"].endswith("@lid")


def test_media_carries_base64_only_when_the_webhook_asks_for_it(client: Client, receiver: Receiver) -> None:
    client.open_instance("acme", receiver, events=["MESSAGES_UPSERT"], base64=True)
    client.post("/_sim/instances/acme/inbound", json={"kind": "image"})
    message = receiver.wait_for_event("messages.upsert")[0].body["data"]["message"]
    assert message["base64"].startswith("/9j/")


def test_a_reaction_points_at_the_reacted_message(client: Client, receiver: Receiver) -> None:
    client.open_instance("acme", receiver, events=["MESSAGES_UPSERT"])
    sent = client.send_text("acme").json()
    client.post("/_sim/instances/acme/inbound", json={"kind": "reaction", "key": sent["key"], "text": "❤️"})
    data = receiver.wait_for_event("messages.upsert")[0].body["data"]
    assert data["message"]["reactionMessage"]["key"]["id"] == sent["key"]["id"]


def test_inbound_needs_an_open_session(client: Client) -> None:
    client.create("acme")
    answer = client.post("/_sim/instances/acme/inbound", json={"kind": "text"})
    assert answer.status_code == 409
