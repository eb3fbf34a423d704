"""The deployed path on moto: DynamoDB store, S3 blobs, the SQS transport and batch consumer —
the same media service the local worker runs, with only the collaborators changed."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from chalicelib.evolution import errors as evo
from chalicelib.jobs.registry import Registry
from chalicelib.jobs.sqs import SQSTransport, consume
from chalicelib.media.blobs import S3Blobs
from chalicelib.services.media import MediaService, media_key
from chalicelib.store.dynamodb import TABLE_DEFINITION, DynamoDBStore
from tests.services.test_media import PDF, FakeEvolution, pdf
from tests.store.conftest import INSTANCE, fake_aws_env, inbound


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    import boto3
    from botocore.config import Config
    from moto import mock_aws

    fake_aws_env(monkeypatch)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(TableName="t", **TABLE_DEFINITION)
        s3 = boto3.client("s3", region_name="us-east-1", config=Config(signature_version="s3v4"))
        s3.create_bucket(Bucket="media")
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue = sqs.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
        yield {"dynamodb": dynamodb, "s3": s3, "sqs": sqs, "queue": queue}


def deliver_batch(aws: dict[str, Any], registry: Registry, transport: SQSTransport) -> dict[str, Any]:
    messages = (
        aws["sqs"]
        .receive_message(QueueUrl=aws["queue"], MaxNumberOfMessages=10, WaitTimeSeconds=3)
        .get("Messages", [])
    )
    event = {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:jobs",
                "awsRegion": "us-east-1",
                "md5OfBody": "",
            }
            for m in messages
        ]
    }
    response = consume(event, registry=registry, transport=transport)
    for m in messages:
        aws["sqs"].delete_message(QueueUrl=aws["queue"], ReceiptHandle=m["ReceiptHandle"])
    return {"count": len(messages), **response}


def test_a_fetch_queued_on_sqs_stores_the_file_in_s3_and_links_it_presigned(aws: dict[str, Any]) -> None:
    store = DynamoDBStore("t", client=aws["dynamodb"])
    transport = SQSTransport(aws["queue"], client=aws["sqs"])
    evolution = FakeEvolution(evo.EvolutionConnectError("op", "refused"), pdf())
    media = MediaService(
        store=store,
        evolution=evolution,  # type: ignore[arg-type]
        blobs=S3Blobs("media", client=aws["s3"]),
        instance=INSTANCE,
        max_bytes=1 << 20,
        transport=transport,
        retry_scale=0.0001,
    )
    registry = Registry()
    media.register(registry)
    record = inbound(1, type="document", text=None, media={"mimetype": "application/pdf", "stored": False})
    store.insert_inbound(record)

    media.queue_fetch(record.id)
    first = deliver_batch(aws, registry, transport)  # refused: the job queues its next attempt
    second = deliver_batch(aws, registry, transport)

    assert first["count"] == second["count"] == 1
    assert first["batchItemFailures"] == second["batchItemFailures"] == []
    stored = aws["s3"].get_object(Bucket="media", Key=media_key(INSTANCE, record.id))
    assert stored["Body"].read() == PDF and stored["ContentType"] == "application/pdf"
    settled = store.get_message(INSTANCE, record.id)
    assert settled is not None and settled.media is not None
    assert settled.media["sha256"] == hashlib.sha256(PDF).hexdigest()
    events = [e for e in store.undispatched_events(INSTANCE, limit=10) if e.type == "message.received"]
    assert len(events) == 1 and events[0].data["media"]["stored"] is True
    link = media.link(record.id, base_url="https://ignored.test")
    parts = urlsplit(link["url"])
    assert parts.netloc.startswith("media.s3") and parts.path == f"/{media_key(INSTANCE, record.id)}"
    assert "X-Amz-Signature=" in link["url"]
