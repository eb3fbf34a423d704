"""Upstream faults injected into the simulator, mapped to the API's error codes over real HTTP."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.procs import SEND_TIMEOUT_S, Stack, wait_for

pytestmark = pytest.mark.e2e

TO = "+5511966665555"


def _fault(stack: Stack, **spec: Any) -> None:
    response = stack.sim("POST", "/faults", json=spec)
    assert response.status_code == 201, response.text


def _send(stack: Stack, text: str, key: str | None = None) -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    return stack.api("POST", "/messages", json={"to": TO, "text": text}, headers=headers)


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("session_closed", 503, "InstanceDisconnected"),
        ("rate_limit", 429, "RateLimited"),
        ("html", 502, "UpstreamError"),
    ],
)
def test_a_send_fault_becomes_its_api_error(connected: Stack, kind: str, status: int, code: str) -> None:
    _fault(connected, route_prefix="/message/sendText", kind=kind)

    response = _send(connected, f"fault {kind}")

    assert response.status_code == status, response.text
    assert response.json()["Code"] == code
    assert response.json()["Message"]
    assert response.headers["X-Request-Id"]
    if status in (503, 429):
        assert int(response.headers["Retry-After"]) > 0


def test_a_closed_session_releases_the_idempotency_key_so_a_retry_sends(connected: Stack) -> None:
    _fault(connected, route_prefix="/message/sendText", kind="session_closed")
    key, text = f"e2e-{uuid.uuid4()}", f"retry {uuid.uuid4().hex[:8]}"

    refused = _send(connected, text, key)
    retried = _send(connected, text, key)

    assert refused.status_code == 503
    assert refused.json()["Code"] == "InstanceDisconnected"
    assert retried.status_code == 201, retried.text
    assert retried.headers.get("Idempotent-Replayed") is None


def test_an_upstream_slower_than_the_send_timeout_is_a_504_with_an_unknown_record(connected: Stack) -> None:
    latency_ms = (SEND_TIMEOUT_S + 2) * 1000
    _fault(connected, route_prefix="/message/sendText", kind="latency", latency_ms=latency_ms)
    text = f"slow {uuid.uuid4().hex[:8]}"

    started = time.monotonic()
    response = _send(connected, text)
    elapsed = time.monotonic() - started

    assert response.status_code == 504, response.text
    body = response.json()
    assert body["Code"] == "UpstreamTimeout"
    assert "may or may not have been sent" in body["Message"]
    assert elapsed < latency_ms / 1000, "the service gave up at its send timeout"
    [detail] = body["Details"]
    assert detail["status"] == "unknown"
    record = connected.api("GET", f"/messages/{detail['id']}").json()
    assert record["status"] == "unknown"
    assert record["message_id"] is None

    # The delayed request does reach "Evolution"; its webhooks then settle the record.
    settled = wait_for(
        lambda: (r := connected.api("GET", f"/messages/{detail['id']}").json())["status"] != "unknown" and r,
        timeout=10,
        interval=0.2,
        what="a webhook to settle the timed-out send",
    )
    assert settled["message_id"]
    assert settled["status_history"][0]["status"] == "unknown"
