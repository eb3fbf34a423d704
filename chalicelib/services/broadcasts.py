"""Broadcasts: one message to many recipients, checked up front, then sent one at a time at the
broadcast's pace by a chain of ``broadcast.tick`` jobs (SQS delays deployed, the worker thread
locally); never a process sleeping through the broadcast.

Guarantees, and how:
- **Never faster than the pace, one send in flight.** A tick first takes the broadcast's slot with
  a conditional write (running, ``next_send_at`` due, no live lease) that also sets the next due
  time; a duplicate or concurrent tick finds the slot taken and ends (its chain dies, one remains).
- **Each recipient at most once.** A recipient moves ``queued → sending`` with a conditional write
  before its send, and each send goes through the ordinary idempotent path under the key
  ``broadcast:<id>:<index>``. A recipient found ``sending`` after a crash is settled from that key's
  stored answer, or ``failed`` with ``unknown_outcome`` — never sent again.
- **Pauses by itself** while the session is not open (recipients stay queued), rechecking every
  minute and at once when ``connection.update`` reports ``open``; outside the window it waits for it.
"""

from __future__ import annotations

import builtins
import logging
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalicelib import errors
from chalicelib.clock import now_iso
from chalicelib.events.types import Event, new_event_id
from chalicelib.jobs.envelope import Job
from chalicelib.jobs.registry import DONE, Outcome, RunAgain
from chalicelib.logs import mask_phone
from chalicelib.models.broadcasts import (
    COUNTED,
    RECIPIENT_RANK,
    Broadcast,
    BroadcastRecipient,
    CreateBroadcast,
    counted,
)
from chalicelib.services import pacing
from chalicelib.services.recipients import normalize_recipient

if TYPE_CHECKING:
    from chalicelib.jobs.transport import Transport
    from chalicelib.models.records import MessageRecord
    from chalicelib.services.consent import ConsentService
    from chalicelib.services.messages import MessageService, SendOutcome
    from chalicelib.settings import Settings
    from chalicelib.store.base import Store

logger = logging.getLogger(__name__)

TICK = "broadcast.tick"
LEASE_S = 120.0  # longer than any one send may take (connect retries + the send's read timeout)
SESSION_RECHECK_S = 60.0  # while the session is not open, look again this often
RETRY_S = 30.0  # Evolution unavailable or throttling without a Retry-After
OVERDUE_S = 30.0  # the sweeper revives a running broadcast whose tick is this late
SCAN_PAGES = 10  # the sweeper and the session hook look at the newest 1,000 broadcasts
RECIPIENT_BATCH = 50
SETTLE_TRIES = 5
IDEMPOTENCY_TTL_S = 24 * 3600
MAX_START_AHEAD_S = 366 * 86_400
SETTLED = frozenset({"sent", "delivered", "read", "failed", "skipped"})
# message status -> the recipient status that follows it
FOLLOWS = {
    "unknown": "failed",
    "pending": "sent",
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "played": "read",
    "failed": "failed",
}
# errors after which nothing was sent and the recipient stays queued for a later slot
NOT_SENT = (
    errors.InstanceDisconnectedError,
    errors.RateLimitedError,
    errors.UpstreamUnavailableError,
    errors.StoreUnavailableError,
    errors.InstanceNotFoundError,
)


def idempotency_key(broadcast_id: str, index: int) -> str:
    return f"broadcast:{broadcast_id}:{index}"


def new_broadcast_id() -> str:
    from ulid import ULID  # noqa: PLC0415

    return f"bc_{ULID()}"


