"""EventBridge destinations: one PutEvents entry per event, on moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.events.eventbridge import SOURCE, put_event
from chalicelib.events.types import BUS_ARN, Event

EVENT = Event(
    id="evt_01JDQ4Z9W6M8E3V7K2B5N1P0RS",
    type="message.status",
    created_at="2026-12-01T10:00:00.000Z",
    instance="test",
    data={"status": "read"},
)


@pytest.fixture
def events_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("events", region_name="us-east-1")


def test_an_event_is_put_on_the_bus_with_our_source_and_its_type_as_detail_type(events_client: Any) -> None:
    bus = events_client.create_event_bus(Name="crm")["EventBusArn"]
    sqs = __import__("boto3").client("sqs", region_name="us-east-1")
    queue = sqs.create_queue(QueueName="catch")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events_client.put_rule(Name="all", EventBusName="crm", EventPattern=json.dumps({"source": [SOURCE]}))
    events_client.put_targets(Rule="all", EventBusName="crm", Targets=[{"Id": "q", "Arn": queue_arn}])

    result = put_event(bus, EVENT, client=events_client)

    assert result.verdict == "delivered"
    (message,) = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
    delivered = json.loads(message["Body"])
    assert delivered["source"] == SOURCE
    assert delivered["detail-type"] == "message.status"
    assert delivered["detail"]["id"] == EVENT.id
    assert delivered["detail"]["data"] == {"status": "read"}


def test_a_bus_that_does_not_exist_is_retried_or_gone_never_delivered(events_client: Any) -> None:
    result = put_event("arn:aws:events:us-east-1:123456789012:event-bus/missing", EVENT, client=events_client)

    assert result.verdict in ("gone", "retry")


@pytest.mark.parametrize(
    ("arn", "ok"),
    [
        ("arn:aws:events:eu-west-1:123456789012:event-bus/crm", True),
        ("arn:aws:events:eu-west-1:123456789012:event-bus/default", True),
        ("arn:aws:events:eu-west-1:1234:event-bus/crm", False),
        ("arn:aws:sqs:eu-west-1:123456789012:crm", False),
        ("crm", False),
    ],
)
def test_bus_arns_are_recognised(arn: str, ok: bool) -> None:
    assert bool(BUS_ARN.match(arn)) is ok
