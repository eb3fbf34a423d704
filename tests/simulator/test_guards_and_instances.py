"""Guard order, instance creation and listing, imitating Evolution 2.3.7."""

from __future__ import annotations

import re
import time

import requests

from tests.simulator.conftest import API_KEY, Client


def test_an_unknown_instance_is_404_even_with_a_bad_key(client: Client) -> None:
    answer = client.send_text("ghost", headers={"apikey": "wrong"})
    assert answer.status_code == 404
    assert answer.json() == {
        "status": 404,
        "error": "Not Found",
        "response": {"message": ['The "ghost" instance does not exist']},
    }


def test_a_known_instance_with_a_bad_or_missing_key_is_401_with_a_string_message(
    client: Client,
) -> None:
    client.create("acme")
    for headers in ({"apikey": "wrong"}, {"apikey": ""}):
        answer = client.get("/instance/connectionState/acme", headers=headers)
        assert answer.status_code == 401
        assert answer.json() == {
            "status": 401,
            "error": "Unauthorized",
            "response": {"message": "Unauthorized"},
        }


def test_the_instance_token_opens_its_own_routes_but_not_another_instances(
    client: Client,
) -> None:
    token = client.create("acme")["hash"]
    client.create("other")
    assert client.get("/instance/connectionState/acme", headers={"apikey": token}).ok
    assert client.get("/instance/connectionState/other", headers={"apikey": token}).status_code == 401
    assert (
        client.post("/instance/create", headers={"apikey": token}, json={"instanceName": "third"}).status_code
        == 401
    )


def test_create_answers_201_with_instance_hash_webhook_and_settings(client: Client) -> None:
    answer = client.post(
        "/instance/create",
        json={
            "instanceName": "acme",
            "integration": "WHATSAPP-BAILEYS",
            "webhook": {"url": "https://hooks.example.com/x", "events": ["MESSAGES_UPSERT"]},
        },
    )
    assert answer.status_code == 201
    body = answer.json()
    assert body["instance"]["instanceName"] == "acme"
    assert body["instance"]["integration"] == "WHATSAPP-BAILEYS"
    assert body["instance"]["status"] == "close"
    assert re.fullmatch(r"[0-9a-f-]{36}", body["instance"]["instanceId"])
    assert re.fullmatch(r"[0-9A-F-]{36}", body["hash"])
    assert body["webhook"] == {"webhookUrl": "https://hooks.example.com/x"}
    assert body["settings"]["rejectCall"] is False
    stored = client.get("/webhook/find/acme").json()
    assert stored["enabled"] is True
    assert stored["events"] == ["MESSAGES_UPSERT"]


def test_create_with_a_given_token_uses_it_as_the_hash(client: Client) -> None:
    assert client.create("acme", token="my-token")["hash"] == "my-token"


def test_create_with_qrcode_true_starts_connecting_and_returns_the_first_qr(
    client: Client,
) -> None:
    body = client.create("acme", qrcode=True)
    assert body["instance"]["status"] == "connecting"
    assert body["qrcode"]["count"] == 1
    assert body["qrcode"]["base64"].startswith("data:image/png;base64,")


def test_a_taken_name_is_403_even_before_the_key_is_checked(client: Client) -> None:
    client.create("acme")
    answer = client.post(
        "/instance/create",
        headers={"apikey": "wrong"},
        json={"instanceName": "acme", "integration": "WHATSAPP-BAILEYS"},
    )
    assert answer.status_code == 403
    assert answer.json()["response"]["message"] == ['This name "acme" is already in use.']


def test_an_unknown_or_missing_integration_is_400_invalid_integration(client: Client) -> None:
    for body in ({"instanceName": "a"}, {"instanceName": "a", "integration": "TELEGRAM"}):
        answer = client.post("/instance/create", json=body)
        assert answer.status_code == 400
        assert answer.json()["response"]["message"] == ["Invalid integration"]


def test_a_create_webhook_without_an_events_array_is_400_and_creates_nothing(
    client: Client,
) -> None:
    answer = client.post(
        "/instance/create",
        json={"instanceName": "a", "integration": "WHATSAPP-BAILEYS", "webhook": {"url": "x"}},
    )
    assert answer.status_code == 400
    assert answer.json()["response"]["message"] == ["Cannot read properties of undefined (reading 'length')"]
    assert client.get("/instance/fetchInstances").json() == []


def test_fetch_instances_lists_tokens_in_clear_and_filters_by_name_or_token(
    client: Client,
) -> None:
    token = client.create("acme")["hash"]
    client.create("other")
    everything = client.get("/instance/fetchInstances").json()
    assert {row["name"] for row in everything} == {"acme", "other"}
    one = client.get("/instance/fetchInstances", params={"instanceName": "acme"}).json()
    assert [(row["name"], row["token"], row["connectionStatus"]) for row in one] == [("acme", token, "close")]
    own = client.get("/instance/fetchInstances", headers={"apikey": token}).json()
    assert [row["name"] for row in own] == ["acme"]
    missing = client.get("/instance/fetchInstances", params={"instanceName": "nope"})
    assert missing.status_code == 404


def test_an_unknown_route_or_method_gets_evolutions_json_404(client: Client) -> None:
    for method, path in (("POST", "/message/sendFax/acme"), ("GET", "/instance/create")):
        answer = client.call(method, path)
        assert answer.status_code == 404
        assert answer.headers["Content-Type"].startswith("application/json")
        assert answer.json() == {
            "status": 404,
            "error": "Not Found",
            "response": {"message": [f"Cannot {method} {path}"]},
        }


def test_malformed_json_is_a_400_with_evolutions_odd_error_label(client: Client) -> None:
    answer = client.post(
        "/message/sendText/acme",
        data=b'{"number": ',
        headers={"Content-Type": "application/json", "apikey": API_KEY},
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "Internal Server Error"


def test_delete_removes_the_instance(client: Client) -> None:
    client.create("acme")
    answer = client.delete("/instance/delete/acme")
    assert answer.status_code == 200
    assert answer.json()["response"] == {"message": "Instance deleted"}
    again = client.delete("/instance/delete/acme")  # removal is asynchronous, as in Evolution
    assert again.status_code == 200

    def gone() -> bool:
        return client.get("/instance/connectionState/acme").status_code == 404

    deadline = time.monotonic() + 5
    while not gone() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone()


def test_the_root_answers_the_welcome_document(client: Client) -> None:
    body = requests.get(client.base + "/", timeout=5).json()
    assert body["version"] == "2.3.7"
