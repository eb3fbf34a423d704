"""The DynamoDB core every concern's mixin builds on: the client, one error mapping, transactions.

Faults, and what each becomes:
- a lost answer: botocore (standard mode) sends the request again, and a conditional write may
  then meet its own first attempt and fail its condition. Every conditional write therefore
  carries a ``writer`` nonce, fresh per logical operation, and asks for the item as it was
  (``ReturnValuesOnConditionCheckFailure=ALL_OLD``, or a consistent read after a cancelled
  transaction): finding its own nonce there, the operation knows it succeeded;
- ``TransactionConflict`` (another transaction on the same item): tried again after a short
  backoff with jitter, a few times, then "unavailable";
- a permanent refusal (``ValidationException``: an item over 400 KB, a number DynamoDB cannot
  hold): :class:`StoreRejectedError`, a deterministic 400 that no retry will change;
- anything else: :class:`StoreUnavailableError` (503, try again).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from chalicelib.errors import StoreRejectedError, StoreUnavailableError
from chalicelib.store.dynamodb.codec import decode, encode
from chalicelib.store.rules import DEFAULT_RETENTION_DAYS, REJECTED, UNAVAILABLE

logger = logging.getLogger(__name__)

NEW = "attribute_not_exists(pk)"
TRANSACTION_ATTEMPTS = 5
BACKOFF_BASE_S = 0.02  # the first pause after a conflict is 10-20 ms, then doubling
BACKOFF_CAP_S = 0.5
WRITER = "writer"  # the attribute carrying the nonce of the last write to an item
# Errors DynamoDB gives for a request that can never succeed as it is.
PERMANENT = {"ValidationException", "ItemCollectionSizeLimitExceededException", "SerializationException"}


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
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._sleep = sleep
        self._jitter = jitter
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
            reasons: list[str] = []
            if code == "TransactionCanceledException":
                reasons = [r.get("Code", "None") for r in e.response.get("CancellationReasons", [])]
                if "TransactionConflict" in reasons:
                    raise ConflictError from e
                if "ConditionalCheckFailed" in reasons and set(reasons) <= {
                    "None",
                    "ConditionalCheckFailed",
                }:
                    raise ConditionFailedError(reasons=reasons) from e
            if code in PERMANENT or "ValidationError" in reasons:
                logger.error(
                    "the store refused a write for good", extra={"operation": operation, "code": code}
                )
                raise StoreRejectedError(REJECTED) from e
            raise StoreUnavailableError(UNAVAILABLE) from e
        except BotoCoreError as e:
            raise StoreUnavailableError(UNAVAILABLE) from e
        return response

    def _transact(self, operations: list[dict[str, Any]]) -> None:
        """One ``TransactWriteItems``, tried again after a jittered, doubling pause when it
        collides with another transaction. (botocore gives each call a ``ClientRequestToken``
        and keeps it for its own retries, so DynamoDB applies a retried transaction once.)"""
        for attempt in range(TRANSACTION_ATTEMPTS):
            try:
                self._call("transact_write_items", TransactItems=operations)
                return
            except ConflictError:
                if attempt + 1 < TRANSACTION_ATTEMPTS:
                    self._sleep(self._backoff(attempt))
        raise StoreUnavailableError(UNAVAILABLE)

    def _backoff(self, attempt: int) -> float:
        """The pause before try ``attempt + 2``: half of a doubling, capped step, plus up to as
        much again at random ("equal jitter": never zero, never in lockstep with the other)."""
        step = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2.0**attempt)
        return step / 2 + self._jitter() * step / 2

    def _written_by(self, key: dict[str, str], writer: str, item: dict[str, Any] | None = None) -> bool:
        """Whether the item at ``key`` (``item`` as a failed condition returned it, else read
        now) carries ``writer``'s nonce: the write whose condition just failed had already
        succeeded, and only its answer was lost."""
        found = decode(item) if item else self._get(key)
        return found is not None and found.get(WRITER) == writer

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
        """A read of the real table (a missing table, or one this role cannot read, fails);
        raises StoreUnavailableError."""
        self._call("get_item", Key=encode({"pk": "PING", "sk": "PING"}))
