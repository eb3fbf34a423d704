"""The composed store: what every backend offers beside its concerns."""

from __future__ import annotations

from chalicelib.store import Store


def test_ping_succeeds_on_a_working_store(store: Store) -> None:
    store.ping()
