"""Python values to DynamoDB attribute values and back (floats travel as Decimal)."""

from __future__ import annotations

import math
from decimal import Decimal
from functools import cache
from typing import Any


def to_dynamo(value: Any) -> Any:
    """``value`` with every float turned into a Decimal (DynamoDB rejects floats)."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("DynamoDB cannot store NaN or infinity")
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_dynamo(v) for v in value]
    return value


def from_dynamo(value: Any) -> Any:
    """``value`` with every Decimal turned back into an int (when whole) or a float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_dynamo(v) for v in value]
    return value


@cache
def _serializers() -> tuple[Any, Any]:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer  # noqa: PLC0415 -- lazily

    return TypeSerializer(), TypeDeserializer()


def encode(item: dict[str, Any]) -> dict[str, Any]:
    """A plain dict as a low-level DynamoDB item (``{"name": {"S": ...}}``)."""
    serializer, _ = _serializers()
    return {k: serializer.serialize(to_dynamo(v)) for k, v in item.items()}


def decode(item: dict[str, Any]) -> dict[str, Any]:
    """A low-level DynamoDB item as a plain dict of Python values."""
    _, deserializer = _serializers()
    return {k: from_dynamo(deserializer.deserialize(v)) for k, v in item.items()}
