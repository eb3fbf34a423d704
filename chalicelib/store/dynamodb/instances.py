"""Instance state on DynamoDB: one item per instance (``INST#<instance>``), merged by one update."""

from __future__ import annotations

from typing import Any

from chalicelib.clock import now_iso
from chalicelib.events.types import session_event
from chalicelib.models.records import InstanceState
from chalicelib.store.dynamodb.codec import decode, encode
from chalicelib.store.dynamodb.core import ConditionFailedError
from chalicelib.store.dynamodb.events import DynamoDBOutbox
from chalicelib.store.dynamodb.table import model_fields
from chalicelib.store.rules import check_instance_fields

STATE_ATTEMPTS = 5  # optimistic tries of one state change against concurrent ones


def instance_key(instance: str) -> dict[str, str]:
    """The item key of an instance's state (no TTL: the health job's memory must survive quiet
    months)."""
    return {"pk": f"INST#{instance}", "sk": "STATE"}


class DynamoDBInstances(DynamoDBOutbox):
    """:class:`chalicelib.store.base.InstanceStore` on DynamoDB."""

    def get_instance_state(self, instance: str) -> InstanceState | None:
        item = self._get(instance_key(instance))
        return InstanceState.model_validate(model_fields(item)) if item is not None else None

    def update_instance_state(self, instance: str, **fields: Any) -> InstanceState:
        check_instance_fields(instance, fields)
        if "state" in fields:
            for _ in range(STATE_ATTEMPTS):
                changed = self._change_state(instance, fields)
                if changed is not None:
                    return changed
        return self._merge(instance, fields)

    def _change_state(self, instance: str, fields: dict[str, Any]) -> InstanceState | None:
        """When ``fields`` change the session's state: the update and its ``session.state`` event
        in one transaction, conditioned on the state read before it. None: the state moved
        meanwhile (try again)."""
        current = self.get_instance_state(instance)
        before = current.model_dump() if current is not None else {"instance": instance}
        after = InstanceState.model_validate({**before, **fields})
        previous = current.state if current is not None else None
        if after.state == (previous or "unknown"):
            return self._merge(instance, fields)
        update = self._update_args(instance, fields)
        if previous is None:
            update["ConditionExpression"] = "attribute_not_exists(#state)"
        else:
            update["ConditionExpression"] = "#state = :previous"
            update["ExpressionAttributeValues"] = encode(
                {**decode(update["ExpressionAttributeValues"]), ":previous": previous}
            )
        update["ExpressionAttributeNames"]["#state"] = "state"
        event = session_event(instance, after.state, previous, at=now_iso())
        try:
            self._transact([{"Update": {"TableName": self.table_name, **update}}, *self._event_items(event)])
        except ConditionFailedError:
            return None
        return after

    def _update_args(self, instance: str, fields: dict[str, Any]) -> dict[str, Any]:
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
        return {
            "Key": encode(instance_key(instance)),
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": encode(values),
        }

    def _merge(self, instance: str, fields: dict[str, Any]) -> InstanceState:
        response = self._call("update_item", **self._update_args(instance, fields), ReturnValues="ALL_NEW")
        return InstanceState.model_validate(model_fields(decode(response["Attributes"])))
