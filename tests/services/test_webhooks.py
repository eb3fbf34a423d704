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


class Hooks:
    """Stands in for the broadcasts service: what the webhook service tells it."""

    def __init__(self) -> None:
        self.opened = 0
        self.followed: list[str] = []

    def session_opened(self) -> int:
        self.opened += 1
        return 0

    def follow(self, record: Any) -> None:
        self.followed.append(record.status)


def test_an_open_session_resumes_broadcasts_and_a_status_of_a_broadcast_send_reaches_its_recipient(
    tmp_path: Path,
) -> None:
    from chalicelib.models.records import MessageRecord

    store = SQLiteStore(str(tmp_path / "s.db"))
    hooks = Hooks()
    opened = parse_envelope(load_webhook("connection.update.open"), received_at=RECEIVED)
    service = WebhookService(store=store, instance=opened.instance, broadcasts=lambda: hooks)  # type: ignore[arg-type,return-value]
    service.handle(opened)
    service.handle(parse_envelope(load_webhook("connection.update.close"), received_at=RECEIVED))
    assert hooks.opened == 1
    status = parse_envelope(load_webhook("messages.update.delivery"), received_at=RECEIVED)
    store.create_message(
        MessageRecord.model_validate(
            {
                "id": "msg_01JDQ4Z9W6M8E3V7K2B5N1P0RS",
                "instance": status.instance,
                "direction": "outbound",
                "message_id": status.message_id,  # type: ignore[union-attr]
                "type": "text",
                "status": "pending",
                "created_at": "2026-11-25T10:00:00.000Z",
                "updated_at": "2026-11-25T10:00:00.000Z",
                "broadcast_id": "bc_01JDQ4Z9W6M8E3V7K2B5N1P0RS",
                "broadcast_index": 3,
            }
        )
    )
    service.handle(status)
    service.handle(status)  # a re-delivery is passed on too: the first may have been cut short
    assert hooks.followed == ["delivered", "delivered"]


def test_an_inbound_keyword_reaches_consent_on_every_delivery(tmp_path: Path) -> None:
    from chalicelib.services.consent import ConsentService

    store = SQLiteStore(str(tmp_path / "s.db"))
    body = load_webhook("messages.upsert.text")
    body["data"]["message"] = {"conversation": "Baja"}
    event = parse_envelope(body, received_at=RECEIVED)
    consent = ConsentService(store=store, instance=event.instance)
    service = WebhookService(store=store, instance=event.instance, consent=consent)
    assert service.handle(event)["duplicate"] is False
    assert store.get_suppression(event.instance, "+5511999999999") is not None
    store.unsuppress(event.instance, "+5511999999999", event=None)
    assert service.handle(event)["duplicate"] is True
    assert store.get_suppression(event.instance, "+5511999999999") is not None
