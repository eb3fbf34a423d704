"""Message records on DynamoDB: records, WhatsApp-id pointers, orphan statuses, timed-out and
parked sends (prefixes ``MSG``, ``WAID``, ``UNKNOWN``, ``PARKED``; the ``gsi1`` listing index)."""

from __future__ import annotations

import contextlib
from typing import Any

from chalicelib.clock import now_iso
from chalicelib.errors import StoreUnavailableError
from chalicelib.events.types import message_event
from chalicelib.models.records import STATUS_RANK, MessageRecord
from chalicelib.store.base import MessagePage, StatusResult
from chalicelib.store.dynamodb.codec import decode, encode
from chalicelib.store.dynamodb.core import NEW, WRITER, ConditionFailedError
from chalicelib.store.dynamodb.media import DynamoDBMediaWaits
from chalicelib.store.dynamodb.table import LIST_INDEX, TTL_ATTRIBUTE, model_fields
from chalicelib.store.rules import (
    DIRECTIONS,
    UNRESOLVED,
    OrphanStatus,
    advance,
    attached_status,
    check_query,
    check_status,
    decode_cursor,
    duplicate,
    encode_cursor,
    expires_at,
    fold_steps,
    inbound_message_id,
    is_unresolved_send,
    new_writer,
    ttl_expiry,
    waits_for_media,
)

ADVANCE_ATTEMPTS = 5  # optimistic tries of one status change against concurrent ones


def msg_key(id: str) -> dict[str, str]:
    """The key of a message record."""
    return {"pk": f"MSG#{id}", "sk": "MSG"}


def waid_pk(instance: str, message_id: str) -> str:
    """The partition of a WhatsApp id: its pointer and its orphan statuses."""
    return f"WAID#{instance}#{message_id}"


def unknown_key(instance: str, id: str) -> dict[str, str]:
    """The key of the marker of a timed-out send."""
    return {"pk": f"UNKNOWN#{instance}", "sk": id}


def parked_key(instance: str, jid: str, fingerprint: str) -> dict[str, str]:
    """The key of a parked ``send.message`` (by chat and content fingerprint)."""
    return {"pk": f"PARKED#{instance}#{jid}#{fingerprint}", "sk": "PARKED"}


def record_from_item(item: dict[str, Any]) -> MessageRecord:
    """A message record from its low-level item."""
    return MessageRecord.model_validate(model_fields(decode(item)))


