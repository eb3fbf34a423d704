"""SQLite backend of the store: WAL, one connection per thread, BEGIN IMMEDIATE for every write."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chalicelib.errors import StoreUnavailableError
from chalicelib.models.records import InstanceState, MessageRecord
from chalicelib.store.base import (
    DuplicateMessageError,
    IdempotencyClaim,
    IdempotencyRecord,
    MessagePage,
    StatusResult,
)
from chalicelib.store.rules import (
    DEFAULT_RETENTION_DAYS,
    OrphanStatus,
    advance,
    check_query,
    check_status,
    decode_cursor,
    encode_cursor,
    epoch,
    expires_at,
    fold,
    ttl_expiry,
)

PURGE_EVERY_S = 3600.0
UNAVAILABLE = "The message store is unavailable right now; try again shortly."

SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, state TEXT NOT NULL,
    status_code INTEGER, body TEXT, headers TEXT,
    created_at REAL NOT NULL, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY, instance TEXT NOT NULL, direction TEXT NOT NULL, status TEXT NOT NULL,
    message_id TEXT, jid TEXT, fingerprint TEXT, expires_at REAL NOT NULL, data TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS messages_by_message_id
    ON messages (instance, message_id) WHERE message_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_by_direction ON messages (instance, direction, id);
CREATE INDEX IF NOT EXISTS messages_by_instance ON messages (instance, id);
CREATE INDEX IF NOT EXISTS messages_unknown ON messages (instance, jid) WHERE status = 'unknown';
CREATE INDEX IF NOT EXISTS messages_expiry ON messages (expires_at);
CREATE TABLE IF NOT EXISTS orphans (
    instance TEXT NOT NULL, message_id TEXT NOT NULL, status TEXT NOT NULL, at TEXT NOT NULL,
    error TEXT, expires_at REAL NOT NULL, PRIMARY KEY (instance, message_id, status));
CREATE TABLE IF NOT EXISTS instances (instance TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS parked_sends (
    instance TEXT NOT NULL, jid TEXT NOT NULL, fingerprint TEXT NOT NULL, message_id TEXT NOT NULL,
    status TEXT NOT NULL, expires_at REAL NOT NULL, PRIMARY KEY (instance, jid, fingerprint));
"""


