"""Real answers of the app (Evolution mocked) validate against the document, status by status."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from responses import RequestsMock

from tests.conftest import EVOLUTION_URL, INSTANCE, WEBHOOK_SECRET, WEBHOOKS, auth, load_webhook
from tests.openapi.conftest import check_response

SEND_TEXT = f"{EVOLUTION_URL}/message/sendText/{INSTANCE}"
STATE_URL = f"{EVOLUTION_URL}/instance/connectionState/{INSTANCE}"
WEBHOOK_SET = f"{EVOLUTION_URL}/webhook/set/{INSTANCE}"
VARIABLES = {"name": "Ana", "date": "2026-12-01", "time": "10:00", "location": "Av. Paulista 1000"}


def _sent(message_id: str = "3EB0C0BD05DCA97A7C09CB") -> dict[str, Any]:
    return {
        "key": {"remoteJid": "5511999999999@s.whatsapp.net", "fromMe": True, "id": message_id},
        "status": "PENDING",
        "message": {"conversation": "Hola"},
        "messageType": "conversation",
        "messageTimestamp": 1765377525,
    }


def _post(api: Any, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return api.http.post(path, headers=headers if headers is not None else auth(), body=raw)


def _state(evolution: RequestsMock, state: str) -> None:
    evolution.get(STATE_URL, json={"instance": {"instanceName": INSTANCE, "state": state}})


def test_a_send_its_replay_and_its_record_match_the_document(
    document: dict[str, Any], api: Any, evolution: RequestsMock
) -> None:
    evolution.post(SEND_TEXT, status=201, json=_sent())
    headers = {**auth(), "Idempotency-Key": "doc-1"}
    body = {"to": "+5511999999999", "text": "Hola", "reference": "crm-1"}
    accepted = check_response(document, "POST", "/messages", _post(api, "/messages", body, headers))
    replay = _post(api, "/messages", body, headers)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert check_response(document, "POST", "/messages", replay) == accepted
    reused = _post(api, "/messages", {**body, "text": "Adios"}, headers)
    assert check_response(document, "POST", "/messages", reused)["Code"] == "IdempotencyKeyReused"
    record = check_response(
        document, "GET", "/messages/{message_id}", api.http.get(f"/messages/{accepted['id']}", headers=auth())
    )
    assert record["direction"] == "outbound"


def test_a_template_send_with_its_template_reference_matches_the_document(
    document: dict[str, Any], api: Any, evolution: RequestsMock
) -> None:
    evolution.get(
        f"{EVOLUTION_URL}/instance/fetchInstances",
        json=[{"name": INSTANCE, "integration": "WHATSAPP-BAILEYS"}],
    )
    evolution.post(SEND_TEXT, status=201, json=_sent("3EB0TPL"))
    body = {
        "to": "+5511999999999",
        "template": "interview_reminder",
        "language": "es",
        "variables": VARIABLES,
    }
    accepted = check_response(document, "POST", "/messages/template", _post(api, "/messages/template", body))
    assert accepted["type"] == "template"
    record = check_response(
        document, "GET", "/messages/{message_id}", api.http.get(f"/messages/{accepted['id']}", headers=auth())
    )
    assert record["template"]["name"] == "interview_reminder"
    bad = _post(api, "/messages/template", {**body, "variables": {"nope": "x"}})
    assert check_response(document, "POST", "/messages/template", bad)["Code"] == "TemplateError"
    unknown = _post(api, "/messages/template", {**body, "template": "no_such_template"})
    assert check_response(document, "POST", "/messages/template", unknown)["Code"] == "NotFoundError"


@pytest.mark.parametrize(
    ("mock", "status"),
    [
        ({"body": requests.exceptions.ReadTimeout("slow")}, 504),
        ({"body": requests.exceptions.ConnectTimeout("down")}, 503),
        ({"status": 429, "body": "", "headers": {"Retry-After": "42"}}, 429),
        (
            {
                "status": 500,
                "json": {"status": 500, "error": "x", "response": {"message": "Connection Closed"}},
            },
            503,
        ),
        (
            {"status": 500, "json": {"status": 500, "error": "x", "response": {"message": ["Error: boom"]}}},
            502,
        ),
        (
            {
                "status": 400,
                "json": {
                    "status": 400,
                    "error": "Bad Request",
                    "response": {
                        "message": [
                            {
                                "jid": "5511999999999@s.whatsapp.net",
                                "exists": False,
                                "number": "5511999999999",
                            }
                        ]
                    },
                },
            },
            422,
        ),
    ],
)
def test_failed_sends_match_the_document(
    document: dict[str, Any], api: Any, evolution: RequestsMock, mock: dict[str, Any], status: int
) -> None:
    evolution.post(SEND_TEXT, **mock)
    response = _post(api, "/messages", {"to": "+5511999999999", "text": "Hola"})
    assert response.status_code == status
    check_response(document, "POST", "/messages", response)


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        {"to": "+5511999999999"},
        {"to": "not a phone", "text": "x"},
        {"to": "+5511999999999", "text": "x", "extra": True},
        {"to": "+5511999999999", "reaction": {"message_id": "3EB0UNKNOWN", "emoji": "👍"}},
    ],
)
def test_refused_sends_match_the_document(document: dict[str, Any], api: Any, body: Any) -> None:
    response = _post(api, "/messages", body)
    assert response.status_code in (400, 404)
    check_response(document, "POST", "/messages", response)


def test_auth_failures_and_a_wrong_content_type_match_the_document(
    document: dict[str, Any], api: Any
) -> None:
    check_response(document, "GET", "/status", api.http.get("/status"))
    check_response(
        document, "GET", "/status", api.http.get("/status", headers={"Authorization": "Bearer nope"})
    )
    wrong_type = api.http.post(
        "/messages", headers={**auth(), "Content-Type": "text/plain"}, body=b"to=+5511999999999"
    )
    assert wrong_type.status_code == 415
    check_response(document, "POST", "/messages", wrong_type)


def test_every_stored_webhook_fixture_lists_as_a_documented_record(
    document: dict[str, Any], api: Any, evolution: RequestsMock
) -> None:
    evolution.post(SEND_TEXT, status=201, json=_sent())
    _post(api, "/messages", {"to": "+5511999999999", "text": "Olá Maria, seu pedido foi enviado!"})
    for path in sorted(WEBHOOKS.glob("*.json")):
        body = load_webhook(path.stem)
        body["instance"] = INSTANCE
        if isinstance(body.get("data"), dict) and "instance" in body["data"]:
            body["data"]["instance"] = INSTANCE
        answer = _post(
            api, "/webhook", body, {"Content-Type": "application/json", "X-Webhook-Secret": WEBHOOK_SECRET}
        )
        assert answer.status_code == 200, (path.name, answer.body)
        check_response(document, "POST", "/webhook", answer)
    directions = set()
    for direction in ("inbound", "outbound", None):
        query = f"?direction={direction}&limit=100" if direction else "?limit=2"
        page = check_response(document, "GET", "/messages", api.http.get("/messages" + query, headers=auth()))
        directions |= {item["direction"] for item in page["items"]}
        for item in page["items"]:
            check_response(
                document,
                "GET",
                "/messages/{message_id}",
                api.http.get(f"/messages/{item['id']}", headers=auth()),
            )
    assert directions == {"inbound", "outbound"}
    kinds = {
        item["type"] for item in json.loads(api.http.get("/messages?limit=100", headers=auth()).body)["items"]
    }
    assert {"text", "image", "document", "audio", "location", "reaction"} <= kinds


def test_webhook_refusals_match_the_document(document: dict[str, Any], api: Any) -> None:
    body = load_webhook("messages.upsert.text")
    unauthorized = _post(api, "/webhook", body, {"Content-Type": "application/json"})
    assert check_response(document, "POST", "/webhook", unauthorized)["Code"] == "Unauthorized"
    not_envelope = _post(
        api,
        "/webhook/messages-upsert",
        {"nope": 1},
        {"Content-Type": "application/json", "X-Webhook-Secret": WEBHOOK_SECRET},
    )
    assert not_envelope.status_code == 400
    check_response(document, "POST", "/webhook/{event}", not_envelope)


def test_session_routes_match_the_document(
    document: dict[str, Any], api: Any, evolution: RequestsMock
) -> None:
    _state(evolution, "open")
    check_response(document, "GET", "/status", api.http.get("/status", headers=auth()))
    _state(evolution, "open")
    evolution.post(WEBHOOK_SET, status=201, json={"id": "w"})
    assert check_response(document, "POST", "/connect", _post(api, "/connect", b""))["state"] == "open"
    _state(evolution, "close")
    evolution.post(WEBHOOK_SET, status=201, json={"id": "w"})
    evolution.get(
        f"{EVOLUTION_URL}/instance/connect/{INSTANCE}",
        json={"pairingCode": "WZYEH1YY", "code": "2@x", "base64": "data:image/png;base64,AA==", "count": 2},
    )
    pending = check_response(
        document, "POST", "/connect", _post(api, "/connect", {"phone": "+5511999999999"})
    )
    assert pending["state"] == "connecting"
    _state(evolution, "close")
    check_response(document, "POST", "/disconnect", _post(api, "/disconnect", b""))
    evolution.get(STATE_URL, status=404, json={"status": 404, "response": {"message": ["does not exist"]}})
    assert (
        check_response(document, "GET", "/status", api.http.get("/status", headers=auth()))["Code"]
        == "InstanceNotFound"
    )
    evolution.get(STATE_URL, body=requests.exceptions.ReadTimeout("slow"))
    check_response(document, "GET", "/status", api.http.get("/status", headers=auth()))


def test_health_ok_and_degraded_match_the_document(
    document: dict[str, Any], api: Any, evolution: RequestsMock
) -> None:
    _state(evolution, "open")
    ok = api.http.get("/health")
    assert ok.status_code == 200
    check_response(document, "GET", "/health", ok)
    evolution.get(STATE_URL, body=requests.exceptions.ConnectionError("down"))
    down = api.http.get("/health")
    assert down.status_code == 503
    assert check_response(document, "GET", "/health", down)["status"] == "down"


def test_template_routes_match_the_document(document: dict[str, Any], api: Any) -> None:
    listing = check_response(document, "GET", "/templates", api.http.get("/templates", headers=auth()))
    for template in listing["templates"]:
        path = f"/templates/{template['name']}"
        check_response(document, "GET", "/templates/{name}", api.http.get(path, headers=auth()))
        example = {name: spec["example"] for name, spec in template["variables"].items()}
        preview = _post(api, path + "/preview", {"variables": example})
        assert preview.status_code == 200, preview.body
        check_response(document, "POST", "/templates/{name}/preview", preview)
    check_response(document, "GET", "/templates/{name}", api.http.get("/templates/nope", headers=auth()))
    refused = _post(api, "/templates/interview_reminder/preview", {"variables": {}})
    assert check_response(document, "POST", "/templates/{name}/preview", refused)["Code"] == "TemplateError"


def test_the_document_itself_matches_the_document(document: dict[str, Any], api: Any) -> None:
    check_response(document, "GET", "/openapi.json", api.http.get("/openapi.json"))
