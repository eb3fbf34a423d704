"""Idempotency-Key claims on SQLite: one row per key, claimed inside a write transaction."""

from __future__ import annotations

import json
import sqlite3
from typing import Any, ClassVar

from chalicelib.store.base import IdempotencyClaim, IdempotencyRecord
from chalicelib.store.rules import is_live, ttl_expiry
from chalicelib.store.sqlite.core import SQLiteCore


class SQLiteIdempotency(SQLiteCore):
    """:class:`chalicelib.store.base.IdempotencyStore` on SQLite."""

    DDL = """
    CREATE TABLE IF NOT EXISTS idempotency (
        key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, state TEXT NOT NULL,
        status_code INTEGER, body TEXT, headers TEXT,
        created_at REAL NOT NULL, expires_at REAL NOT NULL);
    """
    EXPIRING: ClassVar[tuple[str, ...]] = ("idempotency",)

    def claim_idempotency(self, key: str, fingerprint: str, *, now: float, ttl_s: int) -> IdempotencyClaim:
        with self._tx() as db:
            self._purge(db, now)
            row = db.execute("SELECT * FROM idempotency WHERE key = ?", (key,)).fetchone()
            if row is not None and is_live(row["expires_at"], now):
                return IdempotencyClaim(claimed=False, record=_idempotency(row))
            record = IdempotencyRecord(
                key=key,
                fingerprint=fingerprint,
                state="in_progress",
                created_at=now,
                expires_at=ttl_expiry(now, ttl_s),
            )
            db.execute(
                "INSERT OR REPLACE INTO idempotency"
                " (key, fingerprint, state, created_at, expires_at)"
                " VALUES (?, ?, 'in_progress', ?, ?)",
                (key, fingerprint, now, record.expires_at),
            )
            return IdempotencyClaim(claimed=True, record=record)

    def complete_idempotency(
        self,
        key: str,
        *,
        status_code: int,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE idempotency SET state = 'done', status_code = ?, body = ?, headers = ? WHERE key = ?",
                (status_code, json.dumps(body), json.dumps(headers or {}), key),
            )

    def release_idempotency(self, key: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM idempotency WHERE key = ? AND state = 'in_progress'", (key,))


def _idempotency(row: sqlite3.Row) -> IdempotencyRecord:
    return IdempotencyRecord(
        key=row["key"],
        fingerprint=row["fingerprint"],
        state=row["state"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        status_code=row["status_code"],
        body=json.loads(row["body"]) if row["body"] is not None else None,
        headers=json.loads(row["headers"]) if row["headers"] is not None else {},
    )
