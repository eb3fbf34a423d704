"""Wiring of the background work: the job registry (every kind's handler: event deliveries and
relays, media fetches, broadcast ticks), the transport (SQS when ``JOBS_QUEUE_URL`` is set, else the
local SQLite queue with its worker thread), the event dispatcher, the media fetcher and the sweeps.
New kinds of work register their handlers in :func:`get_registry`."""

from __future__ import annotations

import logging
import threading
from functools import cache
from typing import TYPE_CHECKING, Any

from chalicelib.deps import get_store, on_reset
from chalicelib.settings import get_settings

if TYPE_CHECKING:
    from chalicelib.events.dispatch import Dispatcher
    from chalicelib.jobs.local import LocalQueue, LocalWorker
    from chalicelib.jobs.registry import Registry
    from chalicelib.jobs.transport import Transport
    from chalicelib.store.base import EventStore

logger = logging.getLogger(__name__)

SWEEP_EVERY_S = 60.0
BROADCAST_SWEEP_EVERY_S = 10.0
_worker_lock = threading.Lock()


@cache
def get_transport() -> Transport:
    settings = get_settings()
    if settings.JOBS_QUEUE_URL:
        from chalicelib.jobs.sqs import SQSTransport  # noqa: PLC0415

        return SQSTransport(settings.JOBS_QUEUE_URL)
    return get_local_queue()


@cache
def get_local_queue() -> LocalQueue:
    from chalicelib.jobs.local import LocalQueue  # noqa: PLC0415

    url = get_settings().STORE_URL
    if not url.startswith("sqlite:///"):
        raise RuntimeError("the local job queue needs a SQLite store; set JOBS_QUEUE_URL when deployed")
    return LocalQueue(url.removeprefix("sqlite:///"), wake=_wake_local_worker)


@cache
def get_dispatcher() -> Dispatcher:
    from chalicelib.events.dispatch import Dispatcher  # noqa: PLC0415
    from chalicelib.services.events import destination_policy  # noqa: PLC0415

    settings = get_settings()
    store: EventStore = get_store()
    return Dispatcher(
        store=store,
        instance=settings.INSTANCE_NAME,
        transport=get_transport(),
        signing_key=settings.events_signing_key,
        policy=lambda: destination_policy(settings),
        timeout_s=settings.EVENTS_DELIVERY_TIMEOUT,
        retry_scale=settings.EVENTS_RETRY_SCALE,
    )


@cache
def get_registry() -> Registry:
    from chalicelib.deps import media_service  # noqa: PLC0415
    from chalicelib.jobs.registry import Registry  # noqa: PLC0415

    registry = Registry()
    get_dispatcher().register(registry)
    media_service().register(registry)
    from chalicelib.services.broadcasts import TICK  # noqa: PLC0415

    registry.register(TICK, lambda job: _broadcasts().tick(job))
    return registry


def _broadcasts() -> Any:
    from chalicelib.deps import broadcast_service  # noqa: PLC0415

    return broadcast_service()


def sweep_broadcasts() -> int:
    """Queue a tick for active broadcasts whose chain of ticks was lost."""
    return int(_broadcasts().sweep())


_worker: dict[str, Any] = {}


def local_worker() -> LocalWorker | None:
    """The running local worker, if any."""
    worker: LocalWorker | None = _worker.get("worker")
    return worker


def ensure_local_worker() -> None:
    """Start the local worker on first use: only with a SQLite store, no queue URL, LOCAL_WORKER on."""
    if "worker" in _worker or "off" in _worker:
        return
    settings = get_settings()
    if (
        settings.JOBS_QUEUE_URL
        or not settings.STORE_URL.startswith("sqlite:///")
        or not settings.LOCAL_WORKER
    ):
        _worker["off"] = True
        return
    with _worker_lock:
        if "worker" in _worker:
            return
        from chalicelib.jobs.local import LocalWorker  # noqa: PLC0415

        dispatcher = get_dispatcher()
        sweeper = _Every(SWEEP_EVERY_S, dispatcher.sweep)
        media_sweeper = _Every(SWEEP_EVERY_S, _sweep_media)
        broadcasts = _Every(BROADCAST_SWEEP_EVERY_S, sweep_broadcasts)
        worker = LocalWorker(
            get_local_queue(),
            get_registry(),
            threads=settings.LOCAL_WORKER_THREADS,
            pollers=[dispatcher.relay, sweeper, media_sweeper, broadcasts],
        )
        worker.start()
        _worker["worker"] = worker


def kick() -> None:
    """New events are in the outbox: relay them now (locally: wake the worker; deployed: queue a
    relay job). Failing here loses nothing: the outbox keeps them for the next sweep."""
    try:
        if get_settings().JOBS_QUEUE_URL:
            from chalicelib.events.dispatch import RELAY  # noqa: PLC0415
            from chalicelib.jobs.envelope import Job  # noqa: PLC0415

            get_transport().enqueue(Job(kind=RELAY))
            return
        ensure_local_worker()
        _wake_local_worker()
    except Exception:
        logger.warning("could not kick the outbox relay; the sweep will relay", exc_info=True)


def queue_media_fetch(record_id: str) -> None:
    """A record with media was stored: fetch its file in the background now (the worker is
    started locally if it is not yet). Failing here loses nothing: the record waits in the
    store and the sweep queues it again."""
    try:
        from chalicelib.deps import media_service  # noqa: PLC0415

        ensure_local_worker()
        media_service().queue_fetch(record_id)
    except Exception:
        logger.warning("could not queue a media fetch; the sweep will", exc_info=True)


def _sweep_media() -> int:
    from chalicelib.deps import media_service  # noqa: PLC0415

    return media_service().sweep()


def _wake_local_worker() -> None:
    worker = local_worker()
    if worker is not None:
        worker.wake()


def run_scheduled_sweep() -> dict[str, int]:
    """The deployed stages' periodic safety net: relay the outbox, re-queue overdue deliveries and
    the media fetches of records that have waited too long."""
    dispatcher = get_dispatcher()
    return {
        "relayed": dispatcher.relay(),
        "requeued": dispatcher.sweep(),
        "media_requeued": _sweep_media(),
        "broadcasts_revived": sweep_broadcasts(),
    }


@on_reset
def stop() -> None:
    """Stop the local worker and forget every cached piece (tests, and a changed environment;
    ``deps.reset`` calls it)."""
    worker = local_worker()
    if worker is not None:
        worker.stop()
    _worker.clear()
    get_transport.cache_clear()
    get_local_queue.cache_clear()
    get_dispatcher.cache_clear()
    get_registry.cache_clear()


class _Every:
    """Call ``fn`` at most once per ``period`` seconds."""

    def __init__(self, period: float, fn: Any) -> None:
        import time  # noqa: PLC0415

        self._clock = time.monotonic
        self._period = period
        self._fn = fn
        self._last = float("-inf")

    def __call__(self) -> None:
        now = self._clock()
        if now - self._last >= self._period:
            self._last = now
            self._fn()


def consume_sqs(event: dict[str, Any]) -> dict[str, Any]:
    """The deployed worker: one SQS batch through the registry, partial failures reported."""
    from chalicelib.jobs.sqs import consume  # noqa: PLC0415

    return consume(event, registry=get_registry(), transport=get_transport())
