"""Session routes through the Chalice test client: auth, status, connect, disconnect, health."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from responses import RequestsMock, matchers

from tests.conftest import API_KEY, EVOLUTION_URL, INSTANCE, SECOND_API_KEY, WEBHOOK_SECRET, auth

STATE_URL = f"{EVOLUTION_URL}/instance/connectionState/{INSTANCE}"


def _state(evolution: RequestsMock, state: str) -> None:
    evolution.get(STATE_URL, json={"instance": {"instanceName": INSTANCE, "state": state}})


def _json(response: Any) -> Any:
    return json.loads(response.body)


# -- the authorizer ------------------------------------------------------------------------------


def test_a_protected_route_without_authorization_is_401(api: Any) -> None:
    assert api.http.get("/status").status_code == 401


@pytest.mark.parametrize(
    "header", ["Bearer wrong-key", "Bearer ", "Basic " + API_KEY, API_KEY, "Bearer " + API_KEY + "x"]
)
def test_a_protected_route_with_a_wrong_key_is_403(api: Any, header: str) -> None:
    assert api.http.get("/status", headers={"Authorization": header}).status_code == 403


@pytest.mark.parametrize("key", [API_KEY, SECOND_API_KEY])
def test_a_right_key_plain_or_given_as_its_sha256_is_200(api: Any, evolution: RequestsMock, key: str) -> None:
    _state(evolution, "open")
    response = api.http.get("/status", headers=auth(key))
    assert response.status_code == 200
    assert _json(response) == {"instance": INSTANCE, "state": "open", "connected": True}


def test_empty_api_keys_serve_nothing(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib import deps

    monkeypatch.setenv("API_KEYS", " , ")
    deps.reset()
    response = api.http.get("/status", headers=auth())
    assert response.status_code == 503
    assert _json(response)["Code"] == "ServiceMisconfigured"


# -- request ids and the error shape -------------------------------------------------------------


def test_every_response_carries_a_request_id_and_a_sane_one_is_echoed(
    api: Any, evolution: RequestsMock
) -> None:
    _state(evolution, "open")
    _state(evolution, "open")
    echoed = api.http.get("/status", headers={**auth(), "X-Request-Id": "req-123.abc"})
    assert echoed.headers["X-Request-Id"] == "req-123.abc"
    generated = api.http.get("/status", headers={**auth(), "X-Request-Id": "bad id\nwith junk"})
    assert len(generated.headers["X-Request-Id"]) == 32


def test_an_unknown_instance_is_404_instance_not_found(api: Any, evolution: RequestsMock) -> None:
    evolution.get(
        STATE_URL,
        status=404,
        json={
            "status": 404,
            "error": "Not Found",
            "response": {"message": [f'The "{INSTANCE}" instance does not exist']},
        },
    )
    response = api.http.get("/status", headers=auth())
    assert response.status_code == 404
    assert _json(response)["Code"] == "InstanceNotFound"


@pytest.mark.parametrize(
    ("status", "body", "content_type"),
    [
        (
            500,
            json.dumps({"status": 500, "error": "x", "response": {"message": ["Error: boom"]}}),
            "application/json",
        ),
        (502, "<html><h1>Bad gateway</h1></html>", "text/html"),
        (
            401,
            json.dumps({"status": 401, "error": "Unauthorized", "response": {"message": "Unauthorized"}}),
            "application/json",
        ),
    ],
)
def test_an_evolution_5xx_html_or_auth_failure_is_502_upstream_error(
    api: Any, evolution: RequestsMock, status: int, body: str, content_type: str
) -> None:
    for _ in range(3 if status == 502 else 1):  # a GET 502 is retried twice first
        evolution.get(STATE_URL, status=status, body=body, content_type=content_type)
    response = api.http.get("/status", headers=auth())
    assert response.status_code == 502
    payload = _json(response)
    assert payload["Code"] == "UpstreamError"
    assert "boom" not in payload["Message"] and "<html>" not in payload["Message"]


def test_an_evolution_that_hangs_is_504_upstream_timeout(api: Any, evolution: RequestsMock) -> None:
    evolution.get(STATE_URL, body=requests.exceptions.ReadTimeout("slow"))
    response = api.http.get("/status", headers=auth())
    assert response.status_code == 504
    assert _json(response)["Code"] == "UpstreamTimeout"


def test_an_unreachable_evolution_is_503_upstream_unavailable(api: Any, evolution: RequestsMock) -> None:
    evolution.get(STATE_URL, body=requests.exceptions.ConnectTimeout("down"))
    response = api.http.get("/status", headers=auth())
    assert response.status_code == 503
    assert _json(response)["Code"] == "UpstreamUnavailable"
    assert response.headers["Retry-After"]


# -- connect -------------------------------------------------------------------------------------


def test_connect_creates_a_missing_instance_with_our_webhook_and_returns_the_qr(
    api: Any, evolution: RequestsMock
) -> None:
    evolution.get(STATE_URL, status=404, json={"status": 404, "response": {"message": ["does not exist"]}})
    evolution.post(
        f"{EVOLUTION_URL}/instance/create",
        status=201,
        json={"instance": {"instanceName": INSTANCE, "status": "created"}, "hash": "secret-token"},
        match=[
            matchers.json_params_matcher(
                {
                    "instanceName": INSTANCE,
                    "integration": "WHATSAPP-BAILEYS",
                    "qrcode": False,
                    "webhook": {
                        "enabled": True,
                        "url": "https://service.test/webhook",
                        "events": [
                            "MESSAGES_UPSERT",
                            "MESSAGES_UPDATE",
                            "MESSAGES_DELETE",
                            "SEND_MESSAGE",
                            "CONNECTION_UPDATE",
                            "QRCODE_UPDATED",
                        ],
                        "headers": {"X-Webhook-Secret": WEBHOOK_SECRET},
                        "byEvents": False,
                        "base64": False,
                    },
                }
            )
        ],
    )
    evolution.get(
        f"{EVOLUTION_URL}/instance/connect/{INSTANCE}",
        json={
            "pairingCode": None,
            "code": "2@abc",
            "base64": "data:image/png;base64,iVBORw0KGgo=",
            "count": 1,
        },
    )
    response = api.http.post("/connect", headers=auth())
    assert response.status_code == 200
    body = _json(response)
    assert body == {
        "instance": INSTANCE,
        "state": "connecting",
        "qr_code": "data:image/png;base64,iVBORw0KGgo=",
        "pairing_code": None,
        "code": "2@abc",
        "attempt": 1,
        "qr_status": "ready",
        "reason": "Scan the QR code in WhatsApp: Settings > Linked devices > Link a device.",
    }
    assert "secret-token" not in response.body.decode()


def test_connect_with_count_zero_is_pending_without_a_qr_and_says_why(
    api: Any, evolution: RequestsMock
) -> None:
    evolution.get(STATE_URL, json={"instance": {"instanceName": INSTANCE, "state": "close"}})
    evolution.get(STATE_URL, json={"instance": {"instanceName": INSTANCE, "state": "connecting"}})
    evolution.post(f"{EVOLUTION_URL}/webhook/set/{INSTANCE}", status=201, json={"id": "w"})
    evolution.get(f"{EVOLUTION_URL}/instance/connect/{INSTANCE}", json={"count": 0})
    body = _json(api.http.post("/connect", headers=auth()))
    assert body["state"] == "connecting"
    assert body["qr_code"] is None
    assert body["qr_status"] == "pending"
    assert "no QR code yet" in body["reason"]
    assert "connected" not in body


def test_connect_reports_close_when_evolution_reports_close_after_connect(
    api: Any, evolution: RequestsMock
) -> None:
    _state(evolution, "close")  # before and after connect: Evolution gave the pairing up
    evolution.post(f"{EVOLUTION_URL}/webhook/set/{INSTANCE}", status=201, json={"id": "w"})
    evolution.get(f"{EVOLUTION_URL}/instance/connect/{INSTANCE}", json={"count": 0})
    body = _json(api.http.post("/connect", headers=auth()))
    assert (body["state"], body["qr_code"], body["qr_status"]) == ("close", None, "unavailable")
    assert "closed" in body["reason"]


def test_connect_with_a_phone_while_pairing_restarts_the_pairing_with_the_number(
    api: Any, evolution: RequestsMock
) -> None:
    _state(evolution, "connecting")
    evolution.post(f"{EVOLUTION_URL}/webhook/set/{INSTANCE}", status=201, json={"id": "w"})
    qr_only = {"pairingCode": None, "code": "2@q", "base64": "data:image/png;base64,AA==", "count": 3}
    with_code = {"pairingCode": "WZYEH1YY", "code": "2@x", "base64": "data:image/png;base64,AA==", "count": 1}
    connect_url = f"{EVOLUTION_URL}/instance/connect/{INSTANCE}"
    number = [matchers.query_param_matcher({"number": "5511999999999"})]
    evolution.get(connect_url, match=number, json=qr_only)  # ignored while pairing, as Evolution does
    evolution.delete(
        f"{EVOLUTION_URL}/instance/logout/{INSTANCE}",
        json={"status": "SUCCESS", "error": False, "response": {"message": "Instance logged out"}},
    )
    evolution.get(connect_url, match=number, json=with_code)
    body = _json(api.http.post("/connect", headers=auth(), body=json.dumps({"phone": "+5511999999999"})))
    assert (body["state"], body["pairing_code"], body["qr_status"]) == ("connecting", "WZYEH1YY", "ready")
    assert "pairing code" in body["reason"]


def test_connect_with_a_phone_while_a_pairing_code_is_shown_keeps_that_pairing(
    api: Any, evolution: RequestsMock
) -> None:
    _state(evolution, "connecting")
    evolution.post(f"{EVOLUTION_URL}/webhook/set/{INSTANCE}", status=201, json={"id": "w"})
    evolution.get(
        f"{EVOLUTION_URL}/instance/connect/{INSTANCE}",
        json={"pairingCode": "WZYEH1YY", "code": "2@x", "base64": "data:image/png;base64,AA==", "count": 2},
    )
    body = _json(api.http.post("/connect", headers=auth(), body=json.dumps({"phone": "+5511999999999"})))
    assert body["pairing_code"] == "WZYEH1YY"  # no logout: the registered mocks would fail an extra call


def test_connect_with_a_phone_asks_for_a_pairing_code(api: Any, evolution: RequestsMock) -> None:
    _state(evolution, "close")
    evolution.post(f"{EVOLUTION_URL}/webhook/set/{INSTANCE}", status=201, json={"id": "w"})
    evolution.get(
        f"{EVOLUTION_URL}/instance/connect/{INSTANCE}",
        match=[matchers.query_param_matcher({"number": "5511999999999"})],
        json={"pairingCode": "WZYEH1YY", "code": "2@x", "base64": "data:image/png;base64,AA==", "count": 2},
    )
    response = api.http.post("/connect", headers=auth(), body=json.dumps({"phone": "+55 (11) 99999-9999"}))
    assert _json(response)["pairing_code"] == "WZYEH1YY"


def test_connect_when_already_open_says_connected(api: Any, evolution: RequestsMock) -> None:
    _state(evolution, "open")
    evolution.post(f"{EVOLUTION_URL}/webhook/set/{INSTANCE}", status=201, json={"id": "w"})
    assert _json(api.http.post("/connect", headers=auth())) == {
        "instance": INSTANCE,
        "state": "open",
        "connected": True,
    }


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "BadRequestError"),
        (b"[1, 2]", "ValidationError"),
        (b'"phone"', "ValidationError"),
        (b'{"phone": 5511999999999}', "ValidationError"),
        (b'{"phone": "abc-not-a-phone"}', "ValidationError"),
        (b'{"phone": "+55 11 9999", "extra": 1}', "ValidationError"),
        (b'{"phone": "12"}', "ValidationError"),
        ('{"phone": "+٥٥ ١١ ٩٩٩٩٩-٩٩٩٩"}'.encode(), "ValidationError"),  # Arabic-Indic digits
        ('{"phone": "+５５１１９９９９９９９９９"}'.encode(), "ValidationError"),  # fullwidth digits
        ('{"phone": "+۵۵۱۱۹۹۹۹۹۹۹۹۹"}'.encode(), "ValidationError"),  # Persian digits
        ('{"phone": "+𝟓𝟓𝟏𝟏𝟗𝟗𝟗𝟗𝟗𝟗𝟗𝟗𝟗"}'.encode(), "ValidationError"),  # mathematical digits
    ],
)
def test_bad_connect_bodies_are_400_with_a_clear_code(api: Any, body: bytes, code: str) -> None:
    response = api.http.post("/connect", headers=auth(), body=body)
    assert response.status_code == 400
    payload = _json(response)
    assert payload["Code"] == code
    assert payload["Message"]
    if code == "ValidationError":
        assert payload["Details"][0]["msg"]


# -- disconnect ----------------------------------------------------------------------------------


def test_disconnect_logs_out_an_open_session(api: Any, evolution: RequestsMock) -> None:
    _state(evolution, "open")
    evolution.delete(
        f"{EVOLUTION_URL}/instance/logout/{INSTANCE}",
        json={"status": "SUCCESS", "error": False, "response": {"message": "Instance logged out"}},
    )
    body = _json(api.http.post("/disconnect", headers=auth()))
    assert body == {"instance": INSTANCE, "state": "close", "disconnected": True, "was_connected": True}


def test_disconnect_of_a_closed_session_is_idempotent(api: Any, evolution: RequestsMock) -> None:
    _state(evolution, "close")
    body = _json(api.http.post("/disconnect", headers=auth()))
    assert body["was_connected"] is False
    assert body["disconnected"] is True


# -- health --------------------------------------------------------------------------------------


def test_health_is_public_and_ok_when_every_check_passes(api: Any, evolution: RequestsMock) -> None:
    _state(evolution, "open")
    response = api.http.get("/health")
    assert response.status_code == 200
    body = _json(response)
    assert body["status"] == "ok"
    assert body["checks"]["instance"] == {"ok": True, "name": INSTANCE, "state": "open"}
    assert body["checks"]["store"] == {"ok": True}
    assert body["checks"]["evolution"]["ok"] is True
    assert isinstance(body["checks"]["evolution"]["latency_ms"], int)


def test_health_is_503_down_when_evolution_is_unreachable(api: Any, evolution: RequestsMock) -> None:
    evolution.get(STATE_URL, body=requests.exceptions.ConnectionError("refused"))
    response = api.http.get("/health")
    assert response.status_code == 503
    assert _json(response)["status"] == "down"


def test_health_is_503_degraded_when_the_session_is_closed(api: Any, evolution: RequestsMock) -> None:
    _state(evolution, "close")
    response = api.http.get("/health")
    assert response.status_code == 503
    assert _json(response)["status"] == "degraded"


def test_health_with_evolution_really_unreachable_answers_503_not_500(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib import deps

    monkeypatch.setenv("EVOLUTION_API_URL", "http://127.0.0.1:9")  # discard port: nothing listens
    deps.reset()
    response = api.http.get("/health")
    assert response.status_code == 503
    assert _json(response)["status"] == "down"
