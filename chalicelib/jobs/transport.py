"""What carries jobs: the one interface both transports implement."""

from __future__ import annotations

from typing import Protocol

from chalicelib.jobs.envelope import Job


class Transport(Protocol):
    """Queues jobs durably; a queued job runs at least once, not before its ``not_before``."""

    def enqueue(self, job: Job) -> None:
        """Queue ``job``; raises when it could not be queued (the caller's sweeper will retry)."""
        ...

    def wake(self) -> None:
        """Hint that new work (jobs or outbox rows) is waiting; a no-op where nothing polls."""
        ...
