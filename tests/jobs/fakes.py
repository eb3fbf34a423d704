"""A transport that keeps queued jobs in a list (for runner and handler tests)."""

from __future__ import annotations

from chalicelib.jobs.envelope import Job


class ListTransport:
    def __init__(self) -> None:
        self.jobs: list[Job] = []
        self.wakes = 0

    def enqueue(self, job: Job) -> None:
        self.jobs.append(job)

    def wake(self) -> None:
        self.wakes += 1
