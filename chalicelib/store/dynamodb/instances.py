"""Instance state on DynamoDB: one item per instance (``INST#<instance>``), merged by one update."""

from __future__ import annotations

from typing import Any

from chalicelib.models.records import InstanceState
from chalicelib.store.dynamodb.codec import decode, encode
from chalicelib.store.dynamodb.core import DynamoDBCore
from chalicelib.store.dynamodb.table import model_fields
from chalicelib.store.rules import check_instance_fields


def instance_key(instance: str) -> dict[str, str]:
    """The item key of an instance's state (no TTL: the health job's memory must survive quiet
    months)."""
    return {"pk": f"INST#{instance}", "sk": "STATE"}


class DynamoDBInstances(DynamoDBCore):
    """:class:`chalicelib.store.base.InstanceStore` on DynamoDB."""

    def get_instance_state(self, instance: str) -> InstanceState | None:
        item = self._get(instance_key(instance))
        return InstanceState.model_validate(model_fields(item)) if item is not None else None

    def update_instance_state(self, instance: str, **fields: Any) -> InstanceState:
        check_instance_fields(instance, fields)
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
            Key=encode(instance_key(instance)),
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=encode(values),
            ReturnValues="ALL_NEW",
        )
        return InstanceState.model_validate(model_fields(decode(response["Attributes"])))
