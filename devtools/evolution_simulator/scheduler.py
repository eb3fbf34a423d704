"""One background thread that runs callbacks at a later time (acks, QR refresh, auto-scan)."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)


class Scheduler:
    """``call_later(seconds, fn)`` on a single daemon thread; ``stop()`` drops what is pending."""

    def __init__(self) -> None:
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._counter = itertools.count()
        self._condition = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="sim-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._condition:
            self._stopped = True
            self._queue.clear()
            self._condition.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    def clear(self) -> None:
        """Forget every pending callback (used by reset)."""
        with self._condition:
            self._queue.clear()

    def call_later(self, seconds: float, callback: Callable[[], None]) -> None:
        with self._condition:
            if self._stopped:
                return
            due = time.monotonic() + max(0.0, seconds)
            heapq.heappush(self._queue, (due, next(self._counter), callback))
            self._condition.notify_all()

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._stopped and (not self._queue or self._queue[0][0] > time.monotonic()):
                    timeout = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._condition.wait(timeout)
                if self._stopped:
                    return
                _, _, callback = heapq.heappop(self._queue)
            try:
                callback()
            except Exception:
                logger.exception("scheduled callback failed")
