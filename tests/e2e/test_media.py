"""Inbound media over real processes: a document injected at the simulator is fetched on arrival,
listed stored, and downloaded by the link `GET /messages/{id}/media` gives — without an API key."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import requests

from tests.procs import Stack, wait_for

pytestmark = pytest.mark.e2e

TINY_PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"  # what the simulator sends


def _inject(stack: Stack, kind: str) -> str:
    injected = stack.sim(
        "POST", f"/instances/{stack.instance}/inbound", json={"kind": kind, "from": "5511977776666"}
    )
    assert injected.status_code == 200, injected.text
    message_id: str = injected.json()["data"]["key"]["id"]
    return message_id


def _settled(stack: Stack, message_id: str) -> dict[str, Any]:
    def stored() -> dict[str, Any] | None:
        response = stack.api("GET", f"/messages/{message_id}")
        if response.status_code != 200:
            return None
        record: dict[str, Any] = response.json()
        media = record["media"]
        return record if media["stored"] or "error" in media else None

    found: dict[str, Any] = wait_for(stored, timeout=15, interval=0.1, what="the media to be fetched")
    return found


def test_an_inbound_document_is_stored_on_arrival_and_downloaded_by_its_signed_link(connected: Stack) -> None:
    message_id = _inject(connected, "document")

    record = _settled(connected, message_id)
    listed = connected.api("GET", "/messages", params={"direction": "inbound", "limit": 20}).json()["items"]
    link = connected.api("GET", f"/messages/{record['id']}/media")
    download = requests.get(link.json()["url"], timeout=10)  # no Authorization header

    assert record["media"]["stored"] is True
    assert record["media"]["sha256"] == hashlib.sha256(TINY_PDF).hexdigest()
    assert next(i for i in listed if i["id"] == record["id"])["media"]["stored"] is True
    assert link.status_code == 200, link.text
    assert link.json()["filename"] == "orcamento-2025.pdf"
    assert download.status_code == 200, download.text
    assert download.content == TINY_PDF
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    tampered = link.json()["url"].replace("signature=", "signature=0")
    assert requests.get(tampered, timeout=10).status_code == 403


def test_media_whatsapp_no_longer_serves_is_reported_unavailable(connected: Stack) -> None:
    message_id = _inject(connected, "image")
    record = _settled(connected, message_id)  # stored on arrival
    assert record["media"]["stored"] is True

    connected.sim("POST", "/media/expire", json={"message_id": message_id}).raise_for_status()
    still = connected.api("GET", f"/messages/{record['id']}/media")

    assert still.status_code == 200  # it was kept when it arrived: WhatsApp's expiry no longer matters
    assert requests.get(still.json()["url"], timeout=10).content.startswith(b"\xff\xd8\xff")
