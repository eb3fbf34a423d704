"""The gate before every view: a misconfigured service answers 503 naming the settings on every
route, and a request the authorizer could not verify is verified by the gate or refused."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest
from chalice.app import Request
from responses import RequestsMock

from tests.conftest import API_KEY, WEBHOOK_SECRET, auth

PATH_VALUES = {
    "message_id": "msg_01",
    "name": "job_offer",
    "event": "messages-upsert",
    "destination_id": "dst_01",
    "media_id": "msg_01",
    "broadcast_id": "bc_01JDQ4Z9W6M8E3V7K2B5N1P0RS",
    "to": "5511999999999",
}
SECRETS = {
    "EVOLUTION_API_KEY": "evolution-global-key-that-must-not-leak",
    "WEBHOOK_SECRET": "webhook-secret-that-must-not-leak",
}


def _every_route() -> list[tuple[str, str, bool]]:
    """(method, path with sample values, protected) for every route the app has."""
    from app import app

    found = []
    for path, methods in app.routes.items():
        concrete = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path)
        for method, entry in methods.items():
            found.append((method, concrete, entry.authorizer is not None))
    return sorted(found)


ROUTES = _every_route()


def _misconfigure(monkeypatch: pytest.MonkeyPatch, **values: str | None) -> None:
    from chalicelib import deps

    for name, value in values.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    deps.reset()


def _call(api: Any, method: str, path: str, headers: dict[str, str]) -> Any:
    body = json.dumps({}) if method == "POST" else None
    return api.http.request(method, path, headers=headers, body=body)


def test_the_route_list_covers_public_and_protected_routes() -> None:
    assert {protected for _, _, protected in ROUTES} == {True, False}
    assert ("GET", "/health", False) in ROUTES


@pytest.mark.parametrize(("method", "path"), [(method, path) for method, path, _ in ROUTES])
def test_every_route_answers_503_naming_a_missing_setting(
    api: Any, evolution: RequestsMock, monkeypatch: pytest.MonkeyPatch, method: str, path: str
) -> None:
    """(``evolution`` has nothing registered: a view that ran and called Evolution would fail.)"""
    _misconfigure(monkeypatch, EVOLUTION_API_KEY=None)
    headers = {**auth(), "X-Webhook-Secret": WEBHOOK_SECRET}
    response = _call(api, method, path, headers)
    assert response.status_code == 503, response.body
    body = json.loads(response.body)
    assert body["Code"] == "ServiceMisconfigured"
    assert "EVOLUTION_API_KEY is not set" in body["Message"]
    assert body["Details"] == [{"loc": ["settings", "EVOLUTION_API_KEY"], "msg": "missing or invalid"}]
    assert response.headers["X-Request-Id"]


@pytest.mark.parametrize("unset", ["", None])
def test_health_without_api_keys_is_503_naming_api_keys(
    api: Any, monkeypatch: pytest.MonkeyPatch, unset: str | None
) -> None:
    _misconfigure(monkeypatch, API_KEYS=unset)
    response = api.http.get("/health")
    assert response.status_code == 503
    body = json.loads(response.body)
    assert body["Code"] == "ServiceMisconfigured"
    assert "API_KEYS" in body["Message"]


def test_a_protected_route_with_any_bearer_key_is_503_not_403_while_the_keys_cannot_be_loaded(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _misconfigure(monkeypatch, EVOLUTION_API_URL="not a url")
    for key in (API_KEY, "some-other-key"):
        response = api.http.get("/status", headers=auth(key))
        assert response.status_code == 503
        assert "EVOLUTION_API_URL is not valid" in json.loads(response.body)["Message"]


def test_a_malformed_authorization_is_still_403_and_a_missing_one_401_while_misconfigured(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _misconfigure(monkeypatch, EVOLUTION_API_KEY=None)
    assert api.http.get("/status", headers={"Authorization": "Basic abc"}).status_code == 403
    assert api.http.get("/status").status_code == 401


def test_the_message_names_settings_but_never_carries_a_secret_value(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _misconfigure(monkeypatch, **SECRETS, STAGE="prod", INSTANCE_NAME="bad name!")
    response = api.http.get("/health")
    assert response.status_code == 503
    text = response.body.decode() if isinstance(response.body, bytes) else str(response.body)
    for value in SECRETS.values():
        assert value not in text
    assert "INSTANCE_NAME" in text


def test_a_misconfiguration_is_logged_once_per_process(
    api: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from chalicelib import settings

    monkeypatch.setattr(settings, "_reported", set())
    _misconfigure(monkeypatch, WEBHOOK_SECRET=None)
    caplog.set_level(logging.ERROR, logger="chalicelib")
    for _ in range(3):
        assert api.http.get("/health").status_code == 503
        assert api.http.get("/status", headers=auth()).status_code == 503
    logged = [r for r in caplog.records if "misconfigured" in r.getMessage()]
    assert len(logged) == 1
    assert "WEBHOOK_SECRET is not set" in logged[0].getMessage()


def test_a_fixed_setting_serves_again_without_a_restart_of_the_checks(
    api: Any, evolution: RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    _misconfigure(monkeypatch, EVOLUTION_API_KEY=None)
    assert api.http.get("/templates", headers=auth()).status_code == 503
    _misconfigure(monkeypatch, EVOLUTION_API_KEY="evolution-global-key")
    assert api.http.get("/templates", headers=auth()).status_code == 200


# -- a request the authorizer could not verify ----------------------------------------------------


def _request(principal: str | None, authorization: str | None) -> Request:
    context: dict[str, Any] = {"httpMethod": "GET", "resourcePath": "/status"}
    if principal is not None:
        context["authorizer"] = {"principalId": principal}
    headers = {"authorization": authorization} if authorization is not None else {}
    return Request(
        {
            "multiValueQueryStringParameters": None,
            "headers": headers,
            "pathParameters": None,
            "requestContext": context,
            "body": None,
            "isBase64Encoded": False,
            "stageVariables": None,
        }
    )


def test_an_unverified_request_with_a_right_key_is_let_through_once_the_settings_load(
    service_env: Any,
) -> None:
    from chalicelib.routes.gate import UNVERIFIED, refusal

    assert refusal(_request(UNVERIFIED, f"Bearer {API_KEY}")) is None


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-key", "Bearer ", f"Basic {API_KEY}"])
def test_an_unverified_request_without_a_right_key_is_refused_with_403(
    service_env: Any, authorization: str | None
) -> None:
    from chalicelib.routes.gate import UNVERIFIED, refusal

    refused = refusal(_request(UNVERIFIED, authorization))
    assert refused is not None
    assert refused.status_code == 403


def test_an_invalid_log_level_is_refused_with_503_naming_it(
    service_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(chalice's test client applies the stage's LOG_LEVEL, so this one calls the gate directly.)"""
    from chalicelib.routes.gate import refusal

    _misconfigure(monkeypatch, LOG_LEVEL="LOUD")
    refused = refusal(_request(None, None))
    assert refused is not None
    assert refused.status_code == 503
    assert refused.body["Message"].startswith("The service is misconfigured: LOG_LEVEL is not valid")


def test_a_request_the_authorizer_verified_or_a_public_one_goes_to_its_view(service_env: Any) -> None:
    from chalicelib.routes.gate import refusal

    assert refusal(_request("api-client", f"Bearer {API_KEY}")) is None
    assert refusal(_request(None, None)) is None
