"""Delivering one planned send at most once, and never lying about it: the write-ahead ledger.

The invariants (issue 12), whatever fails and whenever:
1. **Sent once.** One Idempotency-Key never sends twice; a send that may have gone out is never
   sent again blindly.
2. **A record for everything that may have left.** Before Evolution is called, one atomic store
   write holds the key's claim *and* a ``pending`` record of the send (``begin_send``). If that
   write fails, nothing is sent and the answer says so (503, or 400 when the store refuses the
   record for good).
3. **The answer tells the truth.** After Evolution answers, one atomic write settles the record
   and keeps the answer under the key (``finish_send``). If that write fails, the answer is still
   the truth (201 with the ids Evolution gave: the message went out), the record stays
   ``pending``, and the ``send.message`` webhook settles it later (reconciled by chat and content
   fingerprint); a retry with the key then answers from the record instead of sending.
4. **Released only on proof.** The record is dropped and the key released only when the request
   provably never left (:func:`chalicelib.evolution.errors.send_fate` ``not_sent``). Anything
   that may have arrived (a timeout, a 5xx, an unreadable answer, a proxy's bare 503/429) is
   ``unknown``: the key keeps that answer and webhooks settle the record. A refusal is
   ``failed``, and a ``failed`` record that later shows ``send.message`` or acks moves on too.
5. **Leased claims** (as Powertools' idempotency does): an in-progress claim carries a lease
   longer than the longest request. A retry that finds the lease run out looks at the claim:
   with no record written ahead, nothing was sent and the key is claimed afresh; with one, the
   send may have gone out, so the record (and the key's answer) becomes ``unknown`` (504) —
   never a second send. A retry that finds the record already settled by a webhook answers 201
   from it at once.

This module knows no HTTP: a background worker (broadcasts) drives it the same way as a route,
with a key per recipient: ``claim``, plan, ``send`` (or ``release`` if planning failed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chalicelib import errors
from chalicelib.clock import new_message_id, now_iso
from chalicelib.evolution import errors as evo
from chalicelib.logs import mask_phone
from chalicelib.models.records import MessageRecord
from chalicelib.services.message_rules import map_status
from chalicelib.services.upstream import translate
from chalicelib.store.base import LEASE_S, ClaimLostError
from chalicelib.store.rules import lease_over, settle

if TYPE_CHECKING:
    from chalicelib.evolution.wire import SentMessage
    from chalicelib.services.message_plan import Outgoing
    from chalicelib.store.base import IdempotencyRecord, Store

logger = logging.getLogger(__name__)

IDEMPOTENCY_TTL_S = 24 * 3600
IN_PROGRESS_WAIT_S = 3.0  # how long a duplicate waits for the first request's answer
IN_PROGRESS_POLL_S = 0.1
IN_PROGRESS_RETRY_AFTER = 2
REPLAYED = {"Idempotent-Replayed": "true"}


@dataclass(frozen=True)
class SendOutcome:
    """The HTTP answer to a send: status, body, extra headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Ticket:
    """The right to send once: the claim of an Idempotency-Key (``key`` None: no key given)."""

    key: str | None = None
    writer: str | None = None


