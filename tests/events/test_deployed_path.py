"""The deployed path on moto: DynamoDB store, SQS transport, the batch consumer, a loopback sink —
the same dispatcher code the local worker runs, with only the transport changed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from chalicelib.events.dispatch import RELAY, Dispatcher
from chalicelib.events.signing import destination_secret
from chalicelib.jobs.envelope import Job
from chalicelib.jobs.registry import Registry
from chalicelib.jobs.sqs import SQSTransport, consume
from chalicelib.models.events import Destination
from chalicelib.store.dynamodb import TABLE_DEFINITION, DynamoDBStore
from chalicelib.urlguard import URLPolicy
from tests.sink import running_sink
from tests.store.conftest import INSTANCE, fake_aws_env, inbound

KEY = "k" * 40
LOOPBACK = URLPolicy(allow_http=False, allow_loopback=True, loopback_http_only=True)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    import boto3
    from moto import mock_aws

    fake_aws_env(monkeypatch)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(TableName="t", **TABLE_DEFINITION)
        sqs = boto3.client("sqs", region_name="us-east-1")
        dead = sqs.create_queue(QueueName="jobs-dlq")["QueueUrl"]
        dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        queue = sqs.create_queue(
            QueueName="jobs",
            Attributes={
                "VisibilityTimeout": "1",
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": 3}),
            },
        )["QueueUrl"]
        yield {"dynamodb": dynamodb, "sqs": sqs, "queue": queue, "dead": dead}


def lambda_batch(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """What Lambda's SQS event source hands the worker."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:jobs",
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }


def pump(
    aws: dict[str, Any], registry: Registry, transport: SQSTransport, until: Any, timeout: float = 20
) -> None:
    """Play Lambda's event source: receive, consume, delete what succeeded, until ``until()``."""
    sqs, queue = aws["sqs"], aws["queue"]
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "the queue did not deliver in time"
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        if not messages:
            continue
        try:
            answer = consume(lambda_batch(messages), registry=registry, transport=transport)
            failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
        except Exception:  # a wholly failed batch: every record stays for the queue to retry
            failed = {m["MessageId"] for m in messages}
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])


def test_an_inbound_message_reaches_the_sink_through_sqs_signed_after_a_retry(aws: dict[str, Any]) -> None:
    store = DynamoDBStore("t", client=aws["dynamodb"])
    transport = SQSTransport(aws["queue"], client=aws["sqs"])
    answers = iter([500])
    with running_sink(lambda headers, body: next(answers, 204)) as sink:
        destination = Destination(
            id="dst_01JDQ4Z9W6M8E3V7K2B5N1P0RS",
            instance=INSTANCE,
            url=sink.url,
            salt="s",
            created_at="2026-11-25T10:00:00.000Z",
            updated_at="2026-11-25T10:00:00.000Z",
        )
        store.put_destination(destination, limit=50)
        dispatcher = Dispatcher(
            store=store,
            instance=INSTANCE,
            transport=transport,
            signing_key=lambda: KEY,
            policy=lambda: LOOPBACK,
            timeout_s=2,
            retry_scale=0.0001,
        )
        registry = Registry()
        dispatcher.register(registry)

        assert store.insert_inbound(inbound(1, instance=INSTANCE))  # the change and its event, one write
        transport.enqueue(Job(kind=RELAY))  # what the webhook route's kick does when deployed
        pump(aws, registry, transport, until=lambda: sink.answered(204))

    assert [r.status for r in sink.received] == [500, 204]
    secret = destination_secret(KEY, destination.id, "s")
    event = Webhook(secret).verify(sink.received[1].body, sink.received[1].headers)
    assert event["type"] == "message.received"
    assert sink.received[0].headers["webhook-id"] == event["id"]
    ((delivery,), _) = store.list_deliveries(destination.id)
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    assert store.undispatched_events(INSTANCE, limit=10) == []


def test_a_job_that_keeps_failing_ends_in_the_dead_letter_queue(aws: dict[str, Any]) -> None:
    transport = SQSTransport(aws["queue"], client=aws["sqs"])
    registry = Registry()
    attempts: list[int] = []

    def broken(job: Job) -> Any:
        attempts.append(1)
        raise RuntimeError("the store is down")

    registry.register("broken", broken)
    transport.enqueue(Job(kind="broken"))

    def dead_lettered() -> bool:
        dead = aws["sqs"].get_queue_attributes(
            QueueUrl=aws["dead"], AttributeNames=["ApproximateNumberOfMessages"]
        )
        return dead["Attributes"]["ApproximateNumberOfMessages"] == "1"

    pump(aws, registry, transport, until=dead_lettered, timeout=20)

    assert len(attempts) == 3  # maxReceiveCount
