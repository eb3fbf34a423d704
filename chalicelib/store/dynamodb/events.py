"""Pushed events on DynamoDB (prefixes ``EVT``, ``OUTBOX``, ``DST``, ``DLV``).

    pk                      sk          item
    EVT#<instance>          <event id>  an event: type, created_at, instance, data, expires_at
    OUTBOX#<instance>       <event id>  an event not yet fanned out (deleted once it is)
    DST#<instance>          <dst id>    a destination (the Destination fields)
    DSTID#<dst id>          DSTID       the destination's instance (written and deleted with it)
    DLV#<destination id>    <event id>  a delivery (the Delivery fields, instance, expires_at); while
                                        pending also gsi1pk = DUE#<instance>, gsi1sk =
                                        <next_attempt_at>#<dst id>#<event id> (the sweeper's index)

:class:`DynamoDBOutbox` is what other concerns' writes use: ``_event_items`` are the two ``Put``s
an event adds to the ``TransactWriteItems`` of the change it reports.
"""

from __future__ import annotations

from typing import Any

from chalicelib.clock import now_iso
from chalicelib.events.types import Event
from chalicelib.models.events import Delivery, Destination
from chalicelib.store.dynamodb.codec import decode, encode
from chalicelib.store.dynamodb.core import ConditionFailedError, DynamoDBCore
from chalicelib.store.dynamodb.table import LIST_INDEX, TTL_ATTRIBUTE, model_fields
from chalicelib.store.rules import decode_cursor, encode_cursor, expires_at

MAX_QUERY_PAGES = 50


class DynamoDBOutbox(DynamoDBCore):
    """Event items, for other concerns' transactions."""

    def _event_items(self, event: Event, *, dispatched: bool = False) -> list[dict[str, Any]]:
        ttl = expires_at(event.created_at, self._retention_days)
        item: dict[str, Any] = {"pk": f"EVT#{event.instance}", "sk": event.id, **event.model_dump()}
        item[TTL_ATTRIBUTE] = ttl
        items = [self._put(item)]
        if not dispatched:
            items.append(self._put({"pk": f"OUTBOX#{event.instance}", "sk": event.id, TTL_ATTRIBUTE: ttl}))
        return items


