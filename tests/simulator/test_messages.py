"""message/send* and chat/whatsappNumbers: shapes, check order, and the webhooks that follow."""

from __future__ import annotations

import base64
import re
import time

import pytest

from tests.conftest import load_webhook, validate_evolution_body
from tests.simulator.conftest import Client, Receiver

KEY_ID = re.compile(r"3EB0[0-9A-F]{18}")


def test_send_text_answers_201_with_the_message_object(client: Client) -> None:
    client.open_instance("acme")
    answer = client.send_text("acme", number="+55 (11) 98765-4321")
    assert answer.status_code == 201
    body = answer.json()
    assert set(body) == {
        "key",
        "pushName",
        "status",
        "message",
        "messageType",
        "messageTimestamp",
        "instanceId",
        "source",
    }
    assert body["key"]["remoteJid"] == "5511987654321@s.whatsapp.net"
    assert body["key"]["fromMe"] is True
    assert KEY_ID.fullmatch(body["key"]["id"])
    assert body["status"] == "PENDING"
    assert body["message"] == {"conversation": "Olá"}
    assert body["messageType"] == "conversation"
    assert isinstance(body["messageTimestamp"], int)


def test_a_send_is_followed_by_send_message_then_the_three_acks(client: Client, receiver: Receiver) -> None:
    client.open_instance("acme", receiver)
    message = client.send_text("acme").json()
    receiver.wait_for_event("messages.update", count=3)
    sent = receiver.events("send.message")
    assert len(sent) == 1
    assert sent[0].body["data"] == message
    assert set(sent[0].body) == set(load_webhook("send.message"))
    updates = [h.body["data"] for h in receiver.events("messages.update")]
    # emitted in this order, ack_delay_ms apart; delivery itself does not promise order
    assert sorted(u["status"] for u in updates) == ["DELIVERY_ACK", "READ", "SERVER_ACK"]
    fixture = load_webhook("messages.update.delivery")["data"]
    for update in updates:
        assert set(update) == set(fixture)
        assert update["keyId"] == message["key"]["id"]
        assert update["remoteJid"] == message["key"]["remoteJid"]
        assert update["fromMe"] is True
        assert update["instanceId"] == message["instanceId"]
    assert len({u["messageId"] for u in updates}) == 1


def test_a_brazilian_mobile_outside_sao_paulo_loses_its_ninth_digit_in_the_jid(
    client: Client,
) -> None:
    client.open_instance("acme")
    assert client.send_text("acme", number="5531998765432").json()["key"]["remoteJid"] == (
        "553198765432@s.whatsapp.net"
    )


def test_a_schema_failure_is_400_with_a_list_of_lists(client: Client) -> None:
    client.open_instance("acme")
    answer = client.post("/message/sendText/acme", json={"number": "5511987654321"})
    assert answer.status_code == 400
    assert answer.json() == {
        "status": 400,
        "error": "Bad Request",
        "response": {"message": [['instance requires property "text"']]},
    }
    typed = client.post("/message/sendText/acme", json={"number": 5511, "text": "x"})
    assert typed.json()["response"]["message"] == [["Invalid format"]]


def test_blank_text_is_400_text_is_required(client: Client) -> None:
    client.open_instance("acme")
    answer = client.send_text("acme", text="   ")
    assert answer.status_code == 400
    assert answer.json()["response"]["message"] == ["Text is required"]


def test_a_recipient_not_on_whatsapp_is_400_with_the_exists_false_object(client: Client) -> None:
    client.open_instance("acme")
    answer = client.send_text("acme", number="5511987650000")
    assert answer.status_code == 400
    assert answer.json() == {
        "status": 400,
        "error": "Bad Request",
        "response": {
            "message": [
                {
                    "jid": "5511987650000@s.whatsapp.net",
                    "exists": False,
                    "number": "5511987650000",
                }
            ]
        },
    }
    client.post("/_sim/not-on-whatsapp", json={"numbers": ["5511987654321"]})
    assert client.send_text("acme").status_code == 400


def test_a_send_on_a_closed_session_is_500_connection_closed(client: Client) -> None:
    client.open_instance("acme")
    client.post("/_sim/instances/acme/drop")
    answer = client.send_text("acme")
    assert answer.status_code == 500
    assert answer.json() == {
        "status": 500,
        "error": "Internal Server Error",
        "response": {"message": "Connection Closed"},
    }


def test_a_send_on_a_never_connected_instance_is_the_undefined_client_500(
    client: Client,
) -> None:
    client.create("acme")
    answer = client.send_text("acme")
    assert answer.status_code == 500
    assert answer.json()["response"]["message"] == (
        "Cannot read properties of undefined (reading 'onWhatsApp')"
    )


def test_send_template_on_baileys_is_500_method_not_available(client: Client) -> None:
    client.open_instance("acme")
    answer = client.post(
        "/message/sendTemplate/acme",
        json={"number": "5511987654321", "name": "hello", "language": "es_MX"},
    )
    assert answer.status_code == 500
    assert answer.json()["response"]["message"] == "Method not available in the Baileys service"


