"""The instance's integration: learnt once, kept in the store, trusted per process for a while,
forgotten when the instance is created again or found gone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chalicelib import errors
from chalicelib.evolution import errors as evo
from chalicelib.services.integrations import IntegrationCache, resolve_integration
from chalicelib.store.sqlite import SQLiteStore

INSTANCE = "acme"


class FakeEvolution:
    """Answers fetchInstances from a list, counting the calls."""

    def __init__(self, instances: list[dict[str, Any]] | Exception) -> None:
        self.instances = instances
        self.fetches = 0

    def fetch_instances(self, instance: str | None = None) -> list[dict[str, Any]]:
        self.fetches += 1
        if isinstance(self.instances, Exception):
            raise self.instances
        return self.instances


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    return SQLiteStore(str(tmp_path / "store.db"))


def _resolve(cache: IntegrationCache, store: SQLiteStore, evolution: FakeEvolution) -> str:
    return resolve_integration(INSTANCE, cache=cache, store=store, evolution=evolution)  # type: ignore[arg-type]


def test_the_integration_is_fetched_once_then_kept_in_the_store_and_the_process(store: SQLiteStore) -> None:
    evolution = FakeEvolution([{"name": "other", "integration": "WHATSAPP-BAILEYS"}])
    evolution.instances = [*evolution.instances, {"name": INSTANCE, "integration": "WHATSAPP-BUSINESS"}]
    cache = IntegrationCache()

    assert _resolve(cache, store, evolution) == "WHATSAPP-BUSINESS"
    assert _resolve(cache, store, evolution) == "WHATSAPP-BUSINESS"
    assert _resolve(IntegrationCache(), store, evolution) == "WHATSAPP-BUSINESS", (
        "another process reads the store"
    )

    assert evolution.fetches == 1
    state = store.get_instance_state(INSTANCE)
    assert state is not None and state.integration == "WHATSAPP-BUSINESS"


def test_a_process_reads_the_store_again_once_its_entry_is_older_than_the_ttl(store: SQLiteStore) -> None:
    clock = Clock()
    cache = IntegrationCache(ttl_s=300, clock=clock)
    store.update_instance_state(INSTANCE, integration="WHATSAPP-BUSINESS")
    evolution = FakeEvolution([])
    assert _resolve(cache, store, evolution) == "WHATSAPP-BUSINESS"

    store.update_instance_state(INSTANCE, integration="WHATSAPP-BAILEYS")  # re-created elsewhere
    clock.now += 299
    assert _resolve(cache, store, evolution) == "WHATSAPP-BUSINESS"
    clock.now += 1
    assert _resolve(cache, store, evolution) == "WHATSAPP-BAILEYS"
    assert evolution.fetches == 0


def test_forget_and_clear_drop_what_the_process_learnt() -> None:
    cache = IntegrationCache()
    cache.remember(INSTANCE, "WHATSAPP-BAILEYS")
    cache.remember("other", "WHATSAPP-BUSINESS")
    cache.forget(INSTANCE)
    assert (cache.get(INSTANCE), cache.get("other")) == (None, "WHATSAPP-BUSINESS")
    cache.clear()
    assert cache.get("other") is None


def test_an_instance_evolution_does_not_list_is_instance_not_found(store: SQLiteStore) -> None:
    with pytest.raises(errors.InstanceNotFoundError):
        _resolve(IntegrationCache(), store, FakeEvolution([]))


def test_an_evolution_failure_while_learning_is_translated(store: SQLiteStore) -> None:
    with pytest.raises(errors.UpstreamUnavailableError):
        _resolve(
            IntegrationCache(), store, FakeEvolution(evo.EvolutionConnectError("fetchInstances", "refused"))
        )
