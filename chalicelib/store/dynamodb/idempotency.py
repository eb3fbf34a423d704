"""Idempotency-Key claims on DynamoDB: one conditional put per claim (``IDEM#<key>``)."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from chalicelib.errors import StoreUnavailableError
from chalicelib.store.base import IdempotencyClaim, IdempotencyRecord
from chalicelib.store.dynamodb.codec import decode, encode
from chalicelib.store.dynamodb.core import NEW, TRANSACTION_ATTEMPTS, ConditionFailedError, DynamoDBCore
from chalicelib.store.dynamodb.table import TTL_ATTRIBUTE
from chalicelib.store.rules import UNAVAILABLE, is_live, ttl_expiry

logger = logging.getLogger(__name__)


def idempotency_key(key: str) -> dict[str, str]:
    """The item key of an Idempotency-Key's claim."""
    return {"pk": f"IDEM#{key}", "sk": "IDEM"}


class DynamoDBIdempotency(DynamoDBCore):
    """:class:`chalicelib.store.base.IdempotencyStore` on DynamoDB."""

    def claim_idempotency(self, key: str, fingerprint: str, *, now: float, ttl_s: int) -> IdempotencyClaim:
        record = IdempotencyRecord(
            key=key,
            fingerprint=fingerprint,
            state="in_progress",
            created_at=now,
            expires_at=ttl_expiry(now, ttl_s),
        )
        item: dict[str, Any] = {**idempotency_key(key), "key": key, "fingerprint": fingerprint}
        item |= {"state": "in_progress", "created_at": now, TTL_ATTRIBUTE: record.expires_at}
        for _ in range(TRANSACTION_ATTEMPTS):
            try:
                self._call(
                    "put_item",
                    Item=encode(item),
                    ConditionExpression=f"{NEW} OR #exp <= :now",
                    ExpressionAttributeNames={"#exp": TTL_ATTRIBUTE},
                    ExpressionAttributeValues=encode({":now": now}),
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return IdempotencyClaim(claimed=True, record=record)
            except ConditionFailedError as e:
                existing = decode(e.item) if e.item else self._get(idempotency_key(key))
            if existing is not None and is_live(existing[TTL_ATTRIBUTE], now):
                return IdempotencyClaim(claimed=False, record=idempotency_from_item(existing))
            # released or expired between our write and our read: try again
        raise StoreUnavailableError(UNAVAILABLE)

    def complete_idempotency(
        self,
        key: str,
        *,
        status_code: int,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        try:
            self._call(
                "update_item",
                Key=encode(idempotency_key(key)),
                UpdateExpression="SET #state = :done, #code = :code, #body = :body, #hdr = :hdr",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={
                    "#state": "state",
                    "#code": "status_code",
                    "#body": "body",
                    "#hdr": "headers",
                },
                ExpressionAttributeValues=encode(
                    {":done": "done", ":code": status_code, ":body": body, ":hdr": headers or {}}
                ),
            )
        except ConditionFailedError:
            logger.warning("idempotency claim vanished before it was completed")

    def release_idempotency(self, key: str) -> None:
        # A failed condition means it is done (kept for replay) or already gone.
        with contextlib.suppress(ConditionFailedError):
            self._call(
                "delete_item",
                Key=encode(idempotency_key(key)),
                ConditionExpression="#state = :in_progress",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=encode({":in_progress": "in_progress"}),
            )


def idempotency_from_item(item: dict[str, Any]) -> IdempotencyRecord:
    """A claim from its decoded item."""
    return IdempotencyRecord(
        key=item["key"],
        fingerprint=item["fingerprint"],
        state=item["state"],
        created_at=float(item["created_at"]),
        expires_at=float(item[TTL_ATTRIBUTE]),
        status_code=item.get("status_code"),
        body=item.get("body"),
        headers=item.get("headers") or {},
    )