def test_send_template_on_the_cloud_api_answers_a_wamid_and_cloud_statuses(
    client: Client, receiver: Receiver
) -> None:
    client.create(
        "meta",
        integration="WHATSAPP-BUSINESS",
        token="EAAG",
        number="5511900000001",
        webhook={"url": receiver.url, "events": ["MESSAGES_UPDATE"]},
    )
    body = {"number": "5511987654321", "name": "hello", "language": "es_MX", "components": []}
    validate_evolution_body("sendTemplate", body)
    answer = client.post("/message/sendTemplate/meta", json=body)
    assert answer.status_code == 201
    assert answer.json()["key"]["id"].startswith("wamid.")
    hits = receiver.wait_for_event("messages.update", count=3)
    assert sorted(h.body["data"]["status"] for h in hits) == ["DELIVERED", "READ", "SENT"]


@pytest.mark.parametrize(
    ("route", "body", "message_type"),
    [
        (
            "sendMedia",
            {
                "number": "5511987654321",
                "mediatype": "image",
                "media": "https://cdn.example.com/p.jpg",
                "caption": "Foto",
            },
            "imageMessage",
        ),
        (
            "sendMedia",
            {
                "number": "5511987654321",
                "mediatype": "document",
                "media": base64.b64encode(b"%PDF-1.4 test").decode(),
                "fileName": "a.pdf",
            },
            "documentMessage",
        ),
        (
            "sendWhatsAppAudio",
            {"number": "5511987654321", "audio": "https://cdn.example.com/a.ogg"},
            "audioMessage",
        ),
        (
            "sendLocation",
            {
                "number": "5511987654321",
                "latitude": -23.5,
                "longitude": -46.6,
                "name": "Loja",
                "address": "Av. Paulista",
            },
            "locationMessage",
        ),
        (
            "sendReaction",
            {
                "key": {"id": "3EB0AAAA", "remoteJid": "5511987654321@s.whatsapp.net", "fromMe": True},
                "reaction": "👍",
            },
            "reactionMessage",
        ),
    ],
)
def test_every_send_route_answers_its_message_type(
    client: Client, route: str, body: dict[str, object], message_type: str
) -> None:
    client.open_instance("acme")
    validate_evolution_body(route, body)
    answer = client.post(f"/message/{route}/acme", json=body)
    assert answer.status_code == 201, answer.text
    assert answer.json()["messageType"] == message_type
    assert message_type in answer.json()["message"]


@pytest.mark.parametrize(
    ("route", "body", "message"),
    [
        (
            "sendMedia",
            {"number": "5511987654321", "mediatype": "image", "media": "data:image/png;base64,AAAA"},
            "Owned media must be a url or base64",
        ),
        (
            "sendMedia",
            {"number": "5511987654321", "mediatype": "image", "media": "http://localhost/p.png"},
            "Owned media must be a url or base64",
        ),
        (
            "sendMedia",
            {"number": "5511987654321", "mediatype": "document", "media": "JVBERi0xLjQ="},
            "For base64 the file name must be informed.",
        ),
        (
            "sendReaction",
            {
                "key": {"id": "3EB0AAAA", "remoteJid": "5511987654321@s.whatsapp.net", "fromMe": True},
                "reaction": "ok",
            },
            "Reaction must be a single emoji or empty string",
        ),
    ],
)
def test_controller_checks_reject_what_the_real_controllers_reject(
    client: Client, route: str, body: dict[str, object], message: str
) -> None:
    client.open_instance("acme")
    answer = client.post(f"/message/{route}/acme", json=body)
    assert answer.status_code == 400
    assert answer.json()["response"]["message"] == [message]


def test_the_delay_option_holds_the_request_open(client: Client) -> None:
    client.open_instance("acme")
    started = time.monotonic()
    assert client.send_text("acme", delay=400).status_code == 201
    assert time.monotonic() - started >= 0.4


def test_the_sent_log_has_each_send_once_with_its_body_and_message_id(client: Client) -> None:
    client.open_instance("acme")
    first = client.send_text("acme").json()
    client.send_text("acme", text="   ")
    sent = client.get("/_sim/sent").json()
    assert [(s["route"], s["status"]) for s in sent] == [("sendText", 201), ("sendText", 400)]
    assert sent[0]["message_id"] == first["key"]["id"]
    assert sent[0]["body"] == {"number": "5511987654321", "text": "Olá"}
    assert sent[1]["message_id"] is None


def test_whatsapp_numbers_reports_each_number(client: Client) -> None:
    client.open_instance("acme")
    answer = client.post("/chat/whatsappNumbers/acme", json={"numbers": ["5511987654321", "5511987650000"]})
    assert answer.status_code == 200
    assert answer.json() == [
        {"exists": True, "jid": "5511987654321@s.whatsapp.net", "number": "5511987654321"},
        {"exists": False, "jid": "5511987650000@s.whatsapp.net", "number": "5511987650000"},
    ]


def test_whatsapp_numbers_errors_have_no_response_wrapper(client: Client) -> None:
    client.open_instance("acme")
    invalid = client.post("/chat/whatsappNumbers/acme", json={"numbers": []})
    assert invalid.status_code == 400
    assert invalid.json() == {
        "status": 400,
        "error": "Bad Request",
        "message": [["numbers does not meet minimum length of 1"]],
    }
    assert client.post("/chat/whatsappNumbers/acme", json={}).json() == {}
    client.post("/_sim/instances/acme/drop")
    closed = client.post("/chat/whatsappNumbers/acme", json={"numbers": ["5511987654321"]})
    assert closed.status_code == 400
    assert closed.json()["output"]["payload"]["message"] == "Connection Closed"
