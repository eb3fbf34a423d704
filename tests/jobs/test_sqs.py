"""The SQS transport (delays up to 15 minutes, longer waits chained) and the batch consumer with
partial batch failures, on moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.jobs.envelope import Job
from chalicelib.jobs.registry import DONE, Registry, RunAgain
from chalicelib.jobs.sqs import MAX_DELAY_S, SQSTransport, consume, delay_seconds


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1")


def test_the_delay_is_the_wait_ahead_capped_at_15_minutes() -> None:
    assert delay_seconds(Job(kind="x", not_before=100.2), now=100.0) == 1
    assert delay_seconds(Job(kind="x", not_before=50.0), now=100.0) == 0
    assert delay_seconds(Job(kind="x", not_before=100.0 + 3600), now=100.0) == MAX_DELAY_S


def test_enqueue_sends_the_envelope_with_its_delay(sqs: Any) -> None:
    queue = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    transport = SQSTransport(queue, client=sqs, clock=lambda: 1000.0)

    transport.enqueue(Job(kind="now", payload={"n": 1}, not_before=0))
    transport.enqueue(Job(kind="later", not_before=1000.0 + 60))

    (message,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert Job.from_json(message["Body"]).payload == {"n": 1}
    delayed = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    assert delayed["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"


def sqs_event(bodies: list[str]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m{n}",
                "receiptHandle": f"h{n}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:jobs",
                "awsRegion": "us-east-1",
            }
            for n, body in enumerate(bodies)
        ]
    }


def test_a_batch_reports_only_its_failed_records(sqs: Any) -> None:
    queue = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    registry = Registry()
    ran: list[int] = []

    def handler(job: Job) -> DONE.__class__:
        if job.payload["n"] == 1:
            raise RuntimeError("fails")
        ran.append(job.payload["n"])
        return DONE

    registry.register("demo", handler)
    bodies = [Job(kind="demo", payload={"n": n}).to_json() for n in range(3)] + ["not a job"]

    answer = consume(sqs_event(bodies), registry=registry, transport=SQSTransport(queue, client=sqs))

    assert sorted(ran) == [0, 2]
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m3"}]}


def test_a_wholly_failed_batch_raises_so_the_queue_retries_every_record(sqs: Any) -> None:
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    registry = Registry()
    registry.register("demo", lambda job: (_ for _ in ()).throw(RuntimeError("down")))
    queue = sqs.create_queue(QueueName="jobs")["QueueUrl"]

    with pytest.raises(BatchProcessingError):
        consume(
            sqs_event([Job(kind="demo").to_json()] * 2),
            registry=registry,
            transport=SQSTransport(queue, client=sqs),
        )


def test_run_again_and_an_early_job_go_back_to_the_queue_with_a_delay(sqs: Any) -> None:
    queue = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    registry = Registry()
    registry.register("retry", lambda job: RunAgain(at=10**12))
    transport = SQSTransport(queue, client=sqs)
    early = Job(kind="retry", not_before=10**12)  # far in the future: chained, not run

    answer = consume(
        sqs_event([Job(kind="retry").to_json(), early.to_json()]), registry=registry, transport=transport
    )

    assert answer == {"batchItemFailures": []}
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )
    assert attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "2"


def test_the_envelope_is_plain_json_a_person_can_read() -> None:
    body = json.loads(Job(kind="events.deliver", payload={"event": "evt_1"}).to_json())

    assert set(body) == {"id", "kind", "payload", "attempt", "not_before"}
