"""Request bodies validated against the contract's schemas, with messages in the npm jsonschema style."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped]

_IDENTIFIER = re.compile(r"^[a-zA-Z_$][a-zA-Z0-9_$]*$")


def _js_value(value: Any) -> str:
    """``String(value)`` in JavaScript for the scalars that appear in enums."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    return str(value)


def _property(path: Iterable[Any]) -> str:
    """npm jsonschema's ``property``: ``instance.key.id``, ``instance.mentioned[0]``."""
    text = "instance"
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _IDENTIFIER.match(part):
            text += f".{part}"
        else:
            text += f"[{json.dumps(part)}]"
    return text


def _message(error: ValidationError) -> str:
    """npm jsonschema's ``message`` for the keywords the contract's schemas use."""
    value = error.validator_value
    match error.validator:
        case "required":
            missing = re.findall(r"'([^']*)' is a required property", error.message)
            return f'requires property "{missing[0] if missing else value}"'
        case "type":
            types = value if isinstance(value, list) else [value]
            return "is not of a type(s) " + ",".join(types)
        case "enum":
            return "is not one of enum values: " + ",".join(_js_value(v) for v in value)
        case "minLength" | "minItems":
            return f"does not meet minimum length of {value}"
        case "maxLength" | "maxItems":
            return f"does not meet maximum length of {value}"
        case "uniqueItems":
            return "contains duplicate item"
        case "pattern":
            return f"does not match pattern {json.dumps(value)}"
        case "minimum":
            return f"must be greater than or equal to {value}"
        case _:
            return str(error.message)


def evolution_messages(errors: Iterable[ValidationError]) -> list[str]:
    """One string per error: the failing subschema's ``description``, else the ``stack`` text
    with its first ``instance.`` removed (exactly what Evolution's ``dataValidate`` does)."""
    messages = []
    for error in errors:
        description = error.schema.get("description") if isinstance(error.schema, dict) else None
        if description:
            messages.append(str(description))
            continue
        stack = f"{_property(error.path)} {_message(error)}"
        messages.append(stack.replace("instance.", "", 1))
    return messages


class SchemaRegistry:
    """The contract's Draft-7 request schemas, loaded once at startup."""

    def __init__(self, directory: Path, *extra: Path) -> None:
        self._validators: dict[str, jsonschema.Draft7Validator] = {}
        for path in sorted(directory.glob("*.json")):
            schema = json.loads(path.read_text(encoding="utf-8"))
            self._validators[path.stem] = jsonschema.Draft7Validator(schema)
        if not self._validators:
            raise FileNotFoundError(f"no request schemas found in {directory}")
        for folder in extra:
            for path in sorted(folder.glob("*.json")):
                schema = json.loads(path.read_text(encoding="utf-8"))
                self._validators.setdefault(path.stem, jsonschema.Draft7Validator(schema))

    def errors(self, name: str, body: Any) -> list[str]:
        """Evolution-style messages for ``body`` against schema ``name`` (empty when valid)."""
        return evolution_messages(self._validators[name].iter_errors(body))
