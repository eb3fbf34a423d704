"""DynamoDB backend of the store: one on-demand table, atomic through conditions and transactions.

The item layout is documented in :mod:`chalicelib.store.dynamodb_table`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from chalicelib.errors import StoreUnavailableError
from chalicelib.models.records import STATUS_RANK, InstanceState, MessageRecord
from chalicelib.store.base import (
    DuplicateMessageError,
    IdempotencyClaim,
    IdempotencyRecord,
    MessagePage,
    StatusResult,
)
from chalicelib.store.dynamodb_codec import decode, encode
from chalicelib.store.dynamodb_table import (
    LIST_INDEX,
    TABLE_DEFINITION,
    TTL_ATTRIBUTE,
    idempotency_from_item,
    instance_state_from_item,
    msg_key,
    parked_key,
    record_from_item,
    unknown_key,
    waid_pk,
)
from chalicelib.store.rules import (
    DEFAULT_RETENTION_DAYS,
    DIRECTIONS,
    OrphanStatus,
    check_query,
    check_status,
    decode_cursor,
    encode_cursor,
    epoch,
    expires_at,
    in_time_order,
    later,
    ttl_expiry,
)

__all__ = ["TABLE_DEFINITION", "TTL_ATTRIBUTE", "DynamoDBStore"]

logger = logging.getLogger(__name__)

UNAVAILABLE = "The message store is unavailable right now; try again shortly."
NEW = "attribute_not_exists(pk)"
TRANSACTION_ATTEMPTS = 3


class _ConditionFailedError(Exception):
    """A write's condition did not hold (``reasons``: per item of a transaction)."""

    def __init__(self, item: dict[str, Any] | None = None, reasons: list[str] | None = None):
        super().__init__("condition failed")
        self.item = item
        self.reasons = reasons or []


class _ConflictError(Exception):
    """A transaction collided with another one on the same item; try it again."""


