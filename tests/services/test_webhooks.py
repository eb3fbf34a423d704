"""The one event table: what the service subscribes to is what it parses and what it handles."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from chalicelib.models.webhook import EVENT_MODELS, KNOWN_EVENTS, IgnoredEvent
from chalicelib.services.webhooks import (
    EVENTS,
    WebhookService,
    canonical_event,
    parse_envelope,
    subscriptions,
)
from chalicelib.store.sqlite import SQLiteStore
from tests.conftest import load_webhook

RECEIVED = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
SAMPLES = {
    "messages.upsert": "messages.upsert.text",
    "messages.update": "messages.update.delivery",
    "send.message": "send.message",
    "connection.update": "connection.update.open",
    "qrcode.updated": "qrcode.updated",
}


def test_every_event_with_a_model_is_in_the_table_and_nothing_else() -> None:
    assert {event.model for event in EVENTS.values()} == set(EVENT_MODELS)
    assert set(EVENTS) == KNOWN_EVENTS


def test_the_subscriptions_are_the_table_spelled_as_evolution_wants_and_read_back_to_it() -> None:
    assert subscriptions() == [
        "MESSAGES_UPSERT",
        "MESSAGES_UPDATE",
        "MESSAGES_DELETE",
        "SEND_MESSAGE",
        "CONNECTION_UPDATE",
        "QRCODE_UPDATED",
    ]
    assert [canonical_event(name) for name in subscriptions()] == list(EVENTS)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_subscribed_event_parses_to_its_model_and_is_handled(name: str, tmp_path: Path) -> None:
    body: dict[str, Any] = load_webhook(SAMPLES[name])
    event = parse_envelope(body, received_at=RECEIVED)
    service = WebhookService(store=SQLiteStore(str(tmp_path / "s.db")), instance=event.instance)

    answer = service.handle(event)

    assert isinstance(event, EVENTS[name].model)
    assert answer == {"received": True, "event": name, "duplicate": False}


def test_a_deleted_message_is_subscribed_parsed_and_answered_ignored(tmp_path: Path) -> None:
    body = {
        "event": "MESSAGES_DELETE",
        "instance": "acme",
        "data": {"id": "3A77", "remoteJid": "x@s.whatsapp.net"},
    }
    event = parse_envelope(body, received_at=RECEIVED)
    answer = WebhookService(store=SQLiteStore(str(tmp_path / "s.db")), instance="acme").handle(event)
    assert answer == {"received": True, "event": "messages.delete", "ignored": True}


def test_an_event_outside_the_table_is_accepted_and_ignored(tmp_path: Path) -> None:
    event = parse_envelope({"event": "CHATS_UPSERT", "instance": "acme", "data": []}, received_at=RECEIVED)
    answer = WebhookService(store=SQLiteStore(str(tmp_path / "s.db")), instance="acme").handle(event)
    assert isinstance(event, IgnoredEvent)
    assert answer == {"received": True, "event": "chats.upsert", "ignored": True}


def test_a_new_message_with_media_has_its_fetch_queued_once_and_others_none(tmp_path: Path) -> None:
    queued: list[str] = []
    store = SQLiteStore(str(tmp_path / "s.db"))
    documents = parse_envelope(load_webhook("messages.upsert.document"), received_at=RECEIVED)
    text = parse_envelope(load_webhook("messages.upsert.text"), received_at=RECEIVED)
    service = WebhookService(store=store, instance=documents.instance, media_fetch=queued.append)

    service.handle(documents)
    service.handle(documents)  # a re-delivery: stored once, fetched once
    service.handle(text)

    (record_id,) = queued
    record = store.get_message(documents.instance, record_id)
    assert record is not None and record.type == "document" and record.media is not None
    assert record.media["stored"] is False
