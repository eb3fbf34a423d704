"""Shared test fixtures: paths to the vendored Evolution contract and a schema validator."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
CONTRACT = REPO / "contract" / "evolution"
SCHEMAS = CONTRACT / "schemas"
WEBHOOKS = CONTRACT / "webhooks"


@cache
def _schema(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SCHEMAS / f"{name}.json").read_text())
    return data


def validate_evolution_body(schema_name: str, body: Any) -> None:
    """Fail the test when ``body`` does not validate against Evolution's schema ``schema_name``."""
    import jsonschema

    jsonschema.Draft7Validator(_schema(schema_name)).validate(body)


def load_webhook(name: str) -> dict[str, Any]:
    """A webhook fixture by file stem, e.g. ``messages.update.read``."""
    data: dict[str, Any] = json.loads((WEBHOOKS / f"{name}.json").read_text())
    return data


@pytest.fixture
def webhook_fixture_names() -> list[str]:
    return sorted(p.stem for p in WEBHOOKS.glob("*.json"))
