"""Webhook effects: each parsed event applied to the store once, atomically and idempotently."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.clock import new_message_id, now_iso
from chalicelib.models.webhook import (
    ConnectionUpdated,
    MessageSent,
    MessageUpserted,
    QrCodeUpdated,
    StatusUpdated,
)
from chalicelib.services.webhook_parse import to_inbound_record

if TYPE_CHECKING:
    from chalicelib.models.webhook import WebhookEvent
    from chalicelib.store.base import Store

logger = logging.getLogger(__name__)

RECONCILE_WINDOW = timedelta(minutes=5)  # how far back a timed-out send may be matched


class WebhookService:
    """Applies Evolution's events for the one instance this service drives."""

    def __init__(self, *, store: Store, instance: str) -> None:
        self.store = store
        self.instance = instance

    def handle(self, event: WebhookEvent) -> dict[str, Any]:
        """The answer body; raises StoreUnavailableError when the event could not be recorded."""
        answer: dict[str, Any] = {"received": True, "event": event.event}
        if event.instance != self.instance:
            return answer | {"ignored": True}
        if isinstance(event, MessageUpserted):
            return answer | {"duplicate": not self._store_message(event)}
        if isinstance(event, StatusUpdated):
            if event.status is None:
                return answer | {"ignored": True}
            result = self.store.apply_status(self.instance, event.message_id, event.status, at=now_iso())
            return answer | {"duplicate": result.duplicate}
        if isinstance(event, MessageSent):
            return answer | {"duplicate": not self._confirm_send(event)}
        if isinstance(event, ConnectionUpdated):
            self._connection(event)
            return answer | {"duplicate": False}
        if isinstance(event, QrCodeUpdated):
            if event.qr_code or event.pairing_code:
                self.store.update_instance_state(
                    self.instance,
                    state="connecting",
                    qr_code=event.qr_code,
                    pairing_code=event.pairing_code,
                    code=event.code,
                    updated_at=now_iso(),
                )
            return answer | {"duplicate": False}
        return answer | {"ignored": True}  # messages.delete and every event the service does not use

    def _store_message(self, event: MessageUpserted) -> bool:
        now = now_iso()
        record = to_inbound_record(event.message, instance=self.instance, record_id=new_message_id(), now=now)
        return self.store.insert_inbound(record)

    def _confirm_send(self, event: MessageSent) -> bool:
        """Confirm an API send; settle one left ``unknown`` by a timeout; else keep it for later."""
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
                logger.info("timed-out send reconciled", extra={"id": candidate.id})
                return True
        return False

    def _connection(self, event: ConnectionUpdated) -> None:
        fields: dict[str, Any] = {"state": event.state or event.raw_state, "updated_at": now_iso()}
        if event.state == "open":
            fields.update(qr_code=None, pairing_code=None, code=None)
        self.store.update_instance_state(self.instance, **fields)
