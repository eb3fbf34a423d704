"""Webhook deliveries under load, with duplicates and out-of-order statuses, on both backends.

SQLite: a real `chalice local` process over a store seeded with the outbound messages, fed by 8
concurrent senders (one ``requests.Session`` each). DynamoDB (moto): the same stream in process,
through ``parse_envelope`` + ``WebhookService`` + ``DynamoDBStore``, from 8 threads.
The figures are printed and written to ``build/load-report.txt``.

Sizes: the default suite sends 1,000 deliveries to SQLite and 400 to DynamoDB; ``make load``
(``-m load``) sends 5,000 to SQLite and 1,000 to DynamoDB. moto deep-copies the whole table for
every operation of a ``transact_write_items``, so its cost grows with the table (400: ~13 s,
1,000: ~40-90 s, 5,000: well over 10 min); the real service has no such cost.
``LOAD_DELIVERIES`` / ``LOAD_DYNAMODB_DELIVERIES`` override the default sizes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from chalicelib.models.records import MessageRecord
from tests.load.procs import chalice_local
from tests.load.stream import Delivery, Stream, build_stream, deliver_all, jid, judge, outbound_id

INSTANCE = "load-whatsapp"
OUTBOUND = 200
DEFAULT_DELIVERIES = int(os.environ.get("LOAD_DELIVERIES", "1000"))
DEFAULT_DYNAMODB_DELIVERIES = int(os.environ.get("LOAD_DYNAMODB_DELIVERIES", "400"))
FULL_DELIVERIES = 5000
FULL_DYNAMODB_DELIVERIES = 1000
TABLE = "whatsapp-load-test"


def _outbound_record(n: int) -> MessageRecord:
    at = f"2026-11-25T09:{n // 60 % 60:02d}:{n % 60:02d}Z"
    return MessageRecord.model_validate(
        {
            "id": f"msg_01JDQ4Z9W6M8E3V7K2{n:08d}",
            "instance": INSTANCE,
            "direction": "outbound",
            "message_id": outbound_id(n),
            "type": "text",
            "status": "pending",
            "status_history": [{"status": "pending", "at": at}],
            "to": "+" + jid(n).split("@")[0],
            "jid": jid(n),
            "origin": "api",
            "text": f"hello {n}",
            "created_at": at,
            "updated_at": at,
        }
    )


def _outbound_count(total: int) -> int:
    """200 outbound messages for the full run; fewer for a small one, so statuses stay a minority."""
    return min(OUTBOUND, total // 25)


# -- SQLite, through a real `chalice local` ---------------------------------------------------------


def _run_sqlite(tmp_path: Path, total: int) -> None:
    from chalicelib.store.sqlite import SQLiteStore

    db = tmp_path / "load.db"
    stream = build_stream(total, outbound=_outbound_count(total), instance=INSTANCE)
    seed = SQLiteStore(str(db))
    for n in range(stream.outbound):
        seed.create_message(_outbound_record(n))
    seed.close()

    with chalice_local(tmp_path, store_url=f"sqlite:///{db}", instance=INSTANCE) as service:
        local = threading.local()

        def post(delivery: Delivery) -> tuple[int, Any]:
            session: requests.Session | None = getattr(local, "session", None)
            if session is None:
                session = local.session = requests.Session()
            answer = session.post(
                f"{service.base_url}/webhook",
                data=delivery.body,
                headers={"Content-Type": "application/json", "X-Webhook-Secret": service.webhook_secret},
                timeout=30,
            )
            return answer.status_code, answer.json() if answer.content else None

        answers, seconds = deliver_all(stream, post)

    with sqlite3.connect(db) as conn:
        inbound = [r[0] for r in conn.execute("SELECT message_id FROM messages WHERE direction = 'inbound'")]
        rows = conn.execute("SELECT data FROM messages WHERE direction = 'outbound'").fetchall()
    outbound = [MessageRecord.model_validate_json(r[0]) for r in rows]
    judge("sqlite+chalice-local", stream, answers, seconds, inbound_rows=inbound, outbound_records=outbound)


def test_webhook_stream_on_sqlite_through_chalice_local(tmp_path: Path) -> None:
    _run_sqlite(tmp_path, DEFAULT_DELIVERIES)


@pytest.mark.load
def test_5000_webhooks_on_sqlite_through_chalice_local(tmp_path: Path) -> None:
    _run_sqlite(tmp_path, FULL_DELIVERIES)


# -- DynamoDB on moto, in process ---------------------------------------------------------------------


@pytest.fixture
def dynamodb_store(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import boto3
    from moto import mock_aws

    from chalicelib.store.dynamodb import TABLE_DEFINITION, DynamoDBStore
    from tests.store.conftest import SerializedClient, fake_aws_env

    fake_aws_env(monkeypatch)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName=TABLE, **TABLE_DEFINITION)
        yield DynamoDBStore(TABLE, client=SerializedClient(client))


def _run_dynamodb(store: Any, total: int) -> None:
    from chalicelib import errors
    from chalicelib.services.webhooks import WebhookService, parse_envelope

    stream: Stream = build_stream(total, outbound=_outbound_count(total), instance=INSTANCE)
    for n in range(stream.outbound):
        store.create_message(_outbound_record(n))
    service = WebhookService(store=store, instance=INSTANCE)

    def post(delivery: Delivery) -> tuple[int, Any]:
        try:
            event = parse_envelope(json.loads(delivery.body), received_at=datetime.now(UTC))
            return 200, service.handle(event)
        except errors.ServiceError as exc:
            return exc.status, errors.error_body(exc)

    answers, seconds = deliver_all(stream, post)

    inbound: list[str] = []
    after: str | None = None
    while True:
        page = store.list_messages(INSTANCE, direction="inbound", after=after, limit=100)
        inbound += [r.message_id for r in page.items]
        if page.next is None:
            break
        after = page.next
    outbound = [store.get_message(INSTANCE, outbound_id(n)) for n in range(stream.outbound)]
    found = [r for r in outbound if r is not None]
    judge("dynamodb(moto)+in-process", stream, answers, seconds, inbound_rows=inbound, outbound_records=found)


def test_webhook_stream_on_dynamodb_in_process(dynamodb_store: Any) -> None:
    _run_dynamodb(dynamodb_store, DEFAULT_DYNAMODB_DELIVERIES)


@pytest.mark.load
def test_1000_webhooks_on_dynamodb_in_process(dynamodb_store: Any) -> None:
    _run_dynamodb(dynamodb_store, FULL_DYNAMODB_DELIVERIES)