class SendLedger:
    """Claims keys, writes sends ahead, calls Evolution once, settles: see the module docstring."""

    def __init__(
        self,
        *,
        store: Store,
        instance: str,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        in_progress_wait_s: float = IN_PROGRESS_WAIT_S,
    ) -> None:
        self.store = store
        self.instance = instance
        self.in_progress_wait_s = in_progress_wait_s
        self._clock = clock
        self._sleep = sleep

    # -- 1. the key ------------------------------------------------------------------------------

    def claim(self, key: str | None, fingerprint: str) -> Ticket | SendOutcome:
        """A ticket to send, or the answer this key already has (or an error: another body,
        still in flight)."""
        if key is None:
            return Ticket()
        deadline = self._clock() + self.in_progress_wait_s
        while True:
            now = self._clock()
            claim = self.store.claim_idempotency(
                key, fingerprint, now=now, ttl_s=IDEMPOTENCY_TTL_S, lease_s=LEASE_S
            )
            if claim.claimed:
                return Ticket(key, claim.record.writer)
            record = claim.record
            if record.fingerprint != fingerprint:
                raise errors.IdempotencyKeyReusedError(
                    "This Idempotency-Key was used with a different request; use a new key."
                )
            if record.state == "done":
                return _replay(record)
            if record.record_id is not None:
                answer = self._answer_from_record(key, record, now)
                if answer is not None:
                    return answer
            if self._clock() >= deadline:
                raise errors.IdempotencyKeyInUseError(
                    "A request with this Idempotency-Key is still being processed; retry shortly.",
                    retry_after=IN_PROGRESS_RETRY_AFTER,
                )
            self._sleep(IN_PROGRESS_POLL_S)

    def release(self, ticket: Ticket) -> None:
        """Give the key back: nothing was written ahead, nothing was sent (planning failed)."""
        if ticket.key is not None:
            self.store.release_idempotency(ticket.key, writer=ticket.writer)

    def _answer_from_record(self, key: str, claim: IdempotencyRecord, now: float) -> SendOutcome | None:
        """The answer for a key whose claimant wrote its send ahead but never completed the key:
        201 once the record has its WhatsApp id; ``unknown`` (504) once the lease ran out without
        one; None while the claimant may still be sending."""
        assert claim.record_id is not None  # noqa: S101 - the caller checked
        record = self.store.get_message(self.instance, claim.record_id)
        if record is None:
            return None
        if record.message_id is None:
            record = self._take_parked(record) or record
        if record.message_id is not None:
            outcome = SendOutcome(201, accepted(record))
            self.store.complete_idempotency(key, status_code=201, body=outcome.body, headers={})
            return SendOutcome(outcome.status, outcome.body, REPLAYED)
        if not lease_over(claim.lease_until, claim.created_at, now):
            return None
        error = errors.UpstreamTimeoutError(
            "The request that used this Idempotency-Key ended before its outcome was known; the "
            "message may or may not have been sent: check its status before retrying."
        )
        body = errors.error_body(error) | {"Details": [{"id": record.id, "status": "unknown"}]}
        self.store.finish_send(
            record.id,
            "unknown",
            at=now_iso(),
            error={"code": error.code, "message": error.message},
            key=key,
            response=(error.status, body, {}),
        )
        logger.warning("an abandoned send is now unknown", extra={"id": record.id})
        return SendOutcome(error.status, body, REPLAYED)

    # -- 2. the send -----------------------------------------------------------------------------

    def send(self, ticket: Ticket, outgoing: Outgoing, call: Callable[[], SentMessage]) -> SendOutcome:
        """Write ``outgoing`` ahead, ``call`` Evolution once, settle the record and the key."""
        record = self._written_ahead(outgoing)
        try:
            self.store.begin_send(record, key=ticket.key, writer=ticket.writer)
        except ClaimLostError:
            raise errors.IdempotencyKeyInUseError(
                "Another request with this Idempotency-Key took over; nothing was sent. Retry shortly.",
                retry_after=IN_PROGRESS_RETRY_AFTER,
            ) from None
        except BaseException:
            self._abandon_quietly(ticket, record)  # nothing will be sent
            raise
        try:
            sent = call()
        except evo.EvolutionError as exc:
            return self._failed(ticket, outgoing, record, exc)
        status = map_status(sent.status) or "pending"
        jid = sent.remote_jid or outgoing.recipient.jid
        settled = settle(record, status, now_iso(), message_id=sent.message_id, jid=jid)
        outcome = SendOutcome(201, accepted(settled))
        self._finish(ticket, settled, outcome)
        return outcome

    def _failed(
        self, ticket: Ticket, outgoing: Outgoing, record: MessageRecord, exc: evo.EvolutionError
    ) -> SendOutcome:
        error = translate(exc, sending=True)
        fate = evo.send_fate(exc)
        if fate == "not_sent":
            self._abandon_quietly(ticket, record)  # if that fails: never re-sent, unknown later
            raise error from exc
        status = "unknown" if fate == "maybe_sent" else "failed"
        logger.warning(
            "send %s", status, extra={"to": mask_phone(outgoing.recipient.to), "error": error.code}
        )
        settled = settle(record, status, now_iso(), error={"code": error.code, "message": error.message})
        body = errors.error_body(error) | {"Details": [{"id": record.id, "status": status}]}
        outcome = SendOutcome(error.status, body, error.headers())
        self._finish(ticket, settled, outcome)
        if status == "unknown":
            self._take_parked(settled)
        return outcome

    def _finish(self, ticket: Ticket, settled: MessageRecord, outcome: SendOutcome) -> None:
        """Settle the record and keep the answer under the key, in one write. If that fails the
        answer is still the truth: the record stays ``pending`` until a webhook settles it, and
        the key's claim points at it."""
        try:
            self.store.finish_send(
                settled.id,
                settled.status,
                at=settled.updated_at,
                message_id=settled.message_id,
                jid=settled.jid,
                error=settled.error,
                key=ticket.key,
                response=(outcome.status, outcome.body, outcome.headers),
            )
        except Exception:
            logger.exception("the outcome of a send could not be recorded", extra={"id": settled.id})

    def _take_parked(self, record: MessageRecord) -> MessageRecord | None:
        """A ``send.message`` may have come in while we waited (Evolution sent, then the answer
        was lost or late): it was parked for us, so attach its id now. Best effort."""
        if record.jid is None or record.fingerprint is None:
            return None
        try:
            parked = self.store.take_parked_send(
                self.instance, jid=record.jid, fingerprint=record.fingerprint, now=self._clock()
            )
            if parked is None:
                return None
            message_id, status = parked
            return self.store.attach_message_id(record.id, message_id, at=now_iso(), status=status)
        except errors.ServiceError:
            logger.warning("could not look for a parked send.message", exc_info=True)
            return None

    def _abandon_quietly(self, ticket: Ticket, record: MessageRecord) -> None:
        """Undo a write-ahead that failed (or whose success was never heard of): nothing was sent."""
        try:
            self.store.abandon_send(record.id, key=ticket.key, writer=ticket.writer)
        except Exception:  # the lease runs out; nothing written ahead: the key is claimed afresh
            logger.warning("could not give back a send that never left", exc_info=True)

    def _written_ahead(self, outgoing: Outgoing) -> MessageRecord:
        now = now_iso()
        return MessageRecord.model_validate(
            {
                "id": new_message_id(),
                "instance": self.instance,
                "direction": "outbound",
                "type": outgoing.type,
                "status": "pending",
                "status_history": [{"status": "pending", "at": now}],
                "to": outgoing.recipient.to,
                "jid": outgoing.recipient.jid,
                "origin": "api",
                "reference": outgoing.reference,
                "fingerprint": outgoing.fingerprint,
                "created_at": now,
                "updated_at": now,
                **{k: v for k, v in outgoing.extras.items() if v is not None},
            }
        )


def accepted(record: MessageRecord) -> dict[str, Any]:
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
    headers = {**record.headers, **REPLAYED}
    return SendOutcome(record.status_code or 200, body, headers)