class SQLiteStore:
    """The store on one SQLite file; safe across threads and processes sharing that file."""

    def __init__(
        self,
        path: str,
        *,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        busy_timeout_ms: int = 5000,
    ) -> None:
        self.path = path
        self._retention_days = retention_days
        self._busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._schema_lock = threading.Lock()
        self._schema_pid: int | None = None
        self._purged_at = float("-inf")

    # -- connections and transactions -------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=self._busy_timeout_ms / 1000, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            conn.execute("PRAGMA synchronous = NORMAL")
            self._ensure_schema(conn)
        except (sqlite3.Error, OSError) as e:
            if conn is not None:
                conn.close()
            raise StoreUnavailableError(UNAVAILABLE) from e
        self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        with self._schema_lock:
            if self._schema_pid == os.getpid():
                return
            self._use_wal(conn)
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
            self._schema_pid = os.getpid()

    def _use_wal(self, conn: sqlite3.Connection) -> None:
        """Switch the file to WAL (persistent). The switch can fail with "database is locked"
        without waiting on the busy timeout when another process switches at the same moment,
        so it is retried until the busy timeout has passed."""
        deadline = time.monotonic() + self._busy_timeout_ms / 1000
        while True:
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.01)

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the write lock up front (no upgrade deadlocks)."""
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as e:
            raise StoreUnavailableError(UNAVAILABLE) from e

    def _read(self, sql: str, params: tuple[Any, ...]) -> list[sqlite3.Row]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.Error as e:
            raise StoreUnavailableError(UNAVAILABLE) from e

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- idempotency ---------------------------------------------------------------------------

    def claim_idempotency(self, key: str, fingerprint: str, *, now: float, ttl_s: int) -> IdempotencyClaim:
        with self._tx() as db:
            self._purge(db, now)
            row = db.execute("SELECT * FROM idempotency WHERE key = ?", (key,)).fetchone()
            if row is not None and row["expires_at"] > now:
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

    def _purge(self, db: sqlite3.Connection, now: float) -> None:
        """Delete expired rows, at most once an hour per store (SQLite has no TTL of its own)."""
        if now - self._purged_at < PURGE_EVERY_S:
            return
        for table in ("idempotency", "messages", "orphans", "parked_sends"):
            db.execute(f"DELETE FROM {table} WHERE expires_at <= ?", (now,))  # noqa: S608
        self._purged_at = now

    # -- messages ------------------------------------------------------------------------------

    def create_message(self, record: MessageRecord) -> MessageRecord:
        with self._tx() as db:
            if record.message_id is not None:
                record = self._fold_orphans(db, record, record.message_id)
            self._insert(db, record)
            return record

    def attach_message_id(
        self, id: str, message_id: str, *, at: str, status: str | None = None
    ) -> MessageRecord | None:
        extra = [OrphanStatus(check_status(status), at)] if status is not None else []
        with self._tx() as db:
            row = db.execute("SELECT data FROM messages WHERE id = ?", (id,)).fetchone()
            if row is None:
                return None
            record = MessageRecord.model_validate_json(row["data"])
            if record.message_id is not None or self._by_message_id(db, record.instance, message_id):
                return None
            record = record.model_copy(update={"message_id": message_id, "updated_at": at})
            record = self._fold_orphans(db, record, message_id, extra)
            self._save(db, record)
            return record

    def insert_inbound(self, record: MessageRecord) -> bool:
        if record.message_id is None:
            raise ValueError("an inbound record needs its WhatsApp message_id")
        with self._tx() as db:
            if self._by_message_id(db, record.instance, record.message_id) is not None:
                return False
            self._insert(db, self._fold_orphans(db, record, record.message_id))
            return True

    def apply_status(
        self,
        instance: str,
        message_id: str,
        status: str,
        *,
        at: str,
        error: dict[str, Any] | None = None,
    ) -> StatusResult:
        new = check_status(status)
        with self._tx() as db:
            record = self._by_message_id(db, instance, message_id)
            if record is None:
                inserted = db.execute(
                    "INSERT OR IGNORE INTO orphans"
                    " (instance, message_id, status, at, error, expires_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        instance,
                        message_id,
                        new,
                        at,
                        json.dumps(error) if error is not None else None,
                        expires_at(at, self._retention_days),
                    ),
                )
                return StatusResult(found=False, applied=False, kept=inserted.rowcount == 1)
            moved = advance(record, new, at, error)
            if moved is None:
                return StatusResult(found=True, applied=False, record=record)
            self._save(db, moved)
            return StatusResult(found=True, applied=True, record=moved)

    def get_message(self, instance: str, id_or_message_id: str) -> MessageRecord | None:
        rows: list[sqlite3.Row] = []
        if id_or_message_id.startswith("msg_"):
            rows = self._read(
                "SELECT data FROM messages WHERE instance = ? AND id = ?",
                (instance, id_or_message_id),
            )
        if not rows:
            rows = self._read(
                "SELECT data FROM messages WHERE instance = ? AND message_id = ?",
                (instance, id_or_message_id),
            )
        return MessageRecord.model_validate_json(rows[0]["data"]) if rows else None

    def list_messages(
        self,
        instance: str,
        *,
        direction: str | None = None,
        status: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> MessagePage:
        check_query(direction, status, limit)
        where, params = ["instance = ?"], [instance]
        for column, value in (("direction", direction), ("status", status)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if after is not None:
            where.append("id < ?")
            params.append(decode_cursor(after))
        rows = self._read(
            f"SELECT data FROM messages WHERE {' AND '.join(where)}"  # noqa: S608
            " ORDER BY id DESC LIMIT ?",
            (*params, limit + 1),
        )
        items = [MessageRecord.model_validate_json(r["data"]) for r in rows[:limit]]
        more = len(rows) > limit
        return MessagePage(items=items, next=encode_cursor(items[-1].id) if more else None)

    def find_unknown_sends(
        self, instance: str, *, jid: str, fingerprint: str, since: str
    ) -> list[MessageRecord]:
        rows = self._read(
            "SELECT data FROM messages WHERE instance = ? AND jid = ? AND status = 'unknown'"
            " AND direction = 'outbound' AND message_id IS NULL AND fingerprint = ? ORDER BY id",
            (instance, jid, fingerprint),
        )
        found = [MessageRecord.model_validate_json(r["data"]) for r in rows]
        return [r for r in found if epoch(r.created_at) >= epoch(since)]

    def park_send(
        self,
        instance: str,
        *,
        jid: str,
        fingerprint: str,
        message_id: str,
        status: str,
        now: float,
        ttl_s: int,
    ) -> bool:
        check_status(status)
        with self._tx() as db:
            parked = db.execute(
                "INSERT INTO parked_sends (instance, jid, fingerprint, message_id, status, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (instance, jid, fingerprint) DO UPDATE SET"
                " message_id = excluded.message_id, status = excluded.status,"
                " expires_at = excluded.expires_at"
                " WHERE parked_sends.expires_at <= ?",
                (instance, jid, fingerprint, message_id, status, ttl_expiry(now, ttl_s), now),
            )
            return parked.rowcount == 1

    def take_parked_send(
        self, instance: str, *, jid: str, fingerprint: str, now: float
    ) -> tuple[str, str] | None:
        where = "FROM parked_sends WHERE instance = ? AND jid = ? AND fingerprint = ?"
        with self._tx() as db:  # one write transaction: select and delete are atomic together
            row = db.execute(
                f"SELECT message_id, status, expires_at {where}", (instance, jid, fingerprint)
            ).fetchone()  # noqa: S608
            db.execute(f"DELETE {where}", (instance, jid, fingerprint))  # noqa: S608
        if row is None or row["expires_at"] <= now:
            return None
        return str(row["message_id"]), str(row["status"])

    def _by_message_id(self, db: sqlite3.Connection, instance: str, message_id: str) -> MessageRecord | None:
        row = db.execute(
            "SELECT data FROM messages WHERE instance = ? AND message_id = ?",
            (instance, message_id),
        ).fetchone()
        return MessageRecord.model_validate_json(row["data"]) if row is not None else None

    def _fold_orphans(
        self,
        db: sqlite3.Connection,
        record: MessageRecord,
        message_id: str,
        extra: list[OrphanStatus] | None = None,
    ) -> MessageRecord:
        key = (record.instance, message_id)
        rows = db.execute(
            "SELECT status, at, error FROM orphans WHERE instance = ? AND message_id = ?", key
        ).fetchall()
        orphans = [
            OrphanStatus(check_status(r["status"]), r["at"], json.loads(r["error"]) if r["error"] else None)
            for r in rows
        ]
        if rows:
            db.execute("DELETE FROM orphans WHERE instance = ? AND message_id = ?", key)
        record, _ = fold(record, orphans + (extra or []))
        return record

    def _insert(self, db: sqlite3.Connection, record: MessageRecord) -> None:
        try:
            db.execute(
                "INSERT INTO messages (id, instance, direction, status, message_id, jid,"
                " fingerprint, expires_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.id,
                    record.instance,
                    record.direction,
                    record.status,
                    record.message_id,
                    record.jid,
                    record.fingerprint,
                    expires_at(record.created_at, self._retention_days),
                    record.model_dump_json(),
                ),
            )
        except sqlite3.IntegrityError as e:
            raise DuplicateMessageError(f"message {record.id} is already stored") from e

    def _save(self, db: sqlite3.Connection, record: MessageRecord) -> None:
        db.execute(
            "UPDATE messages SET status = ?, message_id = ?, data = ? WHERE id = ?",
            (record.status, record.message_id, record.model_dump_json(), record.id),
        )

    # -- instance state and health -------------------------------------------------------------

    def get_instance_state(self, instance: str) -> InstanceState | None:
        rows = self._read("SELECT data FROM instances WHERE instance = ?", (instance,))
        return InstanceState.model_validate_json(rows[0]["data"]) if rows else None

    def update_instance_state(self, instance: str, **fields: Any) -> InstanceState:
        unknown = set(fields) - set(InstanceState.model_fields) | ({"instance"} & set(fields))
        if unknown:
            raise ValueError(f"not instance-state fields: {sorted(unknown)}")
        with self._tx() as db:
            row = db.execute("SELECT data FROM instances WHERE instance = ?", (instance,)).fetchone()
            current = json.loads(row["data"]) if row is not None else {"instance": instance}
            state = InstanceState.model_validate({**current, **fields})
            db.execute(
                "INSERT OR REPLACE INTO instances (instance, data) VALUES (?, ?)",
                (instance, state.model_dump_json()),
            )
            return state

    def ping(self) -> None:
        self._read("SELECT 1", ())


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
