"""The SQLite core every concern's mixin builds on: one connection per thread, WAL, ``BEGIN
IMMEDIATE`` for every write, and the schema each concern contributes.

The file is watched: when it is deleted or replaced (someone cleaned ``.data/``), the next call
opens the file at the path again and recreates the schema there, instead of writing on into
the deleted file where nothing can ever read it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from chalicelib.errors import StoreRejectedError, StoreUnavailableError
from chalicelib.store.rules import DEFAULT_RETENTION_DAYS, REJECTED, UNAVAILABLE

logger = logging.getLogger(__name__)

PURGE_EVERY_S = 3600.0
TABLE_NAME = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)", re.IGNORECASE)
SCHEMA_NAME = re.compile(r"CREATE (?:UNIQUE )?(?:TABLE|INDEX) IF NOT EXISTS (\w+)", re.IGNORECASE)


class _Handle:
    """A thread's connection and a descriptor of the file it opened. Holding the descriptor keeps
    that file's inode from being reused, so a file deleted or replaced at the path is always seen
    as another file; a connection is never used in another process than the one that opened it."""

    def __init__(self, conn: sqlite3.Connection, fd: int) -> None:
        self.conn, self.fd, self.pid = conn, fd, os.getpid()
        stat = os.fstat(fd)
        self.file = (stat.st_dev, stat.st_ino)

    def is_current(self, path: str) -> bool:
        if self.pid != os.getpid():
            return False
        try:
            stat = os.stat(path)
        except OSError:
            return False
        return (stat.st_dev, stat.st_ino) == self.file

    def close(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(sqlite3.Error):
                self.conn.close()
            if self.pid == os.getpid():
                with contextlib.suppress(OSError):
                    os.close(self.fd)
            self.fd = -1

    def __del__(self) -> None:  # a thread's handle goes when the thread does
        self.close()


_write_locks: dict[str, threading.Lock] = {}
_write_locks_guard = threading.Lock()


def write_lock(path: str) -> threading.Lock:
    """The in-process lock every writer of the SQLite file ``path`` takes (store and job queue)."""
    key = os.path.abspath(path)
    with _write_locks_guard:
        return _write_locks.setdefault(key, threading.Lock())


class SQLiteCore:
    """Connections, transactions, reads and purging on one SQLite file; safe across threads and
    processes sharing that file.

    Schema registry: each concern's mixin sets ``DDL`` (its ``CREATE … IF NOT EXISTS``
    statements) and ``EXPIRING`` (its tables with an ``expires_at`` column, purged here). The
    composed store creates the schema of every class in its MRO, once per process.
    """

    DDL: ClassVar[str] = "CREATE TABLE IF NOT EXISTS store_probe (at REAL NOT NULL);"
    EXPIRING: ClassVar[tuple[str, ...]] = ()
    # Columns added to a table after its first release: (table, column, type), added when missing.
    COLUMNS: ClassVar[tuple[tuple[str, str, str], ...]] = ()

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
    def added_columns(cls) -> list[tuple[str, str, str]]:
        """Every column added after a table's first release, by the concerns composed here."""
        columns: list[tuple[str, str, str]] = []
        for klass in reversed(cls.__mro__):
            columns += [c for c in vars(klass).get("COLUMNS", ()) if c not in columns]
        return columns

    @classmethod
    def tables(cls) -> list[str]:
        """The tables the schema creates."""
        return [m.group(1) for s in cls.schema() if (m := TABLE_NAME.match(s))]

    @classmethod
    def expiring_tables(cls) -> list[str]:
        """The tables whose rows carry an ``expires_at`` (SQLite has no TTL of its own)."""
        tables: list[str] = []
        for klass in reversed(cls.__mro__):
            tables += [t for t in vars(klass).get("EXPIRING", ()) if t not in tables]
        return tables

    # -- connections and transactions -------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        handle: _Handle | None = getattr(self._local, "handle", None)
        if handle is not None:
            if handle.is_current(self.path):
                return handle.conn
            handle.close()  # another process's, or the file was deleted or replaced
            self._local.handle = None
        conn: sqlite3.Connection | None = None
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=self._busy_timeout_ms / 1000, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            conn.execute("PRAGMA synchronous = NORMAL")
            self._ensure_schema(conn)
            handle = _Handle(conn, os.open(self.path, os.O_RDONLY))
        except (sqlite3.Error, OSError) as e:
            if conn is not None:
                conn.close()
            raise StoreUnavailableError(UNAVAILABLE) from e
        self._local.handle = handle
        return conn

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        """Create whatever part of the schema the file lacks (all of it in a new file)."""
        with self._schema_lock:
            self._use_wal(conn)
            if self._schema_complete(conn):
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in self.schema():
                    conn.execute(statement)
                for table, column, kind in self.added_columns():
                    if column not in self._columns(conn, table):
                        conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise

    def _schema_complete(self, conn: sqlite3.Connection) -> bool:
        """Every table, index and added column of the schema is in the file (a read only)."""
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        wanted = {m.group(1) for s in self.schema() if (m := SCHEMA_NAME.match(s))}
        if not wanted <= names:
            return False
        return all(column in self._columns(conn, table) for table, column, _ in self.added_columns())

    @staticmethod
    def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
        return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}

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
        """A write transaction that takes the write lock up front (no upgrade deadlocks). Threads
        of this process queue on :func:`write_lock` first: SQLite admits one writer at a time
        anyway, and its busy handler would make them sleep and poll instead.

        A value SQLite refuses for good (a string or blob over its limit, an integer over 64
        bits) is :class:`StoreRejectedError`; any other failure is StoreUnavailableError."""
        conn = self._conn()
        try:
            with write_lock(self.path):
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                    raise
        except (sqlite3.DataError, OverflowError) as e:
            logger.error("the store refused a write for good", extra={"error": type(e).__name__})
            raise StoreRejectedError(REJECTED) from e
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
        handle: _Handle | None = getattr(self._local, "handle", None)
        if handle is not None:
            handle.close()
            self._local.handle = None

    def ping(self) -> None:
        """A real check: the file at the path (recreated if it was deleted) holds every table of
        the schema, each can be read, and a row can be written (in a transaction rolled back, so
        nothing is kept); raises StoreUnavailableError."""
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                names = {
                    row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                }
                missing = sorted(set(self.tables()) - names)
                if missing:
                    raise sqlite3.OperationalError(f"tables missing from the store: {missing}")
                for table in self.tables():
                    conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchall()  # noqa: S608 - our names
                conn.execute("INSERT INTO store_probe (at) VALUES (?)", (time.time(),))
            finally:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
        except sqlite3.Error as e:
            raise StoreUnavailableError(UNAVAILABLE) from e
