"""The DynamoDB core every concern's mixin builds on: the client, one error mapping, transactions."""

from __future__ import annotations

import threading
from typing import Any

from chalicelib.errors import StoreUnavailableError
from chalicelib.store.dynamodb.codec import decode, encode
from chalicelib.store.rules import DEFAULT_RETENTION_DAYS, UNAVAILABLE

NEW = "attribute_not_exists(pk)"
TRANSACTION_ATTEMPTS = 3


class ConditionFailedError(Exception):
    """A write's condition did not hold (``reasons``: per item of a transaction)."""

    def __init__(self, item: dict[str, Any] | None = None, reasons: list[str] | None = None):
        super().__init__("condition failed")
        self.item = item
        self.reasons = reasons or []


class ConflictError(Exception):
    """A transaction collided with another one on the same item; try it again."""


class DynamoDBCore:
    """One DynamoDB table (layout: :mod:`chalicelib.store.dynamodb.table`), a lazily created client,
    and the only place its errors are mapped: a failed condition becomes
    :class:`ConditionFailedError`, anything else :class:`StoreUnavailableError`."""

    def __init__(
        self,
        table_name: str,
        *,
        client: Any = None,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        query_page_size: int = 100,
        max_query_rounds: int = 5,
    ) -> None:
        self.table_name = table_name
        self._client = client
        self._client_lock = threading.Lock()
        self._retention_days = retention_days
        self._page_size = max(1, query_page_size)
        self._rounds = max(1, max_query_rounds)

    def _api(self) -> Any:
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    import boto3  # noqa: PLC0415 -- lazily: cold starts pay only when used
                    from botocore.config import Config  # noqa: PLC0415

                    config = Config(
                        connect_timeout=2,
                        read_timeout=5,
                        retries={"mode": "standard", "max_attempts": 3},
                    )
                    self._client = boto3.client("dynamodb", config=config)
        return self._client

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        """Run one API call; condition failures become ``ConditionFailedError``, the rest
        StoreUnavailableError."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        if operation != "transact_write_items":
            kwargs.setdefault("TableName", self.table_name)
        try:
            response: dict[str, Any] = getattr(self._api(), operation)(**kwargs)
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code")
            if code == "ConditionalCheckFailedException":
                raise ConditionFailedError(item=e.response.get("Item")) from e
            if code == "TransactionCanceledException":
                reasons = [r.get("Code", "None") for r in e.response.get("CancellationReasons", [])]
                if "TransactionConflict" in reasons:
                    raise ConflictError from e
                if "ConditionalCheckFailed" in reasons and set(reasons) <= {
                    "None",
                    "ConditionalCheckFailed",
                }:
                    raise ConditionFailedError(reasons=reasons) from e
            raise StoreUnavailableError(UNAVAILABLE) from e
        except BotoCoreError as e:
            raise StoreUnavailableError(UNAVAILABLE) from e
        return response

    def _transact(self, operations: list[dict[str, Any]]) -> None:
        """One ``TransactWriteItems``, tried again when it collides with another transaction."""
        for _ in range(TRANSACTION_ATTEMPTS):
            try:
                self._call("transact_write_items", TransactItems=operations)
                return
            except ConflictError:
                continue
        raise StoreUnavailableError(UNAVAILABLE)

    def _put(self, item: dict[str, Any], condition: str | None = NEW) -> dict[str, Any]:
        """A transaction's ``Put`` of ``item`` (by default only when no item has its key)."""
        put: dict[str, Any] = {"TableName": self.table_name, "Item": encode(item)}
        if condition is not None:
            put["ConditionExpression"] = condition
        return {"Put": put}

    def _get(self, key: dict[str, str]) -> dict[str, Any] | None:
        """The decoded item at ``key`` (a consistent read), or None."""
        item = self._call("get_item", Key=encode(key), ConsistentRead=True).get("Item")
        return decode(item) if item is not None else None

    def ping(self) -> None:
        """Cheap liveness check; raises StoreUnavailableError."""
        self._call("get_item", Key=encode({"pk": "PING", "sk": "PING"}))
