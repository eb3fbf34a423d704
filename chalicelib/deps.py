"""Process-wide collaborators, each built on first use and reused by warm invocations."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from chalicelib.settings import get_settings

if TYPE_CHECKING:
    from chalicelib.evolution import EvolutionClient
    from chalicelib.store.base import Store


@cache
def get_evolution() -> EvolutionClient:
    """The Evolution client (one pooled ``requests.Session`` per process)."""
    from chalicelib.evolution import EvolutionClient  # noqa: PLC0415 - requests is not cheap

    settings = get_settings()
    return EvolutionClient(
        settings.evolution_base_url,
        settings.EVOLUTION_API_KEY.get_secret_value(),
        connect_timeout=settings.EVOLUTION_CONNECT_TIMEOUT,
        read_timeout=settings.EVOLUTION_READ_TIMEOUT,
        send_timeout=settings.EVOLUTION_SEND_TIMEOUT,
        max_read_timeout=settings.EVOLUTION_MAX_READ_TIMEOUT,
    )


@cache
def get_store() -> Store:
    """The store named by ``STORE_URL`` (SQLite locally, DynamoDB when deployed)."""
    from chalicelib.store import store_from_url  # noqa: PLC0415

    return store_from_url(get_settings().STORE_URL)


def reset() -> None:
    """Forget every cached collaborator and the settings (tests, and a changed environment)."""
    get_evolution.cache_clear()
    get_store.cache_clear()
    get_settings.cache_clear()