class BroadcastService:
    """Creates, reads and steers broadcasts, and runs their ticks."""

    def __init__(
        self,
        *,
        store: Store,
        settings: Settings,
        consent: ConsentService,
        transport: Transport,
        messages: Callable[[], MessageService],
        clock: Callable[[], float] = time.time,
        templates_registry: Any = None,
        kick: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.instance = settings.INSTANCE_NAME
        self.consent = consent
        self.transport = transport
        self._messages = messages
        self._clock = clock
        self._templates = templates_registry
        self._kick = kick  # new events are in the outbox: relay them now (else the next poll/sweep)

    # -- creating --------------------------------------------------------------------------------

    def create_once(
        self, request: CreateBroadcast, *, idempotency_key: str | None, fingerprint: str
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """:meth:`create` under an ``Idempotency-Key``: the same key and body replay the answer."""
        if idempotency_key is None:
            return self.create(request), {}
        key = f"{self.instance}:{idempotency_key}"
        claim = self.store.claim_idempotency(key, fingerprint, now=self._clock(), ttl_s=IDEMPOTENCY_TTL_S)
        if not claim.claimed:
            if claim.record.fingerprint != fingerprint:
                raise errors.IdempotencyKeyReusedError(
                    "This Idempotency-Key was used with a different request; use a new key."
                )
            if claim.record.state != "done" or claim.record.body is None:
                raise errors.IdempotencyKeyInUseError(
                    "A request with this Idempotency-Key is still being processed; retry shortly.",
                    retry_after=2,
                )
            return claim.record.body, {"Idempotent-Replayed": "true"}
        try:
            body = self.create(request)
        except BaseException:
            self.store.release_idempotency(key)
            raise
        self.store.complete_idempotency(key, status_code=202, body=body)
        return body, {}

    def create(self, request: CreateBroadcast) -> dict[str, Any]:
        """Check every recipient, write the broadcast and its recipients, queue its first tick."""
        now = self._clock()
        if request.template is not None:
            self._check_template(request.template, request.language)
        suppressed = self._suppressed()
        broadcast_id = new_broadcast_id()
        recipients: list[BroadcastRecipient] = []
        seen: set[str] = set()
        for index, given in enumerate(request.recipients):
            to, reason = self._check_recipient(given.to, given.variables, request, seen, suppressed)
            recipients.append(
                BroadcastRecipient(
                    broadcast_id=broadcast_id,
                    index=index,
                    to=to,
                    variables=dict(given.variables),
                    reference=given.reference,
                    status="skipped" if reason else "queued",
                    reason=reason,
                )
            )
        counts = dict.fromkeys(COUNTED, 0)
        for r in recipients:
            counts[counted(r.status)] += 1
        start = pacing.parse_instant(request.start_at) if request.start_at else now
        if start > now + MAX_START_AHEAD_S:
            raise errors.ValidationError(
                "start_at: at most a year ahead.",
                details=[{"loc": ["start_at"], "msg": "more than 366 days ahead"}],
            )
        at = now_iso()
        broadcast = Broadcast(
            id=broadcast_id,
            instance=self.instance,
            name=request.name,
            status="scheduled" if start > now else "running",
            template=request.template,
            language=request.language,
            text=request.text,
            pacing=request.pacing.model_dump(mode="json"),
            start_at=pacing.iso(start) if request.start_at else None,
            total=len(recipients),
            counts=counts,
            created_at=at,
            updated_at=at,
            next_send_at=max(start, now),
            waiting_for="start" if start > now else None,
        )
        self.store.create_broadcast(broadcast, recipients)
        self._queue_tick(broadcast.id, broadcast.next_send_at)
        logger.info("broadcast created", extra={"broadcast_id": broadcast.id, "total": broadcast.total})
        return self.view(broadcast)

    def _check_template(self, name: str, language: str | None) -> None:
        """404 for an unknown template, 422 for a malformed language code; a well-formed code the
        template lacks falls back to its default language, as ``POST /messages/template`` does."""
        from chalicelib.services.templates import check_variables, get_template  # noqa: PLC0415

        get_template(name, registry=self._templates)
        if language is None:
            return
        try:
            check_variables(name, language, {}, registry=self._templates)
        except errors.TemplateError as exc:
            problems = [d for d in exc.details or [] if d.get("loc") == ["language"]]
            if problems:
                raise errors.TemplateError(f"language: {problems[0]['msg']}", details=problems) from None

    def _check_recipient(
        self,
        to: str,
        variables: dict[str, Any],
        request: CreateBroadcast,
        seen: set[str],
        suppressed: set[str],
    ) -> tuple[str, str | None]:
        """The recipient's number (normalised when valid) and why it is skipped, if it is."""
        try:
            number = normalize_recipient(to, self.settings.DEFAULT_COUNTRY).to
        except errors.ValidationError:
            return to, "invalid_number"
        if number in seen:
            return number, "duplicate"
        seen.add(number)
        if number in suppressed:
            return number, "opted_out"
        if request.template is not None:
            from chalicelib.services.templates import check_variables  # noqa: PLC0415

            try:
                check_variables(request.template, request.language, variables, registry=self._templates)
            except errors.TemplateError:
                return number, "template_variables"
        return number, None

    def _suppressed(self) -> set[str]:
        numbers: set[str] = set()
        after: str | None = None
        while True:
            items, after = self.store.list_suppressions(self.instance, after=after, limit=100)
            numbers.update(s.to for s in items)
            if after is None:
                return numbers

    # -- reading ---------------------------------------------------------------------------------

    def _get(self, broadcast_id: str) -> Broadcast:
        broadcast = (
            self.store.get_broadcast(self.instance, broadcast_id) if broadcast_id.startswith("bc_") else None
        )
        if broadcast is None or broadcast.status == "creating":
            raise errors.NotFoundError("No broadcast with this id.")
        return broadcast

    def get(self, broadcast_id: str) -> dict[str, Any]:
        return self.view(self._get(broadcast_id))

    def view(self, broadcast: Broadcast) -> dict[str, Any]:
        """The broadcast as the API shows it, with its ETA."""
        eta: str | None = None
        queued = broadcast.counts.get("queued", 0)
        if broadcast.status in ("scheduled", "running") and queued > 0:
            first = max(self._clock(), broadcast.next_send_at)
            last = pacing.eta(first, queued, broadcast.pacing)
            eta = pacing.iso(last) if last is not None else None
        return broadcast.public(eta=eta)

    def list(self, *, after: str | None, limit: int) -> dict[str, Any]:
        try:
            items, cursor = self.store.list_broadcasts(self.instance, after=after, limit=limit)
        except ValueError:
            raise _bad_cursor() from None
        return {"items": [self.view(b) for b in items], "next": cursor}

    def recipients(
        self, broadcast_id: str, *, status: str | None, after: str | None, limit: int
    ) -> dict[str, Any]:
        self._get(broadcast_id)
        try:
            items, cursor = self.store.list_recipients(broadcast_id, status=status, after=after, limit=limit)
        except ValueError:
            raise _bad_cursor() from None
        return {"items": [r.public() for r in items], "next": cursor}

    # -- steering --------------------------------------------------------------------------------

    def pause(self, broadcast_id: str) -> dict[str, Any]:
        self._get(broadcast_id)
        paused = self.store.update_broadcast(
            self.instance,
            broadcast_id,
            expect=("scheduled", "running"),
            status="paused",
            updated_at=now_iso(),
        )
        if paused is None:
            raise errors.ConflictError("Only a scheduled or running broadcast can be paused.")
        return self.view(paused)

    def resume(self, broadcast_id: str) -> dict[str, Any]:
        current = self._get(broadcast_id)
        now = self._clock()
        later = current.next_send_at > now and current.waiting_for == "start"
        resumed = self.store.update_broadcast(
            self.instance,
            broadcast_id,
            expect=("paused",),
            status="scheduled" if later else "running",
            next_send_at=max(now, current.next_send_at),
            waiting_for="start" if later else None,
            updated_at=now_iso(),
        )
        if resumed is None:
            raise errors.ConflictError("Only a paused broadcast can be resumed.")
        self._queue_tick(broadcast_id, resumed.next_send_at)
        return self.view(resumed)

    def cancel(self, broadcast_id: str) -> dict[str, Any]:
        self._get(broadcast_id)
        at = now_iso()
        cancelled = self.store.update_broadcast(
            self.instance,
            broadcast_id,
            expect=("scheduled", "running", "paused"),
            status="cancelled",
            completed_at=at,
            updated_at=at,
            waiting_for=None,
        )
        if cancelled is None:
            raise errors.ConflictError("This broadcast has already finished.")
        return self.view(cancelled)

    # -- pacing: the tick ------------------------------------------------------------------------

    def _queue_tick(self, broadcast_id: str, at: float) -> None:
        """Queue a tick; failing here loses nothing: the sweeper revives an overdue broadcast."""
        try:
            self.transport.enqueue(Job(kind=TICK, payload={"id": broadcast_id}, not_before=at))
        except Exception:
            logger.warning("could not queue a broadcast tick; the sweep will", exc_info=True)

    def tick(self, job: Job) -> Outcome:
        """The job handler: take the slot, then send (at most) one recipient."""
        broadcast_id = str(job.payload.get("id", ""))
        broadcast = self.store.get_broadcast(self.instance, broadcast_id)
        if broadcast is None:
            return DONE
        now = self._clock()
        if broadcast.status == "scheduled":
            if broadcast.next_send_at > now:
                return RunAgain(at=broadcast.next_send_at)
            started = self.store.update_broadcast(
                self.instance, broadcast_id, expect=("scheduled",), status="running", updated_at=now_iso()
            )
            if started is None:
                return DONE
        token = uuid.uuid4().hex
        claimed = self.store.claim_slot(
            self.instance,
            broadcast_id,
            now=now,
            lease_until=now + LEASE_S,
            token=token,
            next_send_at=now + pacing.next_gap(broadcast.pacing),
        )
        if claimed is None:
            return DONE  # paused, finished, early, or another tick holds the slot: its chain goes on
        try:
            return self._run_slot(claimed, token, now)
        except BaseException:
            # the lease expires by itself; the recipient in flight (if any) is settled then
            raise

    def _run_slot(self, broadcast: Broadcast, token: str, now: float) -> Outcome:
        window = broadcast.pacing.get("window")
        opens = pacing.next_open(now, window)
        if opens > now:
            return self._wait(broadcast, token, at=opens, why="window")
        if not self._session_open():
            return self._wait(broadcast, token, at=now + SESSION_RECHECK_S, why="session")
        cursor = broadcast.cursor
        while True:
            batch = self.store.recipients_from(broadcast.id, cursor, limit=RECIPIENT_BATCH)
            if not batch:
                return self._finish(broadcast, token, cursor)
            for recipient in batch:
                cursor = recipient.index
                if recipient.status == "sending":
                    self._settle_unknown(broadcast, recipient)
                    continue
                if recipient.status != "queued":
                    continue
                result = self._send_one(broadcast, recipient)
                if result is None:  # sent, or failed for good: the slot is used
                    self.store.release_slot(
                        self.instance, broadcast.id, token=token, cursor=recipient.index + 1, waiting_for=None
                    )
                    return self._next(broadcast)
                if isinstance(result, tuple):
                    why, seconds = result
                    return self._wait(broadcast, token, at=self._clock() + seconds, why=why, cursor=cursor)
            cursor = batch[-1].index + 1

    def _next(self, broadcast: Broadcast) -> Outcome:
        """After a send: finish when nothing is left, else run again at the claimed next slot."""
        current = self.store.get_broadcast(self.instance, broadcast.id)
        if current is None or current.status != "running":
            return DONE
        if current.counts.get("queued", 0) <= 0:
            self._complete(current)
            return DONE
        return RunAgain(at=current.next_send_at)

    def _wait(
        self, broadcast: Broadcast, token: str, *, at: float, why: str, cursor: int | None = None
    ) -> Outcome:
        fields: dict[str, Any] = {"next_send_at": at, "waiting_for": why}
        if cursor is not None:
            fields["cursor"] = cursor
        if not self.store.release_slot(self.instance, broadcast.id, token=token, **fields):
            return DONE
        return RunAgain(at=at)

    def _finish(self, broadcast: Broadcast, token: str, cursor: int) -> Outcome:
        self.store.release_slot(self.instance, broadcast.id, token=token, cursor=cursor, waiting_for=None)
        current = self.store.get_broadcast(self.instance, broadcast.id)
        if current is not None and current.status == "running" and current.counts.get("queued", 0) <= 0:
            self._complete(current)
        return DONE

    def _complete(self, broadcast: Broadcast) -> None:
        at = now_iso()
        final = broadcast.model_copy(update={"status": "completed", "completed_at": at, "updated_at": at})
        event = Event(
            id=new_event_id(),
            type="broadcast.completed",
            created_at=at,
            instance=self.instance,
            data=final.public(eta=None),
        )
        done = self.store.update_broadcast(
            self.instance,
            broadcast.id,
            expect=("running",),
            event=event,
            status="completed",
            completed_at=at,
            updated_at=at,
            waiting_for=None,
        )
        if done is not None:
            logger.info("broadcast completed", extra={"broadcast_id": broadcast.id})
            if self._kick is not None:
                self._kick()

    def _session_open(self) -> bool:
        state = self.store.get_instance_state(self.instance)
        return state is not None and state.state == "open"

    # -- one recipient ---------------------------------------------------------------------------

    def _send_one(
        self, broadcast: Broadcast, recipient: BroadcastRecipient
    ) -> tuple[str, float] | str | None:
        """Send to ``recipient``: None when the slot was used (sent or failed for good), ``"skipped"``
        when it was not (opted out since), or ``(why, seconds)`` to wait before trying it again."""
        try:
            self.consent.check_send(recipient.to, template=True)
        except errors.RecipientOptedOutError:
            self.store.transition_recipient(
                self.instance, broadcast.id, recipient.index, old="queued", new="skipped", reason="opted_out"
            )
            return "skipped"
        if not self.store.transition_recipient(
            self.instance, broadcast.id, recipient.index, old="queued", new="sending"
        ):
            return "skipped"  # another worker moved it: never twice
        request, fingerprint = self._request(broadcast, recipient)
        try:
            outcome = self._messages().deliver(
                request,
                idempotency_key=idempotency_key(broadcast.id, recipient.index),
                fingerprint=fingerprint,
                tags={"broadcast_id": broadcast.id, "broadcast_index": recipient.index},
            )
        except NOT_SENT as exc:
            self.store.transition_recipient(
                self.instance, broadcast.id, recipient.index, old="sending", new="queued"
            )
            why = "session" if isinstance(exc, errors.InstanceDisconnectedError) else "upstream"
            wait = (
                SESSION_RECHECK_S if why == "session" else float(getattr(exc, "retry_after", None) or RETRY_S)
            )
            logger.info("broadcast send deferred", extra={"broadcast_id": broadcast.id, "error": exc.code})
            return why, wait
        except errors.IdempotencyKeyInUseError:
            self._settle(broadcast.id, recipient.index, "failed", reason="unknown_outcome")
            return None
        except errors.ServiceError as exc:  # refused before sending (a rule, a template): never sent
            self._settle(broadcast.id, recipient.index, "failed", reason=exc.code)
            return None
        self._record_outcome(broadcast.id, recipient.index, outcome)
        return None

    def _request(self, broadcast: Broadcast, recipient: BroadcastRecipient) -> tuple[Any, str]:
        from chalicelib.models.api import SendMessageRequest, SendTemplateRequest  # noqa: PLC0415
        from chalicelib.services.messages import request_fingerprint  # noqa: PLC0415

        common: dict[str, Any] = {"to": recipient.to}
        if recipient.reference is not None:
            common["reference"] = recipient.reference
        if broadcast.template is not None:
            body: dict[str, Any] = {
                **common,
                "template": broadcast.template,
                "variables": recipient.variables,
            }
            if broadcast.language is not None:
                body["language"] = broadcast.language
            request: Any = SendTemplateRequest.model_validate(body, strict=False)
        else:
            body = {**common, "text": broadcast.text}
            request = SendMessageRequest.model_validate(body, strict=False)
        return request, request_fingerprint(f"/broadcasts/{broadcast.id}", body)

    def _record_outcome(self, broadcast_id: str, index: int, outcome: SendOutcome) -> None:
        if outcome.status < 300:
            record = self._messages().store.get_message(self.instance, str(outcome.body.get("id")))
            status = FOLLOWS.get(record.status if record is not None else "pending", "sent")
            self._settle(broadcast_id, index, status, message_id=outcome.body.get("id"))
            return
        details = outcome.body.get("Details") or [{}]
        first = details[0] if isinstance(details, list) and details and isinstance(details[0], dict) else {}
        maybe = first.get("status") == "unknown"
        self._settle(
            broadcast_id,
            index,
            "failed",
            message_id=first.get("id"),
            reason="unknown_outcome" if maybe else str(outcome.body.get("Code", "send_failed")),
        )

    def _settle_unknown(self, broadcast: Broadcast, recipient: BroadcastRecipient) -> None:
        """A recipient left ``sending`` by a crash: its key's stored answer says what happened;
        without one the outcome is unknown and it is never sent again."""
        key = f"{self.instance}:{idempotency_key(broadcast.id, recipient.index)}"
        claim = self.store.claim_idempotency(key, "broadcast-settle", now=self._clock(), ttl_s=24 * 3600)
        if claim.claimed:  # nothing was ever stored under the key; keep it taken so it is never sent
            self.store.complete_idempotency(
                key, status_code=409, body={"Code": "Conflict", "Message": "Settled as unknown_outcome."}
            )
        elif claim.record.state == "done" and claim.record.body is not None:
            from chalicelib.services.messages import SendOutcome  # noqa: PLC0415

            self._record_outcome(
                broadcast.id, recipient.index, SendOutcome(claim.record.status_code or 500, claim.record.body)
            )
            return
        logger.warning(
            "broadcast send outcome unknown after a restart",
            extra={"broadcast_id": broadcast.id, "to": mask_phone(recipient.to)},
        )
        self._settle(broadcast.id, recipient.index, "failed", reason="unknown_outcome")

    def _settle(self, broadcast_id: str, index: int, target: str, **fields: Any) -> None:
        """Move the recipient up to ``target`` (never down) with ``fields``, counts following."""
        for _ in range(SETTLE_TRIES):
            current = self.store.get_recipient(broadcast_id, index)
            if current is None or current.status == "skipped":
                return
            upward = current.status == "sending" or RECIPIENT_RANK[target] > RECIPIENT_RANK[current.status]
            new = target if upward else current.status
            extra = {
                k: v for k, v in fields.items() if v is not None and (upward or getattr(current, k) is None)
            }
            if not upward and not extra:
                return
            if self.store.transition_recipient(
                self.instance, broadcast_id, index, old=current.status, new=new, **extra
            ):
                return
        logger.warning("could not settle a broadcast recipient", extra={"broadcast_id": broadcast_id})

    # -- hooks -----------------------------------------------------------------------------------

    def follow(self, record: MessageRecord) -> None:
        """A broadcast message's status moved: its recipient follows (never backwards)."""
        if record.broadcast_id is None or record.broadcast_index is None:
            return
        target = FOLLOWS.get(record.status)
        if target is None or (record.status == "unknown"):
            return
        fields: dict[str, Any] = {"message_id": record.id}
        if target == "failed" and record.error:
            fields["reason"] = str(record.error.get("code", "failed"))
        self._settle(record.broadcast_id, record.broadcast_index, target, **fields)

    def _active(self) -> builtins.list[Broadcast]:
        found: builtins.list[Broadcast] = []
        after: str | None = None
        for _ in range(SCAN_PAGES):
            items, after = self.store.list_broadcasts(self.instance, after=after, limit=100)
            found += [b for b in items if b.status in ("scheduled", "running")]
            if after is None:
                break
        return found

    def session_opened(self) -> int:
        """The session is open again: broadcasts waiting for it go on now."""
        woken = 0
        for b in self._active():
            if b.waiting_for != "session":
                continue
            now = self._clock()
            if self.store.update_broadcast(
                self.instance, b.id, expect=("running",), next_send_at=now, waiting_for=None
            ):
                self._queue_tick(b.id, now)
                woken += 1
        return woken

    def sweep(self) -> int:
        """Queue a tick for every active broadcast whose chain of ticks was lost (the safety net)."""
        now = self._clock()
        revived = 0
        for b in self._active():
            lease_live = b.lease_until is not None and b.lease_until > now
            if b.next_send_at < now - OVERDUE_S and not lease_live:
                self._queue_tick(b.id, now)
                revived += 1
        return revived


def _bad_cursor() -> errors.ValidationError:
    return errors.ValidationError(
        "after: not a cursor this API returned.",
        details=[{"loc": ["query", "after"], "msg": "invalid cursor"}],
    )
