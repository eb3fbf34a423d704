"""Broadcasts, their recipients and suppressions on DynamoDB (prefixes ``BC``, ``BCR``, ``SUP``).

    pk                      sk              item
    BC#<instance>           <broadcast id>  the Broadcast fields (None omitted); counts a map
    BCR#<broadcast id>      <index:06d>     a recipient (the BroadcastRecipient fields)
    SUP#<instance>          <E.164>         a suppression (the Suppression fields)

Recipients are written with ``TransactWriteItems`` of 100 (the item actions suffice; no
``BatchWriteItem`` grant). A recipient's move and its broadcast's counts are one transaction;
every other broadcast change is an ``UpdateItem`` of the fields it sets, conditioned on the status
(or the lease), so it never overwrites the counts.
"""

from __future__ import annotations

from typing import Any

from chalicelib.events.types import Event
from chalicelib.models.broadcasts import Broadcast, BroadcastRecipient, Suppression, counted
from chalicelib.store.dynamodb.codec import decode, encode
from chalicelib.store.dynamodb.core import ConditionFailedError
from chalicelib.store.dynamodb.events import DynamoDBOutbox
from chalicelib.store.dynamodb.table import model_fields
from chalicelib.store.rules import broadcast_fields, decode_cursor, encode_cursor, recipient_cursor

TRANSACTION_ITEMS = 100
MAX_PAGES = 200


def _recipient_key(broadcast_id: str, index: int) -> dict[str, str]:
    return {"pk": f"BCR#{broadcast_id}", "sk": f"{index:06d}"}


