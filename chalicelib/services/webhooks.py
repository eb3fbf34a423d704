"""Evolution's webhook events: the one table of the events this service subscribes to, parses and
handles (:data:`EVENTS`), reading a delivery into its event, and applying each event to the store
once, atomically and idempotently."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.clock import new_message_id, now_iso
from chalicelib.models.webhook import (
    ConnectionUpdated,
    IgnoredEvent,
    MessageDeleted,
    MessageSent,
    MessageUpserted,
    Normalised,
    QrCodeUpdated,
    StatusUpdated,
    WireEnvelope,
)
from chalicelib.services import webhook_parse as parse
from chalicelib.services.webhook_content import invalid, to_inbound_record, validate
from chalicelib.services.webhook_limits import bounded

if TYPE_CHECKING:
    from chalicelib.models.webhook import WebhookEvent
    from chalicelib.services.broadcasts import BroadcastService
    from chalicelib.services.consent import ConsentService
    from chalicelib.store.base import Store

logger = logging.getLogger(__name__)

RECONCILE_WINDOW = timedelta(minutes=5)  # how far back a send without its WhatsApp id may be matched


class WebhookService:
    """Applies Evolution's events for the one instance this service drives."""

    def __init__(
        self,
        *,
        store: Store,
        instance: str,
        media_fetch: Callable[[str], None] | None = None,
        consent: ConsentService | None = None,
        broadcasts: Callable[[], BroadcastService] | None = None,
    ) -> None:
        self.store = store
        self.instance = instance
        self.media_fetch = media_fetch  # queues the background fetch of a new record's media
        self.consent = consent  # opt-out/opt-in keywords in inbound texts
        self.broadcasts = broadcasts  # recipients follow their message; a reopened session resumes

    def handle(self, event: WebhookEvent) -> dict[str, Any]:
        """The answer body; raises StoreUnavailableError when the event could not be recorded."""
        answer: dict[str, Any] = {"received": True, "event": event.event}
        entry = EVENTS.get(event.event)
        if event.instance != self.instance or entry is None:
            return answer | {"ignored": True}
        return answer | entry.handle(self, event)

    # -- one handler per event (the table below picks it) ------------------------------------------

    def _on_upserted(self, event: MessageUpserted) -> dict[str, Any]:
        return {"duplicate": not self._store_message(event)}

    def _on_status(self, event: StatusUpdated) -> dict[str, Any]:
        if event.status is None:
            return {"ignored": True}
        result = self.store.apply_status(self.instance, event.message_id, event.status, at=now_iso())
        if result.record is not None and result.record.broadcast_id and self.broadcasts is not None:
            self.broadcasts().follow(result.record)  # also on a re-delivery: a crash may have cut it
        return {"duplicate": result.duplicate}

    def _on_sent(self, event: MessageSent) -> dict[str, Any]:
        return {"duplicate": not self._confirm_send(event)}

    def _on_deleted(self, event: MessageDeleted) -> dict[str, Any]:
        return {"ignored": True}  # accepted and not acted on (README)

    def _on_connection(self, event: ConnectionUpdated) -> dict[str, Any]:
        self._connection(event)
        return {"duplicate": False}

    def _on_qrcode(self, event: QrCodeUpdated) -> dict[str, Any]:
        if event.qr_code or event.pairing_code:
            self.store.update_instance_state(
                self.instance,
                state="connecting",
                qr_code=event.qr_code,
                pairing_code=event.pairing_code,
                code=event.code,
                updated_at=now_iso(),
            )
        return {"duplicate": False}

    def _store_message(self, event: MessageUpserted) -> bool:
        now = now_iso()
        record = to_inbound_record(event.message, instance=self.instance, record_id=new_message_id(), now=now)
        stored = self.store.insert_inbound(record)
        if stored and record.media is not None and self.media_fetch is not None:
            self.media_fetch(record.id)  # fetched on arrival, before WhatsApp's link expires
        if self.consent is not None:  # also on a re-delivery: a crash may have come in between
            self.consent.on_inbound(record)
        return stored

    def _confirm_send(self, event: MessageSent) -> bool:
        """Confirm an API send; settle one still without its WhatsApp id (written ahead and never
        settled, ``unknown`` after a timeout, or ``failed`` although it left); else keep it for later."""
        status = event.status or "pending"
        at = now_iso()
        if self.store.get_message(self.instance, event.message_id) is None:
            if self._reconcile(event, status, at):
                return True
            # No record yet: either the send is still in flight (its record will carry this id),
            # or it is about to time out and be recorded ``unknown``: park it for that send to find,
            # then look once more, in case the ``unknown`` record was written in between.
            parked = self.store.park_send(
                self.instance,
                jid=event.jid,
                fingerprint=event.fingerprint,
                message_id=event.message_id,
                status=status,
                now=time.time(),
                ttl_s=int(RECONCILE_WINDOW.total_seconds()),
            )
            if parked and self._reconcile(event, status, at):
                return True
        return not self.store.apply_status(self.instance, event.message_id, status, at=at).duplicate

    def _reconcile(self, event: MessageSent, status: str, at: str) -> bool:
        candidates = self.store.find_unknown_sends(
            self.instance,
            jid=event.jid,
            fingerprint=event.fingerprint,
            since=now_iso(RECONCILE_WINDOW),
        )
        for candidate in sorted(candidates, key=lambda r: r.created_at):
            if self.store.attach_message_id(candidate.id, event.message_id, at=at, status=status):
                logger.info("a send reconciled by its send.message", extra={"id": candidate.id})
                return True
        return False

    def _connection(self, event: ConnectionUpdated) -> None:
        fields: dict[str, Any] = {"state": event.state or event.raw_state, "updated_at": now_iso()}
        if event.state == "open":
            fields.update(qr_code=None, pairing_code=None, code=None)
        self.store.update_instance_state(self.instance, **fields)
        if event.state == "open" and self.broadcasts is not None:
            try:
                self.broadcasts().session_opened()
            except Exception:  # they look again within a minute anyway
                logger.warning("could not resume broadcasts waiting for the session", exc_info=True)


