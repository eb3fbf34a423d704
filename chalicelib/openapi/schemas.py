"""The schemas of the OpenAPI document: pydantic models (named or given) rendered once, with the
cross-field rules their validators check, and docstrings turned into Markdown descriptions."""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

REF = "#/components/schemas/{model}"

# Cross-field rules the request models check in validators, stated for clients and generators.
_SCHEMA_RULES: dict[str, dict[str, Any]] = {
    "SendMessageRequest": {
        "oneOf": [{"required": [name]} for name in ("text", "media", "location", "reaction")],
    },
    "MediaIn": {"oneOf": [{"required": ["url"]}, {"required": ["base64"]}]},
}


def resolve(model: type[BaseModel] | str) -> type[BaseModel]:
    """A model given as itself or named ``"module.Class"`` under :mod:`chalicelib.models`."""
    if not isinstance(model, str):
        return model
    module, _, name = model.rpartition(".")
    found = getattr(importlib.import_module(f"chalicelib.models.{module}"), name, None)
    if not (isinstance(found, type) and issubclass(found, BaseModel)):
        raise LookupError(f"{model!r} names no model of chalicelib.models")
    return found


def first_line(text: str | None) -> str:
    """A docstring's first line, as Markdown without its final period."""
    line = text.strip().splitlines()[0] if text and text.strip() else ""
    return _markdown(line).rstrip(".")


def _markdown(text: str) -> str:
    return text.replace("``", "`")


def _markdown_descriptions(schema: Any) -> Any:
    """Docstrings become descriptions: turn their reST ````code```` into Markdown ```code```."""
    if isinstance(schema, dict):
        return {
            k: _markdown(v) if k == "description" and isinstance(v, str) else _markdown_descriptions(v)
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_markdown_descriptions(v) for v in schema]
    return schema


class Schemas:
    """Collects the models an operation refers to; :meth:`components` renders them all at once."""

    def __init__(self) -> None:
        self._models: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {}

    def ref(self, model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, Any]:
        self._models[(model, mode)] = None
        return {"$ref": REF.format(model=model.__name__)}

    def components(self) -> dict[str, Any]:
        keys = list(self._models)
        refs, top = models_json_schema(keys, ref_template=REF)
        defs: dict[str, Any] = dict(top.get("$defs", {}))
        for key, ref in refs.items():
            name = key[0].__name__
            if ref.get("$ref") != REF.format(model=name):
                raise ValueError(f"schema name clash for {name}: {ref}")
        for name, rule in _SCHEMA_RULES.items():
            if name in defs:
                defs[name] = {**defs[name], **rule}
        result: dict[str, Any] = _markdown_descriptions(dict(sorted(defs.items())))
        return result
