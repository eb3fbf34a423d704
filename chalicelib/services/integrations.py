"""Which WhatsApp integration the instance runs on (Baileys or Cloud API): learned from Evolution
once, kept in the store for every process and in memory for a few minutes per process."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from chalicelib import errors
from chalicelib.evolution import errors as evo
from chalicelib.services.upstream import translate

if TYPE_CHECKING:
    from chalicelib.evolution import EvolutionClient
    from chalicelib.store.base import InstanceStore

BAILEYS = "WHATSAPP-BAILEYS"
CLOUD_API = "WHATSAPP-BUSINESS"
# How long a process trusts what it learnt before reading the store again: an instance deleted and
# re-created (by POST /connect in another process, which writes the store) is seen within this.
CACHE_TTL_S = 300.0


class IntegrationCache:
    """Per process: each instance's integration, for ``ttl_s`` seconds after it was learnt."""

    def __init__(self, *, ttl_s: float = CACHE_TTL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._known: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, instance: str) -> str | None:
        """The integration learnt for ``instance`` unless it is older than the TTL."""
        with self._lock:
            known = self._known.get(instance)
            if known is None:
                return None
            integration, learnt_at = known
            if self._clock() - learnt_at >= self._ttl_s:
                del self._known[instance]
                return None
            return integration

    def remember(self, instance: str, integration: str) -> None:
        with self._lock:
            self._known[instance] = (integration, self._clock())

    def forget(self, instance: str) -> None:
        """Drop what this process knows (the instance was created again, or has gone)."""
        with self._lock:
            self._known.pop(instance, None)

    def clear(self) -> None:
        with self._lock:
            self._known.clear()


def resolve_integration(
    instance: str, *, cache: IntegrationCache, store: InstanceStore, evolution: EvolutionClient
) -> str:
    """The instance's integration: from this process's cache, else the store, else fetchInstances
    (then written to the store)."""
    cached = cache.get(instance)
    if cached:
        return cached
    saved = store.get_instance_state(instance)
    integration = saved.integration if saved else None
    if not integration:
        try:
            found = evolution.fetch_instances(instance)
        except evo.EvolutionError as exc:
            raise translate(exc) from exc
        mine = [i for i in found if i.get("name") == instance] or found
        if not mine:
            raise errors.InstanceNotFoundError(
                "The WhatsApp instance does not exist in Evolution API; call POST /connect to create it."
            )
        integration = str(mine[0].get("integration") or BAILEYS)
        store.update_instance_state(instance, integration=integration)
    cache.remember(instance, integration)
    return integration