class DynamoDBStore:
    """The store on one DynamoDB table (item layout: :mod:`chalicelib.store.dynamodb_table`)."""

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

    # -- plumbing ------------------------------------------------------------------------------

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
        """Run one API call; condition failures become ``_ConditionFailedError``, the rest
        StoreUnavailableError."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        if operation != "transact_write_items":
            kwargs.setdefault("TableName", self.table_name)
        try:
            response: dict[str, Any] = getattr(self._api(), operation)(**kwargs)
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code")
            if code == "ConditionalCheckFailedException":
                raise _ConditionFailedError(item=e.response.get("Item")) from e
            if code == "TransactionCanceledException":
                reasons = [r.get("Code", "None") for r in e.response.get("CancellationReasons", [])]
                if "TransactionConflict" in reasons:
                    raise _ConflictError from e
                if "ConditionalCheckFailed" in reasons and set(reasons) <= {
                    "None",
                    "ConditionalCheckFailed",
                }:
                    raise _ConditionFailedError(reasons=reasons) from e
            raise StoreUnavailableError(UNAVAILABLE) from e
        except BotoCoreError as e:
            raise StoreUnavailableError(UNAVAILABLE) from e
        return response

    def _transact(self, operations: list[dict[str, Any]]) -> None:
        for _ in range(TRANSACTION_ATTEMPTS):
            try:
                self._call("transact_write_items", TransactItems=operations)
                return
            except _ConflictError:
                continue
        raise StoreUnavailableError(UNAVAILABLE)

    def _put(self, item: dict[str, Any], condition: str | None = NEW) -> dict[str, Any]:
        put: dict[str, Any] = {"TableName": self.table_name, "Item": encode(item)}
        if condition is not None:
            put["ConditionExpression"] = condition
        return {"Put": put}

    def _get(self, key: dict[str, str]) -> dict[str, Any] | None:
        item = self._call("get_item", Key=encode(key), ConsistentRead=True).get("Item")
        return decode(item) if item is not None else None

    # -- idempotency ---------------------------------------------------------------------------

    def claim_idempotency(self, key: str, fingerprint: str, *, now: float, ttl_s: int) -> IdempotencyClaim:
        record = IdempotencyRecord(
            key=key,
            fingerprint=fingerprint,
            state="in_progress",
            created_at=now,
            expires_at=ttl_expiry(now, ttl_s),
        )
        item: dict[str, Any] = {"pk": f"IDEM#{key}", "sk": "IDEM", "key": key}
        item["fingerprint"] = fingerprint
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
            except _ConditionFailedError as e:
                existing = decode(e.item) if e.item else self._get({"pk": item["pk"], "sk": "IDEM"})
            if existing is not None and existing[TTL_ATTRIBUTE] > now:
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
                Key=encode({"pk": f"IDEM#{key}", "sk": "IDEM"}),
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
        except _ConditionFailedError:
            logger.warning("idempotency claim vanished before it was completed")

    def release_idempotency(self, key: str) -> None:
        # A failed condition means it is done (kept for replay) or already gone.
        with contextlib.suppress(_ConditionFailedError):
            self._call(
                "delete_item",
                Key=encode({"pk": f"IDEM#{key}", "sk": "IDEM"}),
                ConditionExpression="#state = :in_progress",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=encode({":in_progress": "in_progress"}),
            )

    # -- parked send.message events ------------------------------------------------------------

    def park_send(
        self,
        instance: str,
        *,
        jid: str,
        fingerprint: str,
        message_id: str,
        status: str,
        now: float,
        ttl_s: int,
    ) -> bool:
        check_status(status)
        item: dict[str, Any] = {**parked_key(instance, jid, fingerprint), "message_id": message_id}
        item["status"] = status
        item[TTL_ATTRIBUTE] = ttl_expiry(now, ttl_s)
        try:
            self._call(
                "put_item",
                Item=encode(item),
                ConditionExpression=f"{NEW} OR #exp <= :now",
                ExpressionAttributeNames={"#exp": TTL_ATTRIBUTE},
                ExpressionAttributeValues=encode({":now": now}),
            )
        except _ConditionFailedError:
            return False
        return True

    def take_parked_send(
        self, instance: str, *, jid: str, fingerprint: str, now: float
    ) -> tuple[str, str] | None:
        old = self._call(
            "delete_item", Key=encode(parked_key(instance, jid, fingerprint)), ReturnValues="ALL_OLD"
        ).get("Attributes")
        if not old:
            return None
        item = decode(old)
        if item[TTL_ATTRIBUTE] <= now:
            return None
        return str(item["message_id"]), str(item["status"])

    # -- messages ------------------------------------------------------------------------------

    def _record_item(self, record: MessageRecord) -> dict[str, Any]:
        item = {k: v for k, v in record.model_dump().items() if v is not None}
        item |= msg_key(record.id)
        item |= {
            "gsi1pk": f"LIST#{record.instance}#{record.direction}",
            "gsi1sk": record.id,
            "status_rank": STATUS_RANK[record.status],
            TTL_ATTRIBUTE: expires_at(record.created_at, self._retention_days),
        }
        return item

    def _pointer(self, record: MessageRecord, message_id: str) -> dict[str, Any]:
        return self._put(
            {
                "pk": waid_pk(record.instance, message_id),
                "sk": "POINTER",
                "id": record.id,
                TTL_ATTRIBUTE: expires_at(record.created_at, self._retention_days),
            }
        )

    def _get_record(self, id: str) -> MessageRecord | None:
        item = self._call("get_item", Key=encode(msg_key(id)), ConsistentRead=True).get("Item")
        return record_from_item(item) if item is not None else None

    def _record_id(self, instance: str, message_id: str) -> str | None:
        pointer = self._get({"pk": waid_pk(instance, message_id), "sk": "POINTER"})
        return str(pointer["id"]) if pointer is not None else None

    def create_message(self, record: MessageRecord) -> MessageRecord:
        operations = [self._put(self._record_item(record))]
        if record.message_id is not None:
            operations.append(self._pointer(record, record.message_id))
        elif record.direction == "outbound" and record.status == "unknown":
            marker: dict[str, Any] = {**unknown_key(record.instance, record.id)}
            marker |= {"jid": record.jid or "", "fingerprint": record.fingerprint or ""}
            marker[TTL_ATTRIBUTE] = expires_at(record.created_at, self._retention_days)
            operations.append(self._put(marker, condition=None))
        try:
            if len(operations) == 1:
                self._call("put_item", **operations[0]["Put"])
            else:
                self._transact(operations)
        except _ConditionFailedError as e:
            raise DuplicateMessageError(f"message {record.id} is already stored") from e
        if record.message_id is None:
            return record
        folded, _ = self._fold_orphans(record, record.message_id)
        return folded or record

    def attach_message_id(
        self, id: str, message_id: str, *, at: str, status: str | None = None
    ) -> MessageRecord | None:
        extra = [OrphanStatus(check_status(status), at)] if status is not None else []
        current = self._get_record(id)  # only to learn the instance; the write below is conditional
        if current is None or current.message_id is not None:
            return None
        attach = {
            "TableName": self.table_name,
            "Key": encode(msg_key(id)),
            "UpdateExpression": "SET #mid = :mid, #updated = :at",
            "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(#mid)",
            "ExpressionAttributeNames": {"#mid": "message_id", "#updated": "updated_at"},
            "ExpressionAttributeValues": encode({":mid": message_id, ":at": at}),
        }
        marker = {"TableName": self.table_name, "Key": encode(unknown_key(current.instance, id))}
        try:
            self._transact([{"Update": attach}, self._pointer(current, message_id), {"Delete": marker}])
        except _ConditionFailedError:
            return None
        attached = current.model_copy(update={"message_id": message_id, "updated_at": at})
        folded, _ = self._fold_orphans(attached, message_id, extra)
        return folded or self._get_record(id)

    def insert_inbound(self, record: MessageRecord) -> bool:
        if record.message_id is None:
            raise ValueError("an inbound record needs its WhatsApp message_id")
        try:
            self._transact([self._put(self._record_item(record)), self._pointer(record, record.message_id)])
        except _ConditionFailedError as e:
            if e.reasons[1:2] == ["ConditionalCheckFailed"]:
                return False
            raise DuplicateMessageError(f"message {record.id} is already stored") from e
        self._fold_orphans(record, record.message_id)
        return True

    def apply_status(
        self,
        instance: str,
        message_id: str,
        status: str,
        *,
        at: str,
        error: dict[str, Any] | None = None,
    ) -> StatusResult:
        new = check_status(status)
        id = self._record_id(instance, message_id)
        if id is None:
            orphan: dict[str, Any] = {"pk": waid_pk(instance, message_id), "sk": f"ORPHAN#{new}"}
            orphan |= {"status": new, "at": at, "error": error}
            orphan[TTL_ATTRIBUTE] = expires_at(at, self._retention_days)
            kept = False
            with contextlib.suppress(_ConditionFailedError):  # first arrival of a status is kept
                self._call("put_item", **self._put(orphan)["Put"])
                kept = True
            # The record may have been created between our two reads: then fold it in ourselves.
            id = self._record_id(instance, message_id)
            if id is None:
                return StatusResult(found=False, applied=False, kept=kept)
            current = self._get_record(id)
            if current is None:
                return StatusResult(found=False, applied=False)
            record, applied = self._fold_orphans(current, message_id)
            return StatusResult(found=True, applied=applied, record=record or current)
        moved = self._advance(id, new, at, error)
        if moved is not None:
            return StatusResult(found=True, applied=True, record=moved)
        record = self._get_record(id)
        return StatusResult(found=record is not None, applied=False, record=record)

    def _advance(
        self,
        id: str,
        status: str,
        at: str,
        error: dict[str, Any] | None = None,
        *,
        updated_at: str | None = None,
    ) -> MessageRecord | None:
        """Move the record forward in one conditional write; None when it would not move."""
        rank = STATUS_RANK[status]
        names = {
            "#status": "status",
            "#rank": "status_rank",
            "#history": "status_history",
            "#updated": "updated_at",
        }
        values: dict[str, Any] = {":s": status, ":r": rank, ":at": updated_at or at, ":empty": []}
        values[":h"] = [{"status": status, "at": at}]
        expression = (
            "SET #status = :s, #rank = :r, #updated = :at,"
            " #history = list_append(if_not_exists(#history, :empty), :h)"
        )
        if error is not None:
            names["#error"], values[":e"] = "error", error
            expression += ", #error = :e"
        try:
            response = self._call(
                "update_item",
                Key=encode(msg_key(id)),
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(pk) AND #rank < :r",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=encode(values),
                ReturnValues="ALL_NEW",
            )
        except _ConditionFailedError:
            return None
        return record_from_item(response["Attributes"])

    def _fold_orphans(
        self, record: MessageRecord, message_id: str, extra: list[OrphanStatus] | None = None
    ) -> tuple[MessageRecord | None, bool]:
        """Apply waiting orphans (and ``extra``) in time order, then delete them; like
        :func:`rules.fold`, never moving ``updated_at`` back before ``record``'s.

        Returns the record after folding (None if nothing was there to fold) and whether any
        status moved it.
        """
        instance, id, floor = record.instance, record.id, record.updated_at
        response = self._call(
            "query",
            KeyConditionExpression="pk = :pk AND begins_with(sk, :orphan)",
            ExpressionAttributeValues=encode({":pk": waid_pk(instance, message_id), ":orphan": "ORPHAN#"}),
            ConsistentRead=True,
        )
        items = [decode(i) for i in response.get("Items", [])]
        orphans = [OrphanStatus(check_status(i["status"]), i["at"], i.get("error")) for i in items]
        orphans += extra or []
        if not orphans:
            return None, False
        latest: MessageRecord | None = None
        for orphan in in_time_order(orphans):
            updated_at = later(floor, orphan.at)
            moved = self._advance(id, orphan.status, orphan.at, orphan.error, updated_at=updated_at)
            latest = moved or latest
        for item in items:
            self._call("delete_item", Key=encode({"pk": item["pk"], "sk": item["sk"]}))
        return latest or self._get_record(id), latest is not None

    def get_message(self, instance: str, id_or_message_id: str) -> MessageRecord | None:
        if id_or_message_id.startswith("msg_"):
            record = self._get_record(id_or_message_id)
            if record is not None and record.instance == instance:
                return record
        id = self._record_id(instance, id_or_message_id)
        return self._get_record(id) if id is not None else None

    def list_messages(
        self,
        instance: str,
        *,
        direction: str | None = None,
        status: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> MessagePage:
        check_query(direction, status, limit)
        before = decode_cursor(after) if after is not None else None
        streams = [
            self._scan(f"LIST#{instance}#{d}", before, status, limit)
            for d in ([direction] if direction is not None else DIRECTIONS)
        ]
        return _merge(streams, limit)

    def _scan(
        self, partition: str, before: str | None, status: str | None, limit: int
    ) -> tuple[list[MessageRecord], str | None]:
        """Newest records of one list partition older than ``before``, at least ``limit + 1``
        unless the partition ends or the round budget does; and the id down to which it was
        read (None: to its end)."""
        values: dict[str, Any] = {":p": partition}
        condition = "gsi1pk = :p"
        if before is not None:
            condition += " AND gsi1sk < :before"
            values[":before"] = before
        query: dict[str, Any] = {
            "IndexName": LIST_INDEX,
            "KeyConditionExpression": condition,
            "ScanIndexForward": False,
            "Limit": limit + 1 if status is None else max(limit + 1, self._page_size),
        }
        if status is not None:
            query["FilterExpression"] = "#status = :s"
            query["ExpressionAttributeNames"] = {"#status": "status"}
            values[":s"] = status
        query["ExpressionAttributeValues"] = encode(values)
        records: list[MessageRecord] = []
        depth: str | None = None
        for _ in range(self._rounds):
            response = self._call("query", **query)
            records.extend(record_from_item(i) for i in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return records, None
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
            depth = str(decode(response["LastEvaluatedKey"])["gsi1sk"])
            if len(records) > limit:
                break
        return records, depth

    def find_unknown_sends(
        self, instance: str, *, jid: str, fingerprint: str, since: str
    ) -> list[MessageRecord]:
        query: dict[str, Any] = {
            "KeyConditionExpression": "pk = :p",
            "FilterExpression": "#jid = :jid AND #fp = :fp",
            "ExpressionAttributeNames": {"#jid": "jid", "#fp": "fingerprint"},
            "ExpressionAttributeValues": encode(
                {":p": f"UNKNOWN#{instance}", ":jid": jid, ":fp": fingerprint}
            ),
            "ConsistentRead": True,
        }
        ids: list[str] = []
        while True:
            response = self._call("query", **query)
            ids.extend(decode(i)["sk"] for i in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        records = [r for r in map(self._get_record, sorted(ids)) if r is not None]
        return [
            r
            for r in records
            if r.status == "unknown"
            and r.message_id is None
            and r.direction == "outbound"
            and epoch(r.created_at) >= epoch(since)
        ]

    # -- instance state and health -------------------------------------------------------------

    def get_instance_state(self, instance: str) -> InstanceState | None:
        item = self._get({"pk": f"INST#{instance}", "sk": "STATE"})
        return instance_state_from_item(item) if item is not None else None

    def update_instance_state(self, instance: str, **fields: Any) -> InstanceState:
        unknown = set(fields) - set(InstanceState.model_fields) | ({"instance"} & set(fields))
        if unknown:
            raise ValueError(f"not instance-state fields: {sorted(unknown)}")
        InstanceState.model_validate({"instance": instance, **fields})  # type-check the values
        names: dict[str, str] = {"#instance": "instance"}
        values: dict[str, Any] = {":instance": instance}
        sets, removes = ["#instance = :instance"], []
        for n, (name, value) in enumerate(fields.items()):
            names[f"#f{n}"] = name
            if value is None:
                removes.append(f"#f{n}")
            else:
                sets.append(f"#f{n} = :v{n}")
                values[f":v{n}"] = value
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        response = self._call(
            "update_item",
            Key=encode({"pk": f"INST#{instance}", "sk": "STATE"}),
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=encode(values),
            ReturnValues="ALL_NEW",
        )
        return instance_state_from_item(decode(response["Attributes"]))

    def ping(self) -> None:
        self._call("get_item", Key=encode({"pk": "PING", "sk": "PING"}))


def _merge(streams: list[tuple[list[MessageRecord], str | None]], limit: int) -> MessagePage:
    """One page from per-partition reads: only ids at or above the shallowest read depth are
    known to be complete, so the page stops there and ``next`` resumes below it."""
    depths = [depth for _, depth in streams if depth is not None]
    floor = max(depths) if depths else None
    records = sorted((r for rs, _ in streams for r in rs), key=lambda r: r.id, reverse=True)
    if floor is not None:
        records = [r for r in records if r.id >= floor]
    if len(records) > limit:
        return MessagePage(items=records[:limit], next=encode_cursor(records[limit - 1].id))
    return MessagePage(items=records, next=encode_cursor(floor) if floor is not None else None)
