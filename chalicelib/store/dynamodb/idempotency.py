"""Idempotency-Key claims on DynamoDB: one conditional put per claim (``IDEM#<key>``)."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from chalicelib.errors import StoreUnavailableError
from chalicelib.store.base import LEASE_S, IdempotencyClaim, IdempotencyRecord
from chalicelib.store.dynamodb.codec import decode, encode
from chalicelib.store.dynamodb.core import (
    NEW,
    TRANSACTION_ATTEMPTS,
    WRITER,
    ConditionFailedError,
    DynamoDBCore,
)
from chalicelib.store.dynamodb.table import TTL_ATTRIBUTE
from chalicelib.store.rules import UNAVAILABLE, can_reclaim, is_live, new_writer, ttl_expiry

logger = logging.getLogger(__name__)


def idempotency_key(key: str) -> dict[str, str]:
    """The item key of an Idempotency-Key's claim."""
    return {"pk": f"IDEM#{key}", "sk": "IDEM"}


class DynamoDBIdempotency(DynamoDBCore):
    """:class:`chalicelib.store.base.IdempotencyStore` on DynamoDB."""

    def claim_idempotency(
        self, key: str, fingerprint: str, *, now: float, ttl_s: int, lease_s: int = LEASE_S
    ) -> IdempotencyClaim:
        record = IdempotencyRecord(
            key=key,
            fingerprint=fingerprint,
            state="in_progress",
            created_at=now,
            expires_at=ttl_expiry(now, ttl_s),
            writer=new_writer(),
            lease_until=now + lease_s,
        )
        item: dict[str, Any] = {**idempotency_key(key), "key": key, "fingerprint": fingerprint}
        item |= {"state": "in_progress", "created_at": now, TTL_ATTRIBUTE: record.expires_at}
        item |= {WRITER: record.writer, "lease_until": record.lease_until}
        # Free: no claim, an expired one, or one whose lease ran out before it wrote a send ahead
        # (a claim from before leases existed is leased for LEASE_S from its creation).
        condition = (
            f"{NEW} OR #exp <= :now"
            " OR (#state = :in_progress AND attribute_not_exists(#rid)"
            " AND (#lease <= :now OR (attribute_not_exists(#lease) AND #created <= :stale)))"
        )
        for _ in range(TRANSACTION_ATTEMPTS):
            try:
                self._call(
                    "put_item",
                    Item=encode(item),
                    ConditionExpression=condition,
                    ExpressionAttributeNames={
                        "#exp": TTL_ATTRIBUTE,
                        "#state": "state",
                        "#rid": "record_id",
                        "#lease": "lease_until",
                        "#created": "created_at",
                    },
                    ExpressionAttributeValues=encode(
                        {":now": now, ":in_progress": "in_progress", ":stale": now - LEASE_S}
                    ),
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return IdempotencyClaim(claimed=True, record=record)
            except ConditionFailedError as e:
                existing = decode(e.item) if e.item else self._get(idempotency_key(key))
            if existing is not None and existing.get(WRITER) == record.writer:
                return IdempotencyClaim(claimed=True, record=record)  # our own put; its answer was lost
            if existing is not None and is_live(existing[TTL_ATTRIBUTE], now):
                found = idempotency_from_item(existing)
                if not can_reclaim(found.state, found.record_id, found.lease_until, found.created_at, now):
                    return IdempotencyClaim(claimed=False, record=found)
            # released, expired or reclaimable between our write and our read: try again
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

    def release_idempotency(self, key: str, *, writer: str | None = None) -> None:
        # A failed condition means it is done (kept for replay), someone else's, or already gone.
        with contextlib.suppress(ConditionFailedError):
            self._call("delete_item", **release_claim(key, writer))


def release_claim(key: str, writer: str | None) -> dict[str, Any]:
    """The conditional delete of the in-progress claim of ``key`` (only ``writer``'s, when given)."""
    condition = "#state = :in_progress"
    names = {"#state": "state"}
    values: dict[str, Any] = {":in_progress": "in_progress"}
    if writer is not None:
        condition += " AND #writer = :writer"
        names["#writer"], values[":writer"] = WRITER, writer
    return {
        "Key": encode(idempotency_key(key)),
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": encode(values),
    }


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
        writer=str(item.get(WRITER) or ""),
        lease_until=float(item["lease_until"]) if item.get("lease_until") is not None else None,
        record_id=item.get("record_id"),
    )
