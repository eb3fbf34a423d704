"""The SQLite store when its file goes away or goes bad: it recreates its schema in a new file
rather than writing into a deleted one, and ``ping`` reads a real table, so /health tells the truth.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from chalicelib.errors import StoreRejectedError, StoreUnavailableError
from chalicelib.store.sqlite import SQLiteStore
from tests.store.conftest import INSTANCE, msg_id, outbound


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _ids_on_disk(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute("SELECT id FROM messages ORDER BY id")]


def test_a_deleted_file_is_recreated_with_its_schema_and_later_writes_land_in_it(tmp_path: Path) -> None:
    path = tmp_path / "data" / "store.db"
    store = SQLiteStore(str(path))
    store.create_message(outbound(1))
    _remove(path)

    store.create_message(outbound(2))

    assert path.exists()
    assert _ids_on_disk(path) == [msg_id(2)]
    assert store.get_message(INSTANCE, msg_id(2)) == outbound(2)
    store.close()


def test_ping_of_a_running_store_fails_once_its_file_was_replaced_by_garbage(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = SQLiteStore(str(path))
    store.ping()
    _remove(path)
    path.write_bytes(b"this is not a database file" * 200)

    with pytest.raises(StoreUnavailableError):
        store.ping()
    store.close()


def test_ping_fails_when_a_table_of_the_schema_is_gone(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = SQLiteStore(str(path))
    store.ping()
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE messages")

    with pytest.raises(StoreUnavailableError):
        store.ping()
    store.close()


def test_ping_fails_when_the_file_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the store's folder should be")

    with pytest.raises(StoreUnavailableError):
        SQLiteStore(str(blocker / "store.db")).ping()


def test_ping_fails_when_the_database_cannot_be_written(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "store.db"))
    store.ping()
    store._conn().execute("PRAGMA query_only = 1")  # as a read-only file does, whoever runs it

    with pytest.raises(StoreUnavailableError):
        store.ping()
    store.close()


def test_ping_keeps_nothing_it_wrote(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = SQLiteStore(str(path))

    store.ping()
    store.ping()

    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM store_probe").fetchone() == (0,)
    store.close()


def test_an_integer_sqlite_cannot_hold_is_a_permanent_refusal_not_unavailable(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "store.db"))

    with pytest.raises(StoreRejectedError):
        store.claim_idempotency("key", "fp", now=1e30, ttl_s=2**70)  # an expiry over 64 bits
    store.close()
