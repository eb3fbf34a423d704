"""The SQLite core every concern's mixin builds on: one connection per thread, WAL, ``BEGIN
IMMEDIATE`` for every write, and the schema each concern contributes."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from chalicelib.errors import StoreUnavailableError
from chalicelib.store.rules import DEFAULT_RETENTION_DAYS, UNAVAILABLE

PURGE_EVERY_S = 3600.0


class SQLiteCore:
    """Connections, transactions, reads and purging on one SQLite file; safe across threads and
    processes sharing that file.

    Schema registry: each concern's mixin sets ``DDL`` (its ``CREATE … IF NOT EXISTS``
    statements) and ``EXPIRING`` (its tables with an ``expires_at`` column, purged here). The
    composed store creates the schema of every class in its MRO, once per process.
    """

    DDL: ClassVar[str] = ""
    EXPIRING: ClassVar[tuple[str, ...]] = ()

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

    @classmethod
    def schema(cls) -> list[str]:
        """Every statement the concerns composed into this class contribute, base classes first."""
        statements: list[str] = []
        for klass in reversed(cls.__mro__):
            ddl = vars(klass).get("DDL", "")
            statements += [s.strip() for s in ddl.split(";") if s.strip()]
        return statements

    @classmethod
    def expiring_tables(cls) -> list[str]:
        """The tables whose rows carry an ``expires_at`` (SQLite has no TTL of its own)."""
        tables: list[str] = []
        for klass in reversed(cls.__mro__):
            tables += [t for t in vars(klass).get("EXPIRING", ()) if t not in tables]
        return tables

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
                for statement in self.schema():
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

    def _purge(self, db: sqlite3.Connection, now: float) -> None:
        """Delete expired rows of every concern, at most once an hour per store."""
        if now - self._purged_at < PURGE_EVERY_S:
            return
        for table in self.expiring_tables():
            db.execute(f"DELETE FROM {table} WHERE expires_at <= ?", (now,))  # noqa: S608
        self._purged_at = now

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def ping(self) -> None:
        """Cheap liveness check; raises StoreUnavailableError."""
        self._read("SELECT 1", ())