class DynamoDBBroadcasts(DynamoDBOutbox):
    """:class:`chalicelib.store.base.BroadcastStore` and ``ConsentStore`` on DynamoDB."""

    # -- broadcasts ------------------------------------------------------------------------------

    def create_broadcast(self, broadcast: Broadcast, recipients: list[BroadcastRecipient]) -> None:
        final = broadcast.status
        first = broadcast.model_copy(update={"status": "creating"})
        self._call(
            "put_item",
            Item=encode(self._broadcast_item(first)),
            ConditionExpression="attribute_not_exists(pk)",
        )
        items = [
            self._put({**_recipient_key(r.broadcast_id, r.index), **r.model_dump(exclude_none=True)}, None)
            for r in recipients
        ]
        for start in range(0, len(items), TRANSACTION_ITEMS):
            self._transact(items[start : start + TRANSACTION_ITEMS])
        self._call(
            "update_item",
            **self._update(
                broadcast.instance, broadcast.id, {"status": final}, condition_status=("creating",)
            ),
        )

    def _broadcast_item(self, broadcast: Broadcast) -> dict[str, Any]:
        return {
            "pk": f"BC#{broadcast.instance}",
            "sk": broadcast.id,
            **broadcast.model_dump(exclude_none=True),
        }

    def get_broadcast(self, instance: str, broadcast_id: str) -> Broadcast | None:
        item = self._get({"pk": f"BC#{instance}", "sk": broadcast_id})
        return Broadcast.model_validate(model_fields(item)) if item is not None else None

    def list_broadcasts(
        self, instance: str, *, after: str | None = None, limit: int = 50
    ) -> tuple[list[Broadcast], str | None]:
        before = decode_cursor(after, prefix="bc_") if after else None
        items: list[Broadcast] = []
        query: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk" + (" AND sk < :before" if before else ""),
            "ExpressionAttributeValues": encode(
                {":pk": f"BC#{instance}", **({":before": before} if before else {})}
            ),
            "ScanIndexForward": False,
            "ConsistentRead": True,
        }
        more = False
        for _ in range(MAX_PAGES):
            response = self._call("query", Limit=limit + 1, **query)
            for raw in response.get("Items", []):
                broadcast = Broadcast.model_validate(model_fields(decode(raw)))
                if broadcast.status == "creating":
                    continue
                if len(items) == limit:
                    more = True
                    break
                items.append(broadcast)
            if more or "LastEvaluatedKey" not in response:
                break
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return items, encode_cursor(items[-1].id) if more else None

    def _update(
        self,
        instance: str,
        broadcast_id: str,
        fields: dict[str, Any],
        *,
        condition_status: tuple[str, ...] | None = None,
        condition: str | None = None,
        values: dict[str, Any] | None = None,
        remove: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """The arguments of an ``UpdateItem`` setting ``fields`` (None removes) under a condition."""
        names: dict[str, str] = {}
        attrs: dict[str, Any] = dict(values or {})
        sets: list[str] = []
        removes = list(remove)
        for n, (name, value) in enumerate(fields.items()):
            if value is None:
                removes.append(name)
                continue
            names[f"#f{n}"] = name
            attrs[f":f{n}"] = value
            sets.append(f"#f{n} = :f{n}")
        clauses = ["attribute_exists(pk)"]
        if condition_status is not None:
            keys = [f":s{n}" for n in range(len(condition_status))]
            attrs.update(dict(zip(keys, condition_status, strict=True)))
            names["#status"] = "status"
            clauses.append(f"#status IN ({', '.join(keys)})")
        if condition:
            clauses.append(condition)
        expression = ""
        if sets:
            expression += "SET " + ", ".join(sets)
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        update: dict[str, Any] = {
            "Key": encode({"pk": f"BC#{instance}", "sk": broadcast_id}),
            "UpdateExpression": expression.strip(),
            "ConditionExpression": " AND ".join(clauses),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": encode(attrs),
        }
        return update

    def update_broadcast(
        self,
        instance: str,
        broadcast_id: str,
        *,
        expect: tuple[str, ...],
        event: Event | None = None,
        **fields: Any,
    ) -> Broadcast | None:
        update = self._update(instance, broadcast_id, broadcast_fields(fields), condition_status=expect)
        try:
            if event is None:
                response = self._call("update_item", **update, ReturnValues="ALL_NEW")
                return Broadcast.model_validate(model_fields(decode(response["Attributes"])))
            self._transact([{"Update": {"TableName": self.table_name, **update}}, *self._event_items(event)])
        except ConditionFailedError:
            return None
        return self.get_broadcast(instance, broadcast_id)

    def claim_slot(
        self,
        instance: str,
        broadcast_id: str,
        *,
        now: float,
        lease_until: float,
        token: str,
        next_send_at: float,
    ) -> Broadcast | None:
        update = self._update(
            instance,
            broadcast_id,
            {"lease_until": lease_until, "lease_token": token, "next_send_at": next_send_at},
            condition_status=("running",),
            condition="next_send_at <= :now AND (attribute_not_exists(lease_until) OR lease_until <= :now)",
            values={":now": now},
        )
        try:
            response = self._call("update_item", **update, ReturnValues="ALL_NEW")
        except ConditionFailedError:
            return None
        return Broadcast.model_validate(model_fields(decode(response["Attributes"])))

    def release_slot(self, instance: str, broadcast_id: str, *, token: str, **fields: Any) -> bool:
        update = self._update(
            instance,
            broadcast_id,
            broadcast_fields(fields),
            condition="lease_token = :token",
            values={":token": token},
            remove=("lease_until", "lease_token"),
        )
        try:
            self._call("update_item", **update)
        except ConditionFailedError:
            return False
        return True

    # -- recipients ------------------------------------------------------------------------------

    def get_recipient(self, broadcast_id: str, index: int) -> BroadcastRecipient | None:
        item = self._get(_recipient_key(broadcast_id, index))
        return BroadcastRecipient.model_validate(model_fields(item)) if item is not None else None

    def _recipients(
        self, broadcast_id: str, start: int, *, limit: int, status: str | None
    ) -> tuple[list[BroadcastRecipient], bool]:
        statuses = {"queued", "sending"} if status == "queued" else {status}
        out: list[BroadcastRecipient] = []
        query: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND sk >= :from",
            "ExpressionAttributeValues": encode({":pk": f"BCR#{broadcast_id}", ":from": f"{start:06d}"}),
            "ConsistentRead": True,
        }
        for _ in range(MAX_PAGES):
            response = self._call("query", Limit=max(limit + 1, 100), **query)
            for raw in response.get("Items", []):
                recipient = BroadcastRecipient.model_validate(model_fields(decode(raw)))
                if status is not None and recipient.status not in statuses:
                    continue
                if len(out) == limit:
                    return out, True
                out.append(recipient)
            if "LastEvaluatedKey" not in response:
                break
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return out, False

    def recipients_from(self, broadcast_id: str, index: int, *, limit: int) -> list[BroadcastRecipient]:
        return self._recipients(broadcast_id, index, limit=limit, status=None)[0]

    def list_recipients(
        self, broadcast_id: str, *, status: str | None = None, after: str | None = None, limit: int = 50
    ) -> tuple[list[BroadcastRecipient], str | None]:
        start = recipient_cursor(after) if after else 0
        items, more = self._recipients(broadcast_id, start, limit=limit, status=status)
        return items, encode_cursor(f"r_{items[-1].index + 1}") if more and items else None

    def transition_recipient(
        self, instance: str, broadcast_id: str, index: int, *, old: str, new: str, **fields: Any
    ) -> bool:
        names = {"#status": "status"}
        values: dict[str, Any] = {":old": old, ":new": new}
        sets = ["#status = :new"]
        for n, (name, value) in enumerate(fields.items()):
            names[f"#f{n}"] = name
            values[f":f{n}"] = value
            sets.append(f"#f{n} = :f{n}")
        operations: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": encode(_recipient_key(broadcast_id, index)),
                    "UpdateExpression": "SET " + ", ".join(sets),
                    "ConditionExpression": "#status = :old",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": encode(values),
                }
            }
        ]
        if counted(old) != counted(new):
            operations.append(
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": encode({"pk": f"BC#{instance}", "sk": broadcast_id}),
                        "UpdateExpression": "SET counts.#o = counts.#o - :one, counts.#n = counts.#n + :one",
                        "ExpressionAttributeNames": {"#o": counted(old), "#n": counted(new)},
                        "ExpressionAttributeValues": encode({":one": 1}),
                    }
                }
            )
        try:
            self._transact(operations)
        except ConditionFailedError:
            return False
        return True

    # -- suppressions ----------------------------------------------------------------------------

    def suppress(self, suppression: Suppression, *, event: Event | None) -> bool:
        item = {
            "pk": f"SUP#{suppression.instance}",
            "sk": suppression.to,
            **suppression.model_dump(exclude_none=True),
        }
        try:
            self._transact([self._put(item), *(self._event_items(event) if event is not None else [])])
        except ConditionFailedError:
            return False
        return True

    def unsuppress(self, instance: str, to: str, *, event: Event | None) -> bool:
        delete = {
            "Delete": {
                "TableName": self.table_name,
                "Key": encode({"pk": f"SUP#{instance}", "sk": to}),
                "ConditionExpression": "attribute_exists(pk)",
            }
        }
        try:
            self._transact([delete, *(self._event_items(event) if event is not None else [])])
        except ConditionFailedError:
            return False
        return True

    def get_suppression(self, instance: str, to: str) -> Suppression | None:
        item = self._get({"pk": f"SUP#{instance}", "sk": to})
        return Suppression.model_validate(model_fields(item)) if item is not None else None

    def list_suppressions(
        self, instance: str, *, after: str | None = None, limit: int = 50
    ) -> tuple[list[Suppression], str | None]:
        before = decode_cursor(after, prefix="sup_").removeprefix("sup_") if after else "\uffff"
        every: list[Suppression] = []
        query: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": encode({":pk": f"SUP#{instance}"}),
            "ConsistentRead": True,
        }
        for _ in range(MAX_PAGES):
            response = self._call("query", **query)
            every.extend(
                Suppression.model_validate(model_fields(decode(i))) for i in response.get("Items", [])
            )
            if "LastEvaluatedKey" not in response:
                break
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        ordered = sorted(
            (s for s in every if f"{s.created_at}|{s.to}" < before),
            key=lambda s: (s.created_at, s.to),
            reverse=True,
        )
        items = ordered[:limit]
        cursor = encode_cursor(f"sup_{items[-1].created_at}|{items[-1].to}") if len(ordered) > limit else None
        return items, cursor

    def note_inbound(self, instance: str, to: str, *, at: str) -> None:
        try:
            self._call(
                "update_item",
                Key=encode({"pk": f"SUP#{instance}", "sk": to}),
                UpdateExpression="SET last_inbound_at = :at",
                ConditionExpression="attribute_exists(pk)"
                " AND (attribute_not_exists(last_inbound_at) OR last_inbound_at < :at)",
                ExpressionAttributeValues=encode({":at": at}),
            )
        except ConditionFailedError:
            return