class DynamoDBMessages(DynamoDBMediaWaits):
    """:class:`chalicelib.store.base.MessageStore` on DynamoDB."""

    def _record_item(self, record: MessageRecord, writer: str = "") -> dict[str, Any]:
        item = {k: v for k, v in record.model_dump().items() if v is not None}
        item |= msg_key(record.id)
        if writer:
            item[WRITER] = writer
        item |= {
            "gsi1pk": f"LIST#{record.instance}#{record.direction}",
            "gsi1sk": record.id,
            "status_rank": STATUS_RANK[record.status],
            TTL_ATTRIBUTE: expires_at(record.created_at, self._retention_days),
        }
        return item

    def _pointer(self, record: MessageRecord, message_id: str) -> dict[str, Any]:
        """The put of ``message_id``'s pointer to ``record``: when no pointer exists, or this one
        does already (a retry that meets its own first attempt)."""
        put = self._put(
            {
                "pk": waid_pk(record.instance, message_id),
                "sk": "POINTER",
                "id": record.id,
                TTL_ATTRIBUTE: expires_at(record.created_at, self._retention_days),
            },
            condition=f"{NEW} OR #id = :id",
        )
        put["Put"]["ExpressionAttributeNames"] = {"#id": "id"}
        put["Put"]["ExpressionAttributeValues"] = encode({":id": record.id})
        return put

    def _marker(self, record: MessageRecord) -> dict[str, Any]:
        """The put of the marker that lists a send without its WhatsApp id for reconciliation."""
        marker: dict[str, Any] = {**unknown_key(record.instance, record.id)}
        marker |= {"jid": record.jid or "", "fingerprint": record.fingerprint or ""}
        marker[TTL_ATTRIBUTE] = expires_at(record.created_at, self._retention_days)
        return self._put(marker, condition=None)

    def _get_record(self, id: str) -> MessageRecord | None:
        item = self._call("get_item", Key=encode(msg_key(id)), ConsistentRead=True).get("Item")
        return record_from_item(item) if item is not None else None

    def _record_id(self, instance: str, message_id: str) -> str | None:
        pointer = self._get({"pk": waid_pk(instance, message_id), "sk": "POINTER"})
        return str(pointer["id"]) if pointer is not None else None

    def create_message(self, record: MessageRecord) -> MessageRecord:
        self._create(record)
        if record.message_id is None:
            return record
        folded, _ = self._fold_orphans(record, record.message_id)
        return folded or record

    def _create(self, record: MessageRecord, extra: list[dict[str, Any]] | None = None) -> None:
        """Put a new record (with its pointer, or its marker when it has no WhatsApp id yet, and
        ``extra`` operations) in one write; DuplicateMessageError when its id or WhatsApp id is
        taken. A retry that meets its own first attempt is recognised by its nonce."""
        writer = new_writer()
        operations = [self._put(self._record_item(record, writer))]
        if record.message_id is not None:
            operations.append(self._pointer(record, record.message_id))
        elif record.direction == "outbound" and record.status in UNRESOLVED:
            operations.append(self._marker(record))
        operations += extra or []
        try:
            if len(operations) == 1:
                self._call("put_item", **operations[0]["Put"], ReturnValuesOnConditionCheckFailure="ALL_OLD")
            else:
                self._transact(operations)
        except ConditionFailedError as e:
            if self._written_by(msg_key(record.id), writer, e.item):
                return
            raise duplicate(record) from e

    def attach_message_id(
        self, id: str, message_id: str, *, at: str, status: str | None = None
    ) -> MessageRecord | None:
        extra = attached_status(status, at)
        current = self._get_record(id)  # only to learn the instance; the write below is conditional
        if current is None or current.message_id is not None:
            return None
        writer = new_writer()
        attach = {
            "TableName": self.table_name,
            "Key": encode(msg_key(id)),
            "UpdateExpression": "SET #mid = :mid, #updated = :at, #writer = :writer",
            "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(#mid)",
            "ExpressionAttributeNames": {"#mid": "message_id", "#updated": "updated_at", "#writer": WRITER},
            "ExpressionAttributeValues": encode({":mid": message_id, ":at": at, ":writer": writer}),
        }
        marker = {"TableName": self.table_name, "Key": encode(unknown_key(current.instance, id))}
        try:
            self._transact([{"Update": attach}, self._pointer(current, message_id), {"Delete": marker}])
        except ConditionFailedError:
            if not self._written_by(msg_key(id), writer):
                return None
        attached = current.model_copy(update={"message_id": message_id, "updated_at": at})
        folded, _ = self._fold_orphans(attached, message_id, extra)
        return folded or self._get_record(id)

    def insert_inbound(self, record: MessageRecord) -> bool:
        message_id = inbound_message_id(record)
        writer = new_writer()
        pointer = self._put(
            {
                "pk": waid_pk(record.instance, message_id),
                "sk": "POINTER",
                "id": record.id,
                TTL_ATTRIBUTE: expires_at(record.created_at, self._retention_days),
            }
        )
        operations = [self._put(self._record_item(record, writer)), pointer]
        if waits_for_media(record):  # message.received waits until the file is fetched
            operations.append(self._media_wait_item(record))
        elif record.direction == "inbound":
            operations += self._event_items(message_event("message.received", record, at=now_iso()))
        try:
            self._transact(operations)
        except ConditionFailedError as e:
            if self._written_by(msg_key(record.id), writer):
                pass  # stored by our own first attempt, whose answer was lost
            elif e.reasons[1:2] == ["ConditionalCheckFailed"]:
                return False
            else:
                raise duplicate(record) from e
        self._fold_orphans(record, message_id)
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
            with contextlib.suppress(ConditionFailedError):  # first arrival of a status is kept
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
        """Move the record forward, with its ``message.status`` event, in one transaction
        conditioned on the rank read just before (tried again when another write got there
        first); None when it would not move."""
        for _ in range(ADVANCE_ATTEMPTS):
            current = self._get_record(id)
            moved = advance(current, status, at, error, updated_at=updated_at) if current else None
            if current is None or moved is None:
                return None
            names = {
                "#status": "status",
                "#rank": "status_rank",
                "#history": "status_history",
                "#updated": "updated_at",
            }
            values: dict[str, Any] = {":s": status, ":r": STATUS_RANK[status], ":at": moved.updated_at}
            values |= {
                ":h": [{"status": status, "at": at}],
                ":empty": [],
                ":was": STATUS_RANK[current.status],
            }
            writer = new_writer()
            names["#writer"], values[":writer"] = WRITER, writer
            expression = (
                "SET #status = :s, #rank = :r, #updated = :at, #writer = :writer,"
                " #history = list_append(if_not_exists(#history, :empty), :h)"
            )
            if error is not None:
                names["#error"], values[":e"] = "error", error
                expression += ", #error = :e"
            update = {
                "TableName": self.table_name,
                "Key": encode(msg_key(id)),
                "UpdateExpression": expression,
                "ConditionExpression": "attribute_exists(pk) AND #rank = :was",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": encode(values),
            }
            event = message_event("message.status", moved, at=now_iso())
            try:
                self._transact([{"Update": update}, *self._event_items(event)])
            except ConditionFailedError:
                if self._written_by(msg_key(id), writer):
                    return moved  # our own transaction (event included); its answer was lost
                continue  # the status moved meanwhile: read it again
            return moved
        return None

    def _fold_orphans(
        self, record: MessageRecord, message_id: str, extra: list[OrphanStatus] | None = None
    ) -> tuple[MessageRecord | None, bool]:
        """Apply waiting orphans (and ``extra``) in the order of :func:`rules.fold_steps`, each as
        one forward-only conditional write, then delete them.

        Returns the record after folding (None if nothing was there to fold) and whether any
        status moved it.
        """
        instance, id = record.instance, record.id
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
        for orphan, updated_at in fold_steps(record, orphans):
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
        return [r for r in records if is_unresolved_send(r, jid=jid, fingerprint=fingerprint, since=since)]

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
        writer = new_writer()
        item: dict[str, Any] = {**parked_key(instance, jid, fingerprint), "message_id": message_id}
        item |= {"status": status, WRITER: writer}
        item[TTL_ATTRIBUTE] = ttl_expiry(now, ttl_s)
        try:
            self._call(
                "put_item",
                Item=encode(item),
                ConditionExpression=f"{NEW} OR #exp <= :now OR attribute_exists(#taken)",
                ExpressionAttributeNames={"#exp": TTL_ATTRIBUTE, "#taken": "taken"},
                ExpressionAttributeValues=encode({":now": now}),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ConditionFailedError as e:
            return e.item is not None and decode(e.item).get(WRITER) == writer
        return True

    def take_parked_send(
        self, instance: str, *, jid: str, fingerprint: str, now: float
    ) -> tuple[str, str] | None:
        """Mark the parked send taken (one conditional write, so exactly one taker, and a taker
        whose answer was lost finds its own mark), then delete it (best effort: a taken item is
        free for the next park, and its TTL removes it anyway)."""
        key = parked_key(instance, jid, fingerprint)
        writer = new_writer()
        try:
            response = self._call(
                "update_item",
                Key=encode(key),
                UpdateExpression="SET #taken = :writer",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(#taken) AND #exp > :now",
                ExpressionAttributeNames={"#taken": "taken", "#exp": TTL_ATTRIBUTE},
                ExpressionAttributeValues=encode({":writer": writer, ":now": now}),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            item = decode(response["Attributes"])
        except ConditionFailedError as e:
            old = decode(e.item) if e.item else None
            if old is None or old.get("taken") != writer:
                return None
            item = old  # our own mark; its answer was lost
        with contextlib.suppress(StoreUnavailableError, ConditionFailedError):
            self._call(
                "delete_item",
                Key=encode(key),
                ConditionExpression="#taken = :writer",
                ExpressionAttributeNames={"#taken": "taken"},
                ExpressionAttributeValues=encode({":writer": writer}),
            )
        return str(item["message_id"]), str(item["status"])


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
