"""Messages over real processes: sends settled by real webhooks, idempotent replays, inbound replies."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.procs import Stack, wait_for

pytestmark = pytest.mark.e2e

TO = "+5511988887777"
ORDER = ["pending", "sent", "delivered", "read"]


def _record(stack: Stack, message_id: str) -> dict[str, Any]:
    response = stack.api("GET", f"/messages/{message_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _sent_with_text(stack: Stack, text: str) -> list[dict[str, Any]]:
    return [row for row in stack.sim("GET", "/sent").json() if (row.get("body") or {}).get("text") == text]


def test_a_text_goes_from_pending_to_read_through_real_webhooks(connected: Stack) -> None:
    text = f"Hola Ana {uuid.uuid4().hex[:8]}"
    response = connected.api("POST", "/messages", json={"to": TO, "text": text, "reference": "crm-e2e"})
    assert response.status_code == 201, response.text
    sent = response.json()
    assert sent["status"] == "pending"
    assert sent["id"].startswith("msg_")

    record = wait_for(
        lambda: (r := _record(connected, sent["id"]))["status"] == "read" and r,
        timeout=10,
        interval=0.2,
        what="the message to be read",
    )

    history = [step["status"] for step in record["status_history"]]
    assert history[0] == "pending"
    assert history[-1] == "read"
    assert history == sorted(history, key=ORDER.index), "statuses only move forward"
    assert record["message_id"] == sent["message_id"]
    assert record["reference"] == "crm-e2e"
    assert _record(connected, sent["message_id"])["id"] == sent["id"]  # found by WhatsApp id too


def test_the_same_idempotency_key_and_body_replays_and_sends_once(connected: Stack) -> None:
    key = f"e2e-{uuid.uuid4()}"
    body = {"to": TO, "text": f"Una vez {uuid.uuid4().hex[:8]}"}

    first = connected.api("POST", "/messages", json=body, headers={"Idempotency-Key": key})
    again = connected.api("POST", "/messages", json=body, headers={"Idempotency-Key": key})

    assert first.status_code == 201, first.text
    assert again.status_code == 201, again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.headers.get("Idempotent-Replayed") is None
    assert len(_sent_with_text(connected, body["text"])) == 1

    other = connected.api(
        "POST", "/messages", json={**body, "text": "otra cosa"}, headers={"Idempotency-Key": key}
    )
    assert other.status_code == 422
    assert other.json()["Code"] == "IdempotencyKeyReused"
    assert len(_sent_with_text(connected, body["text"])) == 1


def test_an_inbound_reply_is_stored_and_listed(connected: Stack) -> None:
    text = f"Gracias {uuid.uuid4().hex[:8]}"
    injected = connected.sim(
        "POST",
        f"/instances/{connected.instance}/inbound",
        json={"kind": "text", "from": "5511977776666", "text": text, "pushName": "Ana"},
    )
    assert injected.status_code == 200, injected.text

    def listed() -> dict[str, Any] | None:
        response = connected.api("GET", "/messages", params={"direction": "inbound", "limit": 20})
        assert response.status_code == 200, response.text
        return next((item for item in response.json()["items"] if item.get("text") == text), None)

    item = wait_for(listed, timeout=10, interval=0.2, what="the inbound message to be listed")
    assert item["direction"] == "inbound"
    assert item["from"] == "+5511977776666"
    assert item["type"] == "text"
    assert item["id"].startswith("msg_")
    assert _record(connected, item["id"])["text"] == text
