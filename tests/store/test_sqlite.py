"""What only the SQLite backend promises: lazy files, lock errors, several processes, purging."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from pathlib import Path

import pytest

from chalicelib.errors import StoreUnavailableError
from chalicelib.store.base import LEASE_S
from chalicelib.store.sqlite import SQLiteStore
from chalicelib.store.sqlite.instances import SQLiteInstances
from tests.store._race import claim_in_process
from tests.store.conftest import INSTANCE, at, outbound

NOW = 1_795_600_800.0  # at(0)


def test_nothing_touches_the_disk_until_first_use(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "store.db"
    store = SQLiteStore(str(path))
    assert not path.parent.exists()

    store.ping()

    assert path.exists()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_a_write_lock_held_past_the_busy_timeout_surfaces_as_store_unavailable(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.db"
    store = SQLiteStore(str(path), busy_timeout_ms=50)
    store.ping()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreUnavailableError) as caught:
            store.claim_idempotency("key", "fp", now=NOW, ttl_s=60)
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
        assert "locked" in str(caught.value.__cause__)
        with pytest.raises(StoreUnavailableError):
            store.apply_status(INSTANCE, "WA1", "read", at=at(1))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.claim_idempotency("key", "fp", now=NOW, ttl_s=60).claimed
    store.close()


def test_a_file_that_cannot_be_opened_surfaces_as_store_unavailable(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    store = SQLiteStore(str(tmp_path / "a-file" / "store.db"))

    with pytest.raises(StoreUnavailableError):
        store.ping()


def test_a_corrupt_database_surfaces_as_store_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    path.write_bytes(b"this is not a database" * 100)

    with pytest.raises(StoreUnavailableError):
        SQLiteStore(str(path)).ping()


def test_two_stores_on_one_file_in_two_threads_share_one_claim(tmp_path: Path) -> None:
    path = str(tmp_path / "store.db")
    barrier = threading.Barrier(2)
    results: list[bool] = []

    def claim() -> None:
        store = SQLiteStore(path)
        barrier.wait()
        results.append(store.claim_idempotency("key", "fp", now=NOW, ttl_s=60).claimed)
        store.close()

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [False, True]


def test_four_processes_racing_one_claim_on_one_file_yield_exactly_one_winner(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "store.db")
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(4), context.Queue()
    processes = [
        context.Process(target=claim_in_process, args=(path, "key", barrier, results)) for _ in range(4)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)

    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    assert sorted(results.get(timeout=5) for _ in range(4)) == [False, False, False, True]
    results.close()
    results.join_thread()


def test_expired_rows_are_purged_lazily_by_a_later_claim(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = SQLiteStore(str(path), retention_days=1)
    store.create_message(outbound(1))
    store.apply_status(INSTANCE, "WA-ORPHAN", "read", at=at(2))
    store.claim_idempotency("old", "fp", now=NOW, ttl_s=60)

    store.claim_idempotency("new", "fp", now=NOW + 2 * 86_400 + 3600, ttl_s=60)

    assert store.get_message(INSTANCE, outbound(1).id) is None
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT key FROM idempotency").fetchall() == [("new",)]
        assert db.execute("SELECT count(*) FROM orphans").fetchone() == (0,)
    store.close()


def test_each_thread_gets_its_own_connection(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "store.db"))
    store.create_message(outbound(1))
    seen: list[str | None] = []

    def read() -> None:
        record = store.get_message(INSTANCE, outbound(1).id)
        seen.append(record.id if record is not None else None)
        store.close()

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()

    assert seen == [outbound(1).id]
    store.close()


def test_each_concern_contributes_its_own_tables_and_a_composition_creates_only_its_own(
    tmp_path: Path,
) -> None:
    class InstancesOnly(SQLiteInstances):
        pass

    path = tmp_path / "partial.db"
    partial = InstancesOnly(str(path))
    partial.update_instance_state(INSTANCE, state="open")
    partial.close()

    with sqlite3.connect(path) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    # a state change writes its event (the outbox comes along); the core's own: what ping writes to
    assert tables == {"instances", "events", "store_probe"}
    assert InstancesOnly.expiring_tables() == ["events"]
    assert SQLiteStore.expiring_tables() == [
        "events",
        "media_waiting",
        "deliveries",
        "messages",
        "orphans",
        "parked_sends",
        "idempotency",
    ]
    assert {"instances", "idempotency", "messages", "orphans", "parked_sends"} <= {
        s.split()[5] for s in SQLiteStore.schema() if s.startswith("CREATE TABLE")
    }


def test_a_file_from_before_leases_gains_the_new_columns_and_its_claims_count_as_leased(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE idempotency (key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL,"
            " state TEXT NOT NULL, status_code INTEGER, body TEXT, headers TEXT,"
            " created_at REAL NOT NULL, expires_at REAL NOT NULL)"
        )
        db.execute(
            "INSERT INTO idempotency VALUES ('old', 'fp', 'in_progress', NULL, NULL, NULL, ?, ?)",
            (NOW, NOW + 86_400),
        )
    store = SQLiteStore(str(path))

    during = store.claim_idempotency("old", "fp", now=NOW + LEASE_S - 1, ttl_s=86_400)
    after = store.claim_idempotency("old", "fp", now=NOW + LEASE_S, ttl_s=86_400)

    assert not during.claimed and during.record.lease_until is None
    assert after.claimed and after.record.writer
    with sqlite3.connect(path) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(idempotency)")}
    assert {"writer", "lease_until", "record_id"} <= columns
    store.close()
