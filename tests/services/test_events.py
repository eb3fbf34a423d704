"""EventService: who may be a destination (dev and prod policies), the secret shown once, replay
selection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chalicelib import errors
from chalicelib.events.dispatch import Dispatcher
from chalicelib.events.signing import destination_secret
from chalicelib.models.events import CreateDestination, ReplayRequest
from chalicelib.services.events import EventService, _instant, destination_policy
from chalicelib.settings import load_settings
from chalicelib.store.sqlite import SQLiteStore
from tests.jobs.fakes import ListTransport

KEY = "events-signing-key-for-the-service-tests"


def service(tmp_path: Path, *, stage: str = "dev", allowlist: str = "", resolve: Any = None) -> EventService:
    secrets = {
        "EVOLUTION_API_KEY": "Zq7pR2vK9mW4tX8bN3cF6hJ1sD5gL0aY",
        "API_KEYS": "Hj5sD0gL2aY7uE4wQ9tMZq7pR2vK9mW4",
    }
    settings = load_settings(
        EVOLUTION_API_URL="https://evolution.test",
        INSTANCE_NAME="svc",
        WEBHOOK_SECRET="Pc8vB1nR6kT3yU0iO5qAHj5sD0gL2aY7",
        EVENTS_SIGNING_KEY="Tn4bX8qW2eR6yU1iO9pAsD3fG7hJ5kL0" if stage == "prod" else KEY,
        STAGE=stage,
        URL_ALLOWLIST=allowlist,
        **secrets,
    )
    store = SQLiteStore(str(tmp_path / "s.db"))
    dispatcher = Dispatcher(
        store=store,
        instance="svc",
        transport=ListTransport(),
        signing_key=settings.events_signing_key,
        policy=lambda: destination_policy(settings),
    )
    return EventService(store=store, dispatcher=dispatcher, settings=settings, resolve=resolve)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9000/h", "http://localhost/h", "https://10.1.2.3/h", "https://169.254.169.254/latest"],
)
def test_prod_refuses_loopback_private_and_link_local_targets(tmp_path: Path, url: str) -> None:
    with pytest.raises(errors.ValidationError) as refused:
        service(tmp_path, stage="prod").create(CreateDestination(url=url))

    assert refused.value.details[0]["loc"] == ["url"]


def test_prod_refuses_a_name_that_resolves_to_a_private_address_unless_allowlisted(tmp_path: Path) -> None:
    private = lambda host: ["10.0.0.7"]  # noqa: E731

    with pytest.raises(errors.ValidationError, match="private"):
        service(tmp_path, stage="prod", resolve=private).create(
            CreateDestination(url="https://crm.internal/h")
        )
    allowed = service(tmp_path, stage="prod", allowlist="crm.internal", resolve=private)
    assert allowed.create(CreateDestination(url="https://crm.internal/h"))["url"] == "https://crm.internal/h"


def test_dev_allows_http_to_loopback_only(tmp_path: Path) -> None:
    dev = service(tmp_path)

    assert dev.create(CreateDestination(url="http://127.0.0.1:9000/h"))["enabled"] is True
    with pytest.raises(errors.ValidationError, match="https"):
        dev.create(CreateDestination(url="http://93.184.216.34/h"))


def test_the_secret_is_shown_at_creation_and_is_the_derived_one(tmp_path: Path) -> None:
    svc = service(tmp_path)
    created = svc.create(CreateDestination(url="https://93.184.216.34/h"))
    stored = svc.store.get_destination("svc", created["id"])

    assert stored is not None
    assert created["secret"] == destination_secret(KEY, created["id"], stored.salt)
    assert "secret" not in svc.get(created["id"])
    assert created["secret"] not in stored.model_dump_json()


def test_at_most_50_destinations(tmp_path: Path) -> None:
    svc = service(tmp_path)
    for _ in range(50):
        svc.create(CreateDestination(eventbridge_bus="arn:aws:events:us-east-1:123456789012:event-bus/crm"))

    with pytest.raises(errors.ValidationError, match="at most 50"):
        svc.create(CreateDestination(eventbridge_bus="arn:aws:events:us-east-1:123456789012:event-bus/crm"))


def test_a_time_without_an_offset_is_utc() -> None:
    assert (
        _instant("2026-12-01T10:00:00")
        == _instant("2026-12-01T10:00:00Z")
        == _instant("2026-12-01T11:00:00+01:00")
    )


def test_replay_of_a_filtered_out_type_queues_nothing(tmp_path: Path) -> None:
    svc = service(tmp_path)
    created = svc.create(CreateDestination(url="https://93.184.216.34/h", events=["message.status"]))
    svc.store.update_instance_state("svc", state="open")  # a session.state event

    assert svc.replay(created["id"], ReplayRequest(since="2020-01-01T00:00:00Z")) == {"queued": 0}
