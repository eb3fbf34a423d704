"""Fixtures for the store contracts (one suite per concern, ``test_<concern>_contract.py``): one store
per backend, a peek at each backend's orphans, and the helpers the suites share."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from ulid import ULID

from chalicelib.models.records import MessageRecord
from chalicelib.store import Store
from chalicelib.store.dynamodb import TABLE_DEFINITION, DynamoDBStore
from chalicelib.store.sqlite import SQLiteStore

INSTANCE = "manpower-whatsapp"
JID = "5511999999999@s.whatsapp.net"
TABLE = "whatsapp-store-test"
NOW = 1_790_000_000.0
DAY = 86_400

T = TypeVar("T")


def race(n: int, action: Callable[[], T]) -> list[T]:
    """Run ``action`` in ``n`` threads released together; return every result."""
    barrier = threading.Barrier(n)

    def run() -> T:
        barrier.wait()
        return action()

    with ThreadPoolExecutor(max_workers=n) as pool:
        return [f.result() for f in [pool.submit(run) for _ in range(n)]]


def history(record: MessageRecord | None) -> list[tuple[str, str]]:
    """A record's status history as (status, at) pairs."""
    assert record is not None
    return [(entry.status, entry.at) for entry in record.status_history]


def msg_id(n: int) -> str:
    """The n-th id of a test: ``msg_<ULID>``, ordered by n."""
    millis = 1_795_600_800_000 + n * 1000  # 2026-11-25T10:00:00Z + n seconds
    return f"msg_{ULID.from_int((millis << 80) | n)}"


def at(second: int) -> str:
    """A test timestamp ``second`` seconds after 10:00:00Z."""
    return f"2026-11-25T10:{second // 60:02d}:{second % 60:02d}Z"


def outbound(n: int = 0, **fields: Any) -> MessageRecord:
    values: dict[str, Any] = {
        "id": msg_id(n),
        "instance": INSTANCE,
        "direction": "outbound",
        "type": "text",
        "status": "pending",
        "to": "+5511999999999",
        "jid": JID,
        "text": f"hello {n}",
        "fingerprint": "fp-1",
        "created_at": at(n),
        "updated_at": at(n),
    }
    values.update(fields)
    values.setdefault("status_history", [{"status": values["status"], "at": values["created_at"]}])
    return MessageRecord.model_validate(values)


def inbound(n: int = 0, **fields: Any) -> MessageRecord:
    values: dict[str, Any] = {
        "id": msg_id(n),
        "instance": INSTANCE,
        "direction": "inbound",
        "message_id": f"IN{n:06d}",
        "type": "text",
        "status": "delivered",
        "jid": JID,
        "from": "+5511999999999",
        "push_name": "Ana",
        "origin": "contact",
        "text": f"reply {n}",
        "timestamp": at(n),
        "created_at": at(n),
        "updated_at": at(n),
    }
    values.update(fields)
    return MessageRecord.model_validate(values)


@dataclass
class Backend:
    """A store under test and a way to count the orphan statuses it still keeps."""

    store: Store
    orphans: Callable[[str, str], int]


def fake_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.fixture
def dynamodb_table(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A moto DynamoDB table made from TABLE_DEFINITION; yields a client for peeking at it."""
    import boto3
    from moto import mock_aws

    fake_aws_env(monkeypatch)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName=TABLE, **TABLE_DEFINITION)
        yield client


def _sqlite_backend(path: Path) -> Backend:
    def orphans(instance: str, message_id: str) -> int:
        with sqlite3.connect(path) as db:
            (count,) = db.execute(
                "SELECT count(*) FROM orphans WHERE instance = ? AND message_id = ?",
                (instance, message_id),
            ).fetchone()
        return int(count)

    return Backend(SQLiteStore(str(path)), orphans)


def _dynamodb_backend(client: Any) -> Backend:
    def orphans(instance: str, message_id: str) -> int:
        response = client.query(
            TableName=TABLE,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :o)",
            ExpressionAttributeValues={
                ":pk": {"S": f"WAID#{instance}#{message_id}"},
                ":o": {"S": "ORPHAN#"},
            },
        )
        return len(response["Items"])

    return Backend(DynamoDBStore(TABLE, client=SerializedClient(client)), orphans)


class SerializedClient:
    """A boto3 client that lets one request at a time into moto.

    DynamoDB applies each request atomically; moto does not under threads (its
    ``transact_write_items`` deep-copies the tables while other threads write them and fails with
    "dictionary changed size during iteration"). One lock per request restores the real service's
    guarantee without hiding races between a store's separate requests.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attribute(*args, **kwargs)

        return call


@pytest.fixture(params=["sqlite", "dynamodb"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        sqlite_backend = _sqlite_backend(tmp_path / "store" / "store.db")
        yield sqlite_backend
        assert isinstance(sqlite_backend.store, SQLiteStore)
        sqlite_backend.store.close()
    else:
        yield _dynamodb_backend(request.getfixturevalue("dynamodb_table"))


@pytest.fixture
def store(backend: Backend) -> Store:
    return backend.store