@dataclass(frozen=True)
class EvolutionEvent:
    """One Evolution event this service subscribes to, parses and handles."""

    model: type[Normalised]  # its normalised event; the model's ``event`` names it
    parse: Callable[[WireEnvelope, datetime], WebhookEvent]
    handle: Callable[[WebhookService, Any], dict[str, Any]]  # what it adds to the answer

    @property
    def name(self) -> str:
        """``messages.upsert``: as deliveries name it (once canonical)."""
        return str(self.model.model_fields["event"].default)

    @property
    def subscription(self) -> str:
        """``MESSAGES_UPSERT``: as the instance's webhook subscribes to it."""
        return self.name.upper().replace(".", "_")


EVENTS: dict[str, EvolutionEvent] = {
    event.name: event
    for event in (
        EvolutionEvent(MessageUpserted, parse.parse_upserted, WebhookService._on_upserted),
        EvolutionEvent(StatusUpdated, parse.parse_status_updated, WebhookService._on_status),
        EvolutionEvent(MessageDeleted, parse.parse_deleted, WebhookService._on_deleted),
        EvolutionEvent(MessageSent, parse.parse_sent, WebhookService._on_sent),
        EvolutionEvent(ConnectionUpdated, parse.parse_connection, WebhookService._on_connection),
        EvolutionEvent(QrCodeUpdated, parse.parse_qrcode, WebhookService._on_qrcode),
    )
}


def subscriptions() -> list[str]:
    """The events registered on the instance's webhook, in the table's order."""
    return [event.subscription for event in EVENTS.values()]


def canonical_event(name: str) -> str:
    """``messages.upsert`` from ``MESSAGES_UPSERT``, ``messages-upsert`` or ``Messages.Upsert``."""
    dotted = name.strip().lower().replace("_", ".")
    known = dotted.replace("-", ".")
    return known if known in EVENTS else dotted


def parse_envelope(body: object, *, received_at: datetime) -> WebhookEvent:
    """The typed event in one webhook delivery; :class:`ValidationError` if it is not an envelope.
    Pure: no I/O, no logging.

    ``received_at`` stands in for the message time when ``messageTimestamp`` is missing (the
    envelope's ``date_time`` is never used: it is server-local time with a false ``Z``).
    """
    if not isinstance(body, dict):
        raise invalid((), "expected a JSON object")
    envelope = validate(WireEnvelope, body, ())
    name = canonical_event(envelope.event)
    if not name:
        raise invalid(("event",), "String should not be blank")
    event = EVENTS.get(name)
    at = parse.utc(received_at)
    parsed = event.parse(envelope, at) if event else IgnoredEvent(event=name, instance=envelope.instance)
    return bounded(parsed, received_at=at)  # every stored field within its limit (webhook_limits)
