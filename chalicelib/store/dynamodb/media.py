"""Inbound media on DynamoDB (prefix ``MEDIAWAIT``).

    pk                      sk          item
    MEDIAWAIT#<instance>    <record id> a record waiting for its media: created_at, expires_at

:class:`DynamoDBMediaWaits` is what ``insert_inbound`` adds to its transaction;
:class:`DynamoDBMedia` is :class:`chalicelib.store.base.MediaStore`.
"""

from __future__ import annotations

from typing import Any

from chalicelib.clock import now_iso
from chalicelib.events.types import message_event
from chalicelib.models.records import MessageRecord
from chalicelib.store.dynamodb.codec import decode, encode
from chalicelib.store.dynamodb.core import ConditionFailedError
from chalicelib.store.dynamodb.events import DynamoDBOutbox
from chalicelib.store.dynamodb.table import TTL_ATTRIBUTE, model_fields
from chalicelib.store.rules import expires_at, merge_media

SETTLE_ATTEMPTS = 3


def wait_key(instance: str, id: str) -> dict[str, str]:
    return {"pk": f"MEDIAWAIT#{instance}", "sk": id}


class DynamoDBMediaWaits(DynamoDBOutbox):
    """The waiting marks, for other concerns' transactions."""

    def _media_wait_item(self, record: MessageRecord) -> dict[str, Any]:
        item: dict[str, Any] = {**wait_key(record.instance, record.id), "created_at": record.created_at}
        item[TTL_ATTRIBUTE] = expires_at(record.created_at, self._retention_days)
        return self._put(item)


class DynamoDBMedia(DynamoDBMediaWaits):
    """:class:`chalicelib.store.base.MediaStore` on DynamoDB."""

    def settle_media(self, instance: str, id: str, media: dict[str, Any], *, at: str) -> MessageRecord | None:
        for _ in range(SETTLE_ATTEMPTS):
            item = self._get({"pk": f"MSG#{id}", "sk": "MSG"})
            if item is None:
                return None
            record = MessageRecord.model_validate(model_fields(item))
            if record.instance != instance:
                return None
            merged = merge_media(record.media, media)
            if merged is None:
                return record if record.media is not None else None
            settled = record.model_copy(update={"media": merged, "updated_at": at})
            update = self._media_update(id, record.media, merged, at)
            waiting = self._get(wait_key(instance, id)) is not None
            try:
                if waiting:
                    ops: list[dict[str, Any]] = [{"Update": update}]
                    ops.append(
                        {
                            "Delete": {
                                "TableName": self.table_name,
                                "Key": encode(wait_key(instance, id)),
                                "ConditionExpression": "attribute_exists(pk)",
                            }
                        }
                    )
                    if settled.direction == "inbound":
                        ops += self._event_items(message_event("message.received", settled, at=now_iso()))
                    self._transact(ops)
                else:
                    self._call("update_item", **{k: v for k, v in update.items() if k != "TableName"})
            except ConditionFailedError:
                continue  # the media or the wait changed meanwhile: read again
            return settled
        return None

    def _media_update(
        self, id: str, before: dict[str, Any] | None, merged: dict[str, Any], at: str
    ) -> dict[str, Any]:
        """Set the media, on condition it is still what was read (no lost concurrent settle)."""
        names = {"#media": "media", "#updated": "updated_at"}
        values: dict[str, Any] = {":m": merged, ":at": at}
        condition = "attribute_exists(pk)"
        if before is None:
            condition += " AND attribute_not_exists(#media)"
        else:
            values[":before"] = before
            condition += " AND #media = :before"
        return {
            "TableName": self.table_name,
            "Key": encode({"pk": f"MSG#{id}", "sk": "MSG"}),
            "UpdateExpression": "SET #media = :m, #updated = :at",
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": encode(values),
        }

    def media_waiting(self, instance: str, *, before: str, limit: int) -> list[str]:
        response = self._call(
            "query",
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=encode({":pk": f"MEDIAWAIT#{instance}"}),
            ConsistentRead=True,
            Limit=max(1, limit),
        )
        items = [decode(i) for i in response.get("Items", [])]
        items = [i for i in items if str(i.get("created_at", "")) < before]
        items.sort(key=lambda i: (str(i.get("created_at", "")), str(i["sk"])))
        return [str(i["sk"]) for i in items[:limit]]
