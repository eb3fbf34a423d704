"""The deployed path of broadcasts on moto: DynamoDB store, ticks carried by SQS with per-message
delays, Lambda's batch consumer — and every tick delivered twice (and a stray copy besides), as
SQS's at-least-once delivery may. Each recipient is still sent exactly once, never faster than the pace."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.jobs.registry import Registry
from chalicelib.jobs.sqs import SQSTransport, consume
from chalicelib.models.broadcasts import CreateBroadcast
from chalicelib.services.broadcasts import TICK, BroadcastService
from chalicelib.services.consent import ConsentService
from chalicelib.services.messages import MessageService
from chalicelib.settings import load_settings
from chalicelib.store.dynamodb import TABLE_DEFINITION, DynamoDBStore
from tests.services.test_broadcasts import FakeEvolution
from tests.store.conftest import fake_aws_env

INSTANCE = "bc-deployed"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    import boto3
    from moto import mock_aws

    fake_aws_env(monkeypatch)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(TableName="t", **TABLE_DEFINITION)
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue = sqs.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
        yield {"dynamodb": dynamodb, "sqs": sqs, "queue": queue}


class TimedEvolution(FakeEvolution):
    """Also notes when each send arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.at: list[float] = []

    def send_text(self, instance: str, number: str, text: str, **kwargs: Any) -> Any:
        self.at.append(time.time())
        return super().send_text(instance, number, text, **kwargs)


def _record(message: dict[str, Any], n: int) -> dict[str, Any]:
    return {
        "messageId": f"{message['MessageId']}-{n}",
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {"ApproximateReceiveCount": str(n)},
        "messageAttributes": {},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:jobs",
        "awsRegion": "us-east-1",
    }


def test_duplicate_sqs_deliveries_of_every_tick_send_each_recipient_once_at_the_pace(
    aws: dict[str, Any],
) -> None:
    settings = load_settings(
        EVOLUTION_API_URL="http://evolution.test",
        EVOLUTION_API_KEY="k",
        INSTANCE_NAME=INSTANCE,
        API_KEYS="key",
        WEBHOOK_SECRET="s" * 32,
        STORE_URL="dynamodb://t",
    )
    store = DynamoDBStore("t", client=aws["dynamodb"])
    store.update_instance_state(INSTANCE, state="open", integration="WHATSAPP-BAILEYS")
    evolution = TimedEvolution()
    transport = SQSTransport(aws["queue"], client=aws["sqs"])
    consent = ConsentService(store=store, instance=INSTANCE)

    def messages() -> MessageService:
        return MessageService(evolution=evolution, store=store, settings=settings, consent=consent)  # type: ignore[arg-type]

    kicks: list[int] = []
    service = BroadcastService(
        store=store,
        settings=settings,
        consent=consent,
        transport=transport,
        messages=messages,
        kick=lambda: kicks.append(1),
    )
    registry = Registry()
    registry.register(TICK, service.tick)
    numbers = [f"+55119999{i:04d}1" for i in range(5)]
    created = service.create(
        CreateBroadcast.model_validate(
            {
                "name": "sqs",
                "text": "Hola",
                "recipients": [{"to": n} for n in numbers],
                "pacing": {"per_minute": 60, "jitter": 0},
            }
        )
    )
    sqs, queue = aws["sqs"], aws["queue"]
    copies = itertools.count(1)
    deadline = time.monotonic() + 30
    while service.get(created["id"])["status"] != "completed":
        assert time.monotonic() < deadline, "the broadcast did not complete through SQS"
        received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        if not received:
            continue
        # at least once: the batch comes twice, and a stray copy of each tick is queued again
        for _ in range(2):
            answer = consume(
                {"Records": [_record(m, next(copies)) for m in received]},
                registry=registry,
                transport=transport,
            )
            assert answer["batchItemFailures"] == []
        for message in received:
            if json.loads(message["Body"])["attempt"] == 1:
                sqs.send_message(QueueUrl=queue, MessageBody=message["Body"])
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    assert sorted(evolution.sent) == sorted(n.lstrip("+") for n in numbers)  # each once
    gaps = [b - a for a, b in itertools.pairwise(evolution.at)]
    # the slots are taken 1 s apart; each send starts a few ms after its slot, so a gap may be a
    # little under 1 s when one send started later than the next one
    assert all(g >= 0.95 for g in gaps) and sum(gaps) / len(gaps) >= 0.99, gaps
    rows = service.recipients(created["id"], status=None, after=None, limit=10)["items"]
    assert [r["status"] for r in rows] == ["sent"] * 5
    assert service.get(created["id"])["counts"]["sent"] == 5
    assert kicks == [1]  # one broadcast.completed event, relayed at once
    completed = [e for e in store.undispatched_events(INSTANCE, limit=50) if e.type == "broadcast.completed"]
    assert len(completed) == 1
