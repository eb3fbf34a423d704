"""Sending messages safely: claim the idempotency key, plan, execute the one Evolution call, record
the outcome; and reading the records back.

What happens to an ``Idempotency-Key`` when a send fails (a choice this module makes, on the one
"did it leave?" decision, :func:`chalicelib.evolution.errors.send_fate`):
- ``not_sent`` (the request never left, or Evolution says it did not send: connect error, session
  closed, rate limited, unavailable): the key is **released**, so the same key may be retried later;
- ``refused`` (not on WhatsApp, a rejected body, a Graph error): the record is ``failed`` and the
  key **keeps that answer**;
- ``maybe_sent`` (read timeout, connection lost after sending, or an answer that cannot be read,
  such as a proxy's HTML 502): the record is ``unknown`` (504, or 502 for the unreadable answer)
  and the key keeps that answer: retrying with the same key never re-sends blindly. A later
  ``send.message`` webhook settles the record.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from chalicelib import errors
from chalicelib.clock import new_message_id, now_iso
from chalicelib.evolution import errors as evo
from chalicelib.logs import mask_phone
from chalicelib.models.records import MessageRecord
from chalicelib.services.integrations import IntegrationCache
from chalicelib.services.message_plan import EvolutionSend, MessagePlanner, Outgoing
from chalicelib.services.message_rules import map_status
from chalicelib.services.paging import page_body
from chalicelib.services.upstream import translate

if TYPE_CHECKING:
    from chalicelib.evolution import EvolutionClient
    from chalicelib.evolution.wire import SentMessage
    from chalicelib.models.api import SendMessageRequest, SendTemplateRequest
    from chalicelib.services.templates import Registry
    from chalicelib.settings import Settings
    from chalicelib.store.base import IdempotencyRecord, Store

logger = logging.getLogger(__name__)

IDEMPOTENCY_TTL_S = 24 * 3600
IN_PROGRESS_WAIT_S = 3.0  # how long a duplicate waits for the first request's answer
IN_PROGRESS_POLL_S = 0.1
IN_PROGRESS_RETRY_AFTER = 2


@dataclass(frozen=True)
class SendOutcome:
    """The HTTP answer to a send: status, body, extra headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def request_fingerprint(route: str, body: Any) -> str:
    """What makes two requests "the same" for an Idempotency-Key: route and canonical JSON body."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{route}\n{canonical}".encode()).hexdigest()


def execute(evolution: EvolutionClient, instance: str, send: EvolutionSend) -> SentMessage:
    """Make the Evolution call a plan describes: the only place a send reaches the client."""
    method = getattr(evolution, send.operation)
    return cast("SentMessage", method(instance, **send.arguments))


class MessageService:
    """Sends messages through Evolution and keeps their records in the store."""

    def __init__(
        self,
        *,
        evolution: EvolutionClient,
        store: Store,
        settings: Settings,
        integrations: IntegrationCache | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        templates_registry: Registry | None = None,
        in_progress_wait_s: float = IN_PROGRESS_WAIT_S,
    ) -> None:
        self.in_progress_wait_s = in_progress_wait_s
        self.evolution = evolution
        self.store = store
        self.settings = settings
        self.instance = settings.INSTANCE_NAME
        self.integrations = integrations if integrations is not None else IntegrationCache()
        self.planner = MessagePlanner(
            evolution=evolution,
            store=store,
            settings=settings,
            integrations=self.integrations,
            templates_registry=templates_registry,
        )
        self._clock = clock
        self._sleep = sleep

    # -- delivery --------------------------------------------------------------------------------

    def deliver(
        self,
        request: SendMessageRequest | SendTemplateRequest,
        *,
        idempotency_key: str | None,
        fingerprint: str,
    ) -> SendOutcome:
        """Claim the key, plan, send once, record the outcome, keep the answer under the key."""
        key = f"{self.instance}:{idempotency_key}" if idempotency_key else None
        if key is not None:
            replay = self._claim(key, fingerprint)
            if replay is not None:
                return replay
        try:
            outgoing = self.planner.plan(request)
        except BaseException:
            if key is not None:
                self.store.release_idempotency(key)
            raise
        outcome = self._send(outgoing, key)
        if key is not None:
            self.store.complete_idempotency(
                key, status_code=outcome.status, body=outcome.body, headers=outcome.headers
            )
        return outcome

    def _claim(self, key: str, fingerprint: str) -> SendOutcome | None:
        """None when this request owns the key; else the stored answer (or an error)."""
        deadline = self._clock() + self.in_progress_wait_s
        while True:
            claim = self.store.claim_idempotency(key, fingerprint, now=self._clock(), ttl_s=IDEMPOTENCY_TTL_S)
            if claim.claimed:
                return None
            record = claim.record
            if record.fingerprint != fingerprint:
                raise errors.IdempotencyKeyReusedError(
                    "This Idempotency-Key was used with a different request; use a new key."
                )
            if record.state == "done":
                return _replay(record)
            if self._clock() >= deadline:
                raise errors.IdempotencyKeyInUseError(
                    "A request with this Idempotency-Key is still being processed; retry shortly.",
                    retry_after=IN_PROGRESS_RETRY_AFTER,
                )
            self._sleep(IN_PROGRESS_POLL_S)

    def _send(self, outgoing: Outgoing, key: str | None) -> SendOutcome:
        try:
            sent = execute(self.evolution, self.instance, outgoing.send)
        except evo.EvolutionError as exc:
            error = translate(exc, sending=True)
            fate = evo.send_fate(exc)
            if fate == "not_sent":
                if key is not None:
                    self.store.release_idempotency(key)
                if isinstance(exc, evo.EvolutionNotFoundError):
                    self._forget_integration()
                raise error from exc
            status = "unknown" if fate == "maybe_sent" else "failed"
            record = self._record(outgoing, status=status, error=error)
            if status == "unknown":
                self._settle_from_webhook(record)
            logger.warning(
                "send %s", status, extra={"to": mask_phone(outgoing.recipient.to), "error": error.code}
            )
            body = errors.error_body(error)
            body["Details"] = [{"id": record.id, "status": record.status}]
            return SendOutcome(error.status, body, error.headers())
        status = map_status(sent.status) or "pending"
        record = self._record(
            outgoing,
            status=status,
            message_id=sent.message_id,
            jid=sent.remote_jid or outgoing.recipient.jid,
        )
        return SendOutcome(201, _accepted(record))

    def _forget_integration(self) -> None:
        """The instance is gone: whatever was learnt about it is stale once it is created again."""
        self.integrations.forget(self.instance)
        try:
            self.store.update_instance_state(self.instance, integration=None)
        except errors.StoreUnavailableError:
            logger.warning("could not forget the instance's integration", exc_info=True)

    def _settle_from_webhook(self, record: MessageRecord) -> None:
        """A ``send.message`` may have come in while we waited for the answer (Evolution sent, then
        the answer was lost or late): it was parked for us, so attach its id now. Best effort."""
        if record.jid is None or record.fingerprint is None:
            return
        try:
            parked = self.store.take_parked_send(
                self.instance, jid=record.jid, fingerprint=record.fingerprint, now=self._clock()
            )
            if parked is not None:
                message_id, status = parked
                self.store.attach_message_id(record.id, message_id, at=now_iso(), status=status)
        except errors.StoreUnavailableError:
            logger.warning("could not look for a parked send.message", exc_info=True)

    def _record(
        self,
        outgoing: Outgoing,
        *,
        status: str,
        message_id: str | None = None,
        jid: str | None = None,
        error: errors.ServiceError | None = None,
    ) -> MessageRecord:
        now = now_iso()
        record = MessageRecord.model_validate(
            {
                "id": new_message_id(),
                "instance": self.instance,
                "direction": "outbound",
                "message_id": message_id,
                "type": outgoing.type,
                "status": status,
                "status_history": [{"status": status, "at": now}],
                "to": outgoing.recipient.to,
                "jid": jid or outgoing.recipient.jid,
                "origin": "api",
                "reference": outgoing.reference,
                "fingerprint": outgoing.fingerprint,
                "created_at": now,
                "updated_at": now,
                "error": {"code": error.code, "message": error.message} if error else None,
                **{k: v for k, v in outgoing.extras.items() if v is not None},
            }
        )
        return self.store.create_message(record)

    # -- reading ---------------------------------------------------------------------------------

    def get(self, id_or_message_id: str) -> dict[str, Any]:
        record = self.store.get_message(self.instance, id_or_message_id)
        if record is None:
            raise errors.NotFoundError("No message with this id.")
        return record.public()

    def list(
        self, *, direction: str | None, status: str | None, after: str | None, limit: int
    ) -> dict[str, Any]:
        try:
            page = self.store.list_messages(
                self.instance, direction=direction, status=status, after=after, limit=limit
            )
        except ValueError:
            raise errors.ValidationError(
                "after: not a cursor this API returned.",
                details=[{"loc": ["after"], "msg": "invalid cursor"}],
            ) from None
        return page_body(page)  # bounded in bytes too: Lambda answers at most 6 MB


def _accepted(record: MessageRecord) -> dict[str, Any]:
    """The 201 body of a send (API.md)."""
    body: dict[str, Any] = {
        "id": record.id,
        "message_id": record.message_id,
        "to": record.to,
        "jid": record.jid,
        "type": record.type,
        "status": record.status,
        "reference": record.reference,
        "created_at": record.created_at,
    }
    if record.template is not None:
        body["template"] = record.template
    return body


def _replay(record: IdempotencyRecord) -> SendOutcome:
    body = record.body or {}
    headers = {**record.headers, "Idempotent-Replayed": "true"}
    return SendOutcome(record.status_code or 200, body, headers)
