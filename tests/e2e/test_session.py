"""Pairing over real processes: POST /connect → a QR → the simulated phone scans → GET /status open."""

from __future__ import annotations

from typing import Any

import pytest

from tests.procs import Stack, disconnect, state, wait_for

pytestmark = pytest.mark.e2e


def _connect_until(stack: Stack, ready: str, **kwargs: Any) -> dict[str, Any]:
    def poll() -> dict[str, Any] | None:
        response = stack.api("POST", "/connect", **kwargs)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body if body.get(ready) else None

    result: dict[str, Any] = wait_for(poll, interval=0.2, what=f"POST /connect to return {ready}")
    return result


def test_connect_shows_a_qr_code_and_a_scan_opens_the_session(stack: Stack) -> None:
    disconnect(stack)

    first = stack.api("POST", "/connect")
    assert first.status_code == 200, first.text
    assert first.json()["state"] == "connecting"
    assert first.json().get("connected") is not True  # no QR yet is still "connecting", never connected
    pairing = _connect_until(stack, "qr_code")
    assert pairing["state"] == "connecting"
    assert pairing["instance"] == stack.instance
    assert pairing["qr_code"].startswith("data:image/png;base64,")
    assert pairing["pairing_code"] is None
    assert state(stack) == "connecting"

    scan = stack.sim("POST", f"/instances/{stack.instance}/scan", json={"profileName": "E2E"})
    assert scan.status_code == 200, scan.text

    wait_for(lambda: state(stack) == "open", what="GET /status to say open")
    status = stack.api("GET", "/status")
    assert status.json() == {"instance": stack.instance, "state": "open", "connected": True}
    assert stack.api("POST", "/connect").json() == {
        "instance": stack.instance,
        "state": "open",
        "connected": True,
    }


def test_connect_registers_this_services_webhook_on_the_instance(stack: Stack) -> None:
    stack.api("POST", "/connect").raise_for_status()

    instances = {row["name"]: row for row in stack.sim("GET", "/instances").json()}
    webhook = instances[stack.instance]["webhook"]
    assert webhook["url"] == stack.base_url + "/webhook"
    assert webhook["enabled"] is True


def test_connect_with_a_phone_number_also_returns_a_pairing_code(stack: Stack) -> None:
    disconnect(stack)

    pairing = _connect_until(stack, "pairing_code", json={"phone": "+55 11 99999-0001"})

    assert pairing["state"] == "connecting"
    assert len(pairing["pairing_code"]) == 8
    stack.sim("POST", f"/instances/{stack.instance}/scan", json={}).raise_for_status()
    wait_for(lambda: state(stack) == "open", what="the session to open")


def test_a_wrong_api_key_is_refused_by_the_authorizer(stack: Stack) -> None:
    assert stack.api("GET", "/status", key="not-the-key").status_code == 403
    assert stack.http.get(stack.base_url + "/status", timeout=5).status_code == 401
