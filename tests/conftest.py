"""Shared test fixtures: paths to the vendored Evolution contract and a schema validator."""

from __future__ import annotations

import json
from collections.abc import Iterator
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


EVOLUTION_URL = "http://evolution.test"
API_KEY = "test-api-key-0001"
SECOND_API_KEY = "test-api-key-0002"
WEBHOOK_SECRET = "test-webhook-secret-0001"
INSTANCE = "test-instance"
EVENTS_SIGNING_KEY = "test-events-signing-key-0001-0002-0003"


@pytest.fixture
def service_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A complete, valid environment for the service, with a fresh SQLite store under tmp_path."""
    import hashlib

    from chalicelib import deps

    monkeypatch.chdir(tmp_path)  # no developer .env leaks into the tests
    for name in (
        "SSM_PARAMETER_PREFIX",
        "ALERT_TOPIC_ARN",
        "DEFAULT_COUNTRY",
        "AUTO_RESTART",
        "JOBS_QUEUE_URL",
        "LOCAL_WORKER",
        "EVENTS_RETRY_SCALE",
        "EVENTS_DELIVERY_TIMEOUT",
    ):
        monkeypatch.delenv(name, raising=False)
    second = "sha256:" + hashlib.sha256(SECOND_API_KEY.encode()).hexdigest()
    values = {
        "EVOLUTION_API_URL": EVOLUTION_URL,
        "EVOLUTION_API_KEY": "evolution-global-key",
        "INSTANCE_NAME": INSTANCE,
        "API_KEYS": f"{API_KEY},{second}",
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "PUBLIC_BASE_URL": "https://service.test",
        "STORE_URL": f"sqlite:///{tmp_path}/store.db",
        "STAGE": "dev",
        "EVOLUTION_CONNECT_TIMEOUT": "0.5",
        "EVOLUTION_READ_TIMEOUT": "2",
        "EVOLUTION_SEND_TIMEOUT": "2",
        "EVENTS_SIGNING_KEY": EVENTS_SIGNING_KEY,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    deps.reset()
    yield tmp_path
    deps.reset()


@pytest.fixture
def api(service_env: Path) -> Iterator[Any]:
    """A ``chalice.test.Client`` over the app (authorizer included)."""
    from chalice.test import Client

    from app import app

    with Client(app, stage_name="dev", project_dir=str(REPO)) as client:
        yield client


@pytest.fixture
def evolution() -> Iterator[Any]:
    """Evolution API mocked with ``responses``; every registered call must be made."""
    import responses

    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


def auth(key: str = API_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


@pytest.fixture(autouse=True)
def _capture_library_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """chalicelib's loggers stop propagating once the JSON logger is set up; let caplog see them."""
    import logging

    library = logging.getLogger("chalicelib")
    library.addHandler(caplog.handler)
    yield
    library.removeHandler(caplog.handler)
