"""Moving events out: the outbox relay (event → one delivery per matching destination), the
delivery job (one signed attempt, then delivered / retry later / failed), and the sweeper that
re-queues deliveries whose job was lost between two writes.

Every step is idempotent, so a job that runs twice is harmless: a delivery row carries the
``token`` of the one attempt that may be recorded next, and recording is conditional on it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chalicelib.events.http import AttemptResult
from chalicelib.events.schedule import give_up, retry_delay
from chalicelib.events.signing import destination_secret, signed_headers
from chalicelib.events.types import Event, wants
from chalicelib.jobs.envelope import Job
from chalicelib.jobs.registry import DONE, Outcome, Registry, RunAgain
from chalicelib.models.events import Delivery, Destination

if TYPE_CHECKING:
    from chalicelib.jobs.transport import Transport
    from chalicelib.store.base import EventStore
    from chalicelib.urlguard import URLPolicy

logger = logging.getLogger(__name__)

DELIVER = "events.deliver"
RELAY = "events.relay"
SWEEP_GRACE_S = 300.0  # a pending delivery this late has lost its job: queue it again
RELAY_BATCH = 200

HttpSender = Callable[..., AttemptResult]
BusSender = Callable[[str, Event], AttemptResult]


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def deliver_job(delivery: Delivery) -> Job:
    return Job(
        kind=DELIVER,
        payload={"destination": delivery.destination_id, "event": delivery.event_id},
        attempt=delivery.token,
    )


@dataclass
class Dispatcher:
    """The event side of the background work, for one instance."""

    store: EventStore
    instance: str
    transport: Transport
    signing_key: Callable[[], str]
    policy: Callable[[], URLPolicy]
    timeout_s: float = 10.0
    retry_scale: float = 1.0
    post: HttpSender | None = None
    put_bus: BusSender | None = None
    clock: Callable[[], float] = time.time

    def register(self, registry: Registry) -> None:
        registry.register(DELIVER, self.handle_delivery)
        registry.register(RELAY, self.handle_relay)

    # -- the outbox relay ----------------------------------------------------------------------

    def handle_relay(self, job: Job) -> Outcome:
        self.relay()
        return DONE

    def relay(self) -> int:
        """Fan out every event not yet dispatched; returns how many deliveries were opened."""
        events = self.store.undispatched_events(self.instance, limit=RELAY_BATCH)
        if not events:
            return 0
        destinations = [d for d in self.store.list_destinations(self.instance) if d.enabled]
        opened = 0
        for event in events:
            for destination in destinations:
                if wants(destination.events, event.type) and event.type != "ping":
                    opened += self.open(destination, event)
        self.store.mark_dispatched(self.instance, *(e.id for e in events))
        return opened

    def open(self, destination: Destination, event: Event) -> int:
        """Open the delivery of ``event`` to ``destination`` and queue its first attempt (once)."""
        now = self.clock()
        delivery = Delivery(
            destination_id=destination.id,
            event_id=event.id,
            type=event.type,
            next_attempt_at=iso(now),
            cycle_started_at=now,
            created_at=event.created_at,
        )
        if not self.store.open_delivery(delivery):
            return 0
        self._enqueue(delivery)
        return 1

    def _enqueue(self, delivery: Delivery) -> None:
        try:
            self.transport.enqueue(deliver_job(delivery))
        except Exception:  # the delivery row is durable: the sweeper queues it again
            logger.warning("could not queue a delivery; the sweeper will", exc_info=True)

    # -- one delivery attempt ------------------------------------------------------------------

    def handle_delivery(self, job: Job) -> Outcome:
        destination_id = str(job.payload.get("destination", ""))
        event_id = str(job.payload.get("event", ""))
        destination = self.store.get_destination(self.instance, destination_id)
        delivery = self.store.get_delivery(destination_id, event_id)
        if destination is None or delivery is None:
            return DONE  # deleted since
        if delivery.status != "pending" or delivery.token != job.attempt:
            return DONE  # a duplicate or stale job: that attempt is already recorded
        event = self.store.get_event(self.instance, event_id)
        if event is None or not destination.enabled:
            reason = "the event has expired" if event is None else "the destination is disabled"
            self._record(delivery, AttemptResult("refused", error=reason), final=True, count=False)
            return DONE
        result = self.attempt(destination, event)
        return self._settle(destination, delivery, result)

    def attempt(self, destination: Destination, event: Event) -> AttemptResult:
        if destination.eventbridge_bus is not None:
            from chalicelib.events.eventbridge import put_event  # noqa: PLC0415

            return (self.put_bus or put_event)(destination.eventbridge_bus, event)
        from chalicelib.events.http import post_event  # noqa: PLC0415

        body = event.body()
        secret = destination_secret(self.signing_key(), destination.id, destination.salt)
        headers = signed_headers(secret, msg_id=event.id, body=body)
        assert destination.url is not None  # noqa: S101 - a destination is a url or a bus
        return (self.post or post_event)(
            destination.url, body, headers, policy=self.policy(), timeout_s=self.timeout_s
        )

    def _settle(self, destination: Destination, delivery: Delivery, result: AttemptResult) -> Outcome:
        if result.verdict == "delivered":
            self._record(delivery, result, final=False)
            return DONE
        if result.verdict == "gone":
            self.store.disable_destination(self.instance, destination.id, reason=result.error or "gone")
            self._record(delivery, result, final=True)
            return DONE
        now = self.clock()
        if give_up(delivery.cycle_started_at, now, scale=self.retry_scale):
            self._record(delivery, result, final=True)
            return DONE
        failures = delivery.cycle_attempts + 1
        at = now + retry_delay(failures, scale=self.retry_scale)
        if self._record(delivery, result, final=False, retry_at=at):
            return RunAgain(at=at)
        return DONE

    def _record(
        self,
        delivery: Delivery,
        result: AttemptResult,
        *,
        final: bool,
        retry_at: float | None = None,
        count: bool = True,
    ) -> bool:
        now = self.clock()
        changes: dict[str, Any] = {
            "attempts": delivery.attempts + int(count),
            "cycle_attempts": delivery.cycle_attempts + int(count),
            "last_status_code": result.status_code,
            "last_error": result.error,
        }
        if result.verdict == "delivered":
            changes |= {"status": "delivered", "delivered_at": iso(now), "next_attempt_at": None}
        elif final:
            changes |= {"status": "failed", "next_attempt_at": None}
        else:
            assert retry_at is not None  # noqa: S101
            changes |= {"next_attempt_at": iso(retry_at), "token": delivery.token + 1}
        recorded = self.store.record_attempt(delivery.model_copy(update=changes), token=delivery.token)
        if recorded and changes.get("status") == "failed":
            logger.warning(
                "event delivery failed for good",
                extra={"destination": delivery.destination_id, "event": delivery.event_id},
            )
        return recorded

    # -- replay, ping and the sweeper ----------------------------------------------------------

    def replay(self, destination: Destination, events: list[Event]) -> int:
        """Deliver ``events`` to ``destination`` again (same ids), a fresh retry cycle each."""
        now = self.clock()
        queued = 0
        for event in events:
            current = self.store.get_delivery(destination.id, event.id)
            fresh = Delivery(
                destination_id=destination.id,
                event_id=event.id,
                type=event.type,
                next_attempt_at=iso(now),
                cycle_started_at=now,
                created_at=event.created_at,
            )
            if current is None:
                if not self.store.open_delivery(fresh):
                    continue
                delivery = fresh
            else:
                delivery = current.model_copy(
                    update={
                        "status": "pending",
                        "token": current.token + 1,
                        "cycle_attempts": 0,
                        "cycle_started_at": now,
                        "next_attempt_at": iso(now),
                        "delivered_at": None,
                    }
                )
                if not self.store.record_attempt(delivery, token=current.token, any_status=True):
                    continue
            self._enqueue(delivery)
            queued += 1
        return queued

    def sweep(self) -> int:
        """Queue again the pending deliveries whose attempt is long overdue (a lost job)."""
        cutoff = iso(self.clock() - SWEEP_GRACE_S)
        late = self.store.overdue_deliveries(self.instance, before=cutoff, limit=500)
        for delivery in late:
            self._enqueue(delivery)
        return len(late)