class DynamoDBEvents(DynamoDBOutbox):
    """:class:`chalicelib.store.base.EventStore` on DynamoDB."""

    def _query_all(self, limit: int | None = None, **query: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for _ in range(MAX_QUERY_PAGES):
            response = self._call("query", **query)
            items.extend(decode(i) for i in response.get("Items", []))
            if "LastEvaluatedKey" not in response or (limit is not None and len(items) >= limit):
                break
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return items[:limit] if limit is not None else items

    # -- events --------------------------------------------------------------------------------

    def add_event(self, event: Event, *, dispatched: bool = False) -> None:
        self._transact(self._event_items(event, dispatched=dispatched))

    def get_event(self, instance: str, event_id: str) -> Event | None:
        item = self._get({"pk": f"EVT#{instance}", "sk": event_id})
        return Event.model_validate(model_fields(item)) if item is not None else None

    def events_since(self, instance: str, since_id: str, *, limit: int) -> list[Event]:
        items = self._query_all(
            limit,
            KeyConditionExpression="pk = :pk AND sk >= :since",
            ExpressionAttributeValues=encode({":pk": f"EVT#{instance}", ":since": since_id}),
            ConsistentRead=True,
        )
        return [Event.model_validate(model_fields(i)) for i in items]

    def undispatched_events(self, instance: str, *, limit: int) -> list[Event]:
        markers = self._query_all(
            limit,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=encode({":pk": f"OUTBOX#{instance}"}),
            ConsistentRead=True,
            Limit=limit,
        )
        events = [self.get_event(instance, str(m["sk"])) for m in markers]
        for marker, event in zip(markers, events, strict=True):
            if event is None:  # expired under its marker: nothing left to relay
                self.mark_dispatched(instance, str(marker["sk"]))
        return [e for e in events if e is not None]

    def mark_dispatched(self, instance: str, *event_ids: str) -> None:
        for event_id in event_ids:
            self._call("delete_item", Key=encode({"pk": f"OUTBOX#{instance}", "sk": event_id}))

    # -- destinations --------------------------------------------------------------------------

    def put_destination(self, destination: Destination, *, limit: int) -> bool:
        if len(self.list_destinations(destination.instance)) >= limit:
            return False
        item = {"pk": f"DST#{destination.instance}", "sk": destination.id, **destination.model_dump()}
        pointer = {"pk": f"DSTID#{destination.id}", "sk": "DSTID", "instance": destination.instance}
        self._transact([self._put(item), self._put(pointer)])
        return True

    def get_destination(self, instance: str, destination_id: str) -> Destination | None:
        item = self._get({"pk": f"DST#{instance}", "sk": destination_id})
        return Destination.model_validate(model_fields(item)) if item is not None else None

    def list_destinations(self, instance: str) -> list[Destination]:
        items = self._query_all(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=encode({":pk": f"DST#{instance}"}),
            ConsistentRead=True,
        )
        return [Destination.model_validate(model_fields(i)) for i in items]

    def delete_destination(self, instance: str, destination_id: str) -> bool:
        old = self._call(
            "delete_item",
            Key=encode({"pk": f"DST#{instance}", "sk": destination_id}),
            ReturnValues="ALL_OLD",
        ).get("Attributes")
        if old:
            self._call("delete_item", Key=encode({"pk": f"DSTID#{destination_id}", "sk": "DSTID"}))
        deliveries = self._query_all(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=encode({":pk": f"DLV#{destination_id}"}),
            ProjectionExpression="pk, sk",
        )
        for item in deliveries:
            self._call("delete_item", Key=encode({"pk": item["pk"], "sk": item["sk"]}))
        return bool(old)

    def disable_destination(self, instance: str, destination_id: str, *, reason: str) -> None:
        try:
            self._call(
                "update_item",
                Key=encode({"pk": f"DST#{instance}", "sk": destination_id}),
                UpdateExpression="SET #enabled = :f, #reason = :r, #updated = :at",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={
                    "#enabled": "enabled",
                    "#reason": "disabled_reason",
                    "#updated": "updated_at",
                },
                ExpressionAttributeValues=encode({":f": False, ":r": reason, ":at": now_iso()}),
            )
        except ConditionFailedError:
            return  # deleted meanwhile

    # -- deliveries ----------------------------------------------------------------------------

    def _delivery_item(self, delivery: Delivery, instance: str) -> dict[str, Any]:
        item = {k: v for k, v in delivery.model_dump().items() if v is not None}
        item |= {"pk": f"DLV#{delivery.destination_id}", "sk": delivery.event_id, "instance": instance}
        item[TTL_ATTRIBUTE] = expires_at(delivery.created_at, self._retention_days)
        if delivery.status == "pending" and delivery.next_attempt_at is not None:
            # sparse: only pending deliveries are in the sweeper's index partition
            item["gsi1pk"] = f"DUE#{instance}"
            item["gsi1sk"] = f"{delivery.next_attempt_at}#{delivery.destination_id}#{delivery.event_id}"
        return item

    def open_delivery(self, delivery: Delivery) -> bool:
        owner = self._owner(delivery.destination_id)
        if owner is None:
            return False  # the destination is gone
        try:
            self._call("put_item", **self._put(self._delivery_item(delivery, owner))["Put"])
        except ConditionFailedError:
            return False
        return True

    def _owner(self, destination_id: str) -> str | None:
        """The instance a destination belongs to (its id is unique; the index of destinations is
        the ``DSTID#`` pointer written with it)."""
        pointer = self._get({"pk": f"DSTID#{destination_id}", "sk": "DSTID"})
        return str(pointer["instance"]) if pointer is not None else None

    def get_delivery(self, destination_id: str, event_id: str) -> Delivery | None:
        item = self._get({"pk": f"DLV#{destination_id}", "sk": event_id})
        return _delivery(item) if item is not None else None

    def record_attempt(self, delivery: Delivery, *, token: int, any_status: bool = False) -> bool:
        owner = self._owner(delivery.destination_id)
        if owner is None:
            return False
        condition = "attribute_exists(pk) AND #token = :token"
        names = {"#token": "token"}
        values: dict[str, Any] = {":token": token}
        if not any_status:
            condition += " AND #status = :pending"
            names["#status"] = "status"
            values[":pending"] = "pending"
        try:
            self._call(
                "put_item",
                Item=encode(self._delivery_item(delivery, owner)),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=encode(values),
            )
        except ConditionFailedError:
            return False
        return True

    def list_deliveries(
        self, destination_id: str, *, status: str | None = None, after: str | None = None, limit: int = 50
    ) -> tuple[list[Delivery], str | None]:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        values: dict[str, Any] = {":pk": f"DLV#{destination_id}"}
        condition = "pk = :pk"
        if after is not None:
            condition += " AND sk < :after"
            values[":after"] = decode_cursor(after, prefix="evt_")
        query: dict[str, Any] = {"KeyConditionExpression": condition, "ScanIndexForward": False}
        if status is not None:
            query["FilterExpression"] = "#status = :s"
            query["ExpressionAttributeNames"] = {"#status": "status"}
            values[":s"] = status
        query["ExpressionAttributeValues"] = encode(values)
        items = self._query_all(limit + 1, **query)
        deliveries = [_delivery(i) for i in items]
        page = deliveries[:limit]
        return page, encode_cursor(page[-1].event_id) if len(deliveries) > limit else None

    def overdue_deliveries(self, instance: str, *, before: str, limit: int) -> list[Delivery]:
        items = self._query_all(
            limit,
            IndexName=LIST_INDEX,
            KeyConditionExpression="gsi1pk = :due AND gsi1sk < :before",
            ExpressionAttributeValues=encode({":due": f"DUE#{instance}", ":before": before}),
        )
        return [_delivery(i) for i in items if i.get("status") == "pending"]


def _delivery(item: dict[str, Any]) -> Delivery:
    fields = model_fields(item)
    fields.pop("instance", None)
    return Delivery.model_validate(fields)
