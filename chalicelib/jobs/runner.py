"""The one code path that runs a job, whatever transport delivered it."""

from __future__ import annotations

import logging
import time

from chalicelib.jobs.envelope import Job
from chalicelib.jobs.registry import Done, Outcome, Registry, RunAgain
from chalicelib.jobs.transport import Transport

logger = logging.getLogger(__name__)


def run_job(job: Job, *, registry: Registry, transport: Transport, now: float | None = None) -> Outcome:
    """Run ``job`` if it is due, else queue it again for the rest of its wait.

    A handler's :class:`RunAgain` queues the next attempt through ``transport``; an exception
    propagates, so the transport retries the delivery (SQS: after the visibility timeout; locally:
    with backoff) and dead-letters it past its limit.
    """
    current = time.time() if now is None else now
    if not job.due(current):
        transport.enqueue(job)  # delivered early: a transport's delay limit (SQS: 15 min)
        return RunAgain(at=job.not_before)
    outcome = registry.handler(job.kind)(job)
    if isinstance(outcome, RunAgain):
        transport.enqueue(job.again(not_before=outcome.at, attempt=job.attempt + 1))
    elif not isinstance(outcome, Done):  # pragma: no cover - the type says so; a guard for plugins
        raise TypeError(f"handler of {job.kind!r} returned {outcome!r}")
    logger.debug("job ran", extra={"kind": job.kind, "job_id": job.id, "attempt": job.attempt})
    return outcome
