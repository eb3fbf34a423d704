"""The durable store: pick a backend by URL (``sqlite:///path.db`` or ``dynamodb://table``)."""

from __future__ import annotations

import re

from chalicelib.store.base import (
    ClaimLostError,
    DuplicateMessageError,
    EventStore,
    IdempotencyClaim,
    IdempotencyRecord,
    IdempotencyStore,
    InstanceStore,
    MediaStore,
    MessagePage,
    MessageStore,
    SendStore,
    StatusResult,
    Store,
)
from chalicelib.store.rules import DEFAULT_RETENTION_DAYS

__all__ = [
    "ClaimLostError",
    "DuplicateMessageError",
    "EventStore",
    "IdempotencyClaim",
    "IdempotencyRecord",
    "IdempotencyStore",
    "InstanceStore",
    "MediaStore",
    "MessagePage",
    "MessageStore",
    "SendStore",
    "StatusResult",
    "Store",
    "store_from_url",
]

TABLE_NAME = re.compile(r"[A-Za-z0-9_.-]{3,255}")


def store_from_url(url: str, *, retention_days: int = DEFAULT_RETENTION_DAYS) -> Store:
    """The store a URL names: ``sqlite:///relative.db``, ``sqlite:////absolute.db``,
    ``dynamodb://table-name``. Nothing is opened or connected until first use."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if not path or path.endswith("/"):
            raise ValueError(f"store URL {url!r} names no SQLite file (sqlite:///path/to/file.db)")
        from chalicelib.store.sqlite import SQLiteStore  # noqa: PLC0415 -- only the backend used

        return SQLiteStore(path, retention_days=retention_days)
    if url.startswith("dynamodb://"):
        table = url.removeprefix("dynamodb://")
        if not TABLE_NAME.fullmatch(table):
            raise ValueError(f"store URL {url!r} needs a DynamoDB table name: 3-255 of A-Z a-z 0-9 _ . -")
        from chalicelib.store.dynamodb import DynamoDBStore  # noqa: PLC0415

        return DynamoDBStore(table, retention_days=retention_days)
    raise ValueError(f"unsupported store URL {url!r}: use sqlite:///path/to/file.db or dynamodb://table-name")
