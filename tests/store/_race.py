"""A claim made from a separate process, for the multi-process SQLite race (spawn-safe)."""

from __future__ import annotations

from typing import Any

from chalicelib.store.sqlite import SQLiteStore


def claim_in_process(path: str, key: str, barrier: Any, results: Any) -> None:
    store = SQLiteStore(path)
    store.ping()  # open the connection and schema before the starting gun
    barrier.wait()
    claim = store.claim_idempotency(key, "fp", now=1_790_000_000.0, ttl_s=86_400)
    results.put(claim.claimed)
    store.close()
