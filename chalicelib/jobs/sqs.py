"""Jobs on Amazon SQS (deployed): per-message delays up to 15 minutes, longer waits chained, a
consumer built on Powertools' batch processing that reports partial batch failures.

The queue's redrive policy moves a message to the dead-letter queue after a few failed receives;
a failed job becomes visible again after the queue's visibility timeout — no Lambda sleeps.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

from chalicelib.jobs.envelope import Job
from chalicelib.jobs.registry import Registry
from chalicelib.jobs.runner import run_job
from chalicelib.jobs.transport import Transport

logger = logging.getLogger(__name__)

MAX_DELAY_S = 900  # SQS's per-message DelaySeconds limit


def delay_seconds(job: Job, now: float) -> int:
    """The message delay for ``job``: the wait still ahead, rounded up, at most 15 minutes."""
    return max(0, min(MAX_DELAY_S, math.ceil(job.not_before - now)))


class SQSTransport:
    """Sends jobs to one SQS queue; the client is created on first use."""

    def __init__(self, queue_url: str, *, client: Any = None, clock: Callable[[], float] = time.time):
        self.queue_url = queue_url
        self._client = client
        self._clock = clock

    def _sqs(self) -> Any:
        if self._client is None:
            import boto3  # noqa: PLC0415 -- only the deployed path pays for boto3
            from botocore.config import Config  # noqa: PLC0415

            config = Config(
                connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3}
            )
            self._client = boto3.client("sqs", config=config)
        return self._client

    def enqueue(self, job: Job) -> None:
        self._sqs().send_message(
            QueueUrl=self.queue_url,
            MessageBody=job.to_json(),
            DelaySeconds=delay_seconds(job, self._clock()),
        )

    def wake(self) -> None:
        """Nothing polls in the deployed path: SQS invokes the consumer."""


def consume(event: dict[str, Any], *, registry: Registry, transport: Transport) -> dict[str, Any]:
    """Handle one SQS batch (the raw Lambda event) and return the partial batch response: only
    the records whose job failed are retried by the queue."""
    from aws_lambda_powertools.utilities.batch import (  # noqa: PLC0415 -- the consumer's own cold start
        BatchProcessor,
        EventType,
        process_partial_response,
    )

    def record_handler(record: Any) -> None:
        job = Job.from_json(record.body)
        run_job(job, registry=registry, transport=transport)

    processor = BatchProcessor(event_type=EventType.SQS)  # a wholly failed batch raises: all retried
    response: dict[str, Any] = dict(process_partial_response(event, record_handler, processor))
    failures = response.get("batchItemFailures", [])
    if failures:
        logger.warning("jobs failed; the queue retries them", extra={"failed": len(failures)})
    return response
