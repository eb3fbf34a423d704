"""Jobs locally (SQLite: ``make run``, tests, ``chalice local``): a durable ``jobs`` table in the
store's own file and a worker inside the service process, started on first use.

The worker claims due jobs with a lease (so two processes sharing the file never run one job at
once), runs them on a small thread pool through :func:`chalicelib.jobs.runner.run_job`, deletes
a finished job, and on an exception releases it with backoff — dead-lettered (kept with
``dead = 1`` and its last error) after ``max_deliveries``. Between jobs it runs its pollers
(e.g. the events outbox relay), so work written by a process that died is picked up on restart.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from chalicelib.jobs.envelope import BadJobError, Job
from chalicelib.jobs.registry import Registry
from chalicelib.jobs.runner import run_job
from chalicelib.store.sqlite.core import write_lock

logger = logging.getLogger(__name__)

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, body TEXT NOT NULL,"
    " not_before REAL NOT NULL, deliveries INTEGER NOT NULL DEFAULT 0, lease_until REAL,"
    " lease_token TEXT, dead INTEGER NOT NULL DEFAULT 0, last_error TEXT)",
    "CREATE INDEX IF NOT EXISTS jobs_due ON jobs (dead, not_before)",
)
Poller = Callable[[], object]


@dataclass(frozen=True)
class Claimed:
    job: Job
    token: str
    deliveries: int


class LocalQueue:
    """The ``jobs`` table: enqueue, claim with a lease, finish, fail (backoff, then dead letter)."""

    def __init__(
        self,
        path: str,
        *,
        lease_s: float = 60.0,
        max_deliveries: int = 8,
        backoff_s: float = 1.0,
        busy_timeout_ms: int = 5000,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.path = path
        self.lease_s = lease_s
        self.max_deliveries = max_deliveries
        self.backoff_s = backoff_s
        self._busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._wake = wake

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=self._busy_timeout_ms / 1000, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        with contextlib.suppress(sqlite3.OperationalError):  # another process may be switching it
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        for statement in SCHEMA:
            conn.execute(statement)
        self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        with write_lock(self.path):  # shared with the store's writers of the same file
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise

    # -- the Transport interface ---------------------------------------------------------------

    def enqueue(self, job: Job) -> None:
        """Queue ``job`` (a job queued again under its id replaces the previous row)."""
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO jobs (id, kind, body, not_before) VALUES (?, ?, ?, ?)",
                (job.id, job.kind, job.to_json(), job.not_before),
            )
        self.wake()

    def wake(self) -> None:
        if self._wake is not None:
            self._wake()

    # -- the worker's side ---------------------------------------------------------------------

    def claim(self, limit: int, *, now: float | None = None) -> list[Claimed]:
        """Lease up to ``limit`` due jobs, oldest due first."""
        current = time.time() if now is None else now
        token = uuid.uuid4().hex
        with self._tx() as db:
            rows = db.execute(
                "SELECT id, body, deliveries FROM jobs WHERE dead = 0 AND not_before <= ?"
                " AND (lease_until IS NULL OR lease_until < ?) ORDER BY not_before LIMIT ?",
                (current, current, limit),
            ).fetchall()
            claimed: list[Claimed] = []
            for id, body, deliveries in rows:
                db.execute(
                    "UPDATE jobs SET lease_until = ?, lease_token = ?, deliveries = deliveries + 1"
                    " WHERE id = ?",
                    (current + self.lease_s, token, id),
                )
                try:
                    claimed.append(Claimed(Job.from_json(body), token, deliveries + 1))
                except BadJobError as e:
                    db.execute("UPDATE jobs SET dead = 1, last_error = ? WHERE id = ?", (str(e)[:500], id))
            return claimed

    def finish(self, claimed: Claimed) -> None:
        """The job ran: drop it, unless it was queued again meanwhile (a new row, no lease)."""
        with self._tx() as db:
            db.execute("DELETE FROM jobs WHERE id = ? AND lease_token = ?", (claimed.job.id, claimed.token))

    def fail(self, claimed: Claimed, error: str, *, now: float | None = None) -> None:
        """Release the job to run again after a backoff, or dead-letter it past the limit."""
        current = time.time() if now is None else now
        dead = claimed.deliveries >= self.max_deliveries
        delay = self.backoff_s * 2 ** min(claimed.deliveries - 1, 10)
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET lease_until = NULL, lease_token = NULL, not_before = ?, dead = ?,"
                " last_error = ? WHERE id = ? AND lease_token = ?",
                (current + delay, int(dead), error[:500], claimed.job.id, claimed.token),
            )
        if dead:
            logger.error("job dead-lettered", extra={"kind": claimed.job.kind, "job_id": claimed.job.id})

    def dead_letters(self) -> list[tuple[Job, str]]:
        """Jobs that failed for good, with their last error (for an operator, and tests)."""
        rows = self._conn().execute("SELECT body, last_error FROM jobs WHERE dead = 1").fetchall()
        out: list[tuple[Job, str]] = []
        for body, error in rows:
            with contextlib.suppress(BadJobError):
                out.append((Job.from_json(body), error or ""))
        return out

    def pending(self) -> int:
        """Jobs not dead-lettered (due or not)."""
        row = self._conn().execute("SELECT count(*) FROM jobs WHERE dead = 0").fetchone()
        return int(row[0])

    def next_due(self) -> float | None:
        row = self._conn().execute("SELECT min(not_before) FROM jobs WHERE dead = 0").fetchone()
        return float(row[0]) if row[0] is not None else None


class LocalWorker:
    """A daemon thread that runs the local queue's due jobs on a pool, and the pollers."""

    def __init__(
        self,
        queue: LocalQueue,
        registry: Registry,
        *,
        threads: int = 8,
        poll_s: float = 0.5,
        pollers: list[Poller] | None = None,
        coalesce_s: float = 0.005,
    ) -> None:
        self.queue = queue
        self.registry = registry
        self.threads = max(1, threads)
        self.poll_s = poll_s
        self.pollers = list(pollers or [])
        self.coalesce_s = coalesce_s  # after a kick, let a burst of new work gather for one poll
        self._wakeup = threading.Event()
        self._kick = threading.Event()
        self._polled_at = float("-inf")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._slots = threading.Semaphore(self.threads)
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the worker once (later calls are no-ops)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="jobs")
            self._thread = threading.Thread(target=self._loop, name="jobs-worker", daemon=True)
            self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        """New work: run the pollers (the outbox relay) and look for due jobs now."""
        self._kick.set()
        self._wakeup.set()

    def stop(self, timeout: float = 15.0) -> None:
        """Stop polling, let running jobs finish (up to ``timeout``), join the thread."""
        with self._lock:
            thread, pool = self._thread, self._pool
            self._stop.set()
            self._wakeup.set()
            if thread is not None:
                thread.join(timeout)
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
            self._thread = self._pool = None

    def _loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            self._wakeup.clear()
            try:
                now = time.monotonic()
                if self._kick.is_set() or now - self._polled_at >= self.poll_s:
                    if self._kick.is_set() and self.coalesce_s:
                        self._stop.wait(self.coalesce_s)
                    self._kick.clear()
                    self._polled_at = now
                    for poll in self.pollers:
                        poll()
                busy = self._dispatch()
                wait = 0.0 if busy else self._idle_wait()
                failures = 0
            except Exception:  # the store may be locked or gone for a while: back off, keep going
                failures += 1
                if failures == 1:
                    logger.exception("job worker round failed; retrying with backoff")
                wait = min(30.0, self.poll_s * 2**failures)
            if wait:
                self._wakeup.wait(wait)

    def _idle_wait(self) -> float:
        due = self.queue.next_due()
        if due is None:
            return self.poll_s
        return max(0.0, min(self.poll_s, due - time.time()))

    def _dispatch(self) -> bool:
        """Hand due jobs to free pool threads; True when a full round was claimed."""
        free = 0
        while self._slots.acquire(blocking=False):
            free += 1
        if free == 0:
            self._wakeup.wait(0.01)
            return True
        claimed = self.queue.claim(free)
        for _ in range(free - len(claimed)):
            self._slots.release()
        pool = self._pool
        for item in claimed:
            if pool is None:
                self._slots.release()
                continue
            pool.submit(self._run, item)
        return len(claimed) == free

    def _run(self, claimed: Claimed) -> None:
        try:
            run_job(claimed.job, registry=self.registry, transport=self.queue)
        except Exception as e:  # retried with backoff by the queue, dead-lettered past its limit
            logger.warning(
                "job failed", extra={"kind": claimed.job.kind, "job_id": claimed.job.id, "error": repr(e)}
            )
            try:
                self.queue.fail(claimed, repr(e))
            except Exception:
                logger.exception("could not release a failed job; its lease will expire")
        else:
            try:
                self.queue.finish(claimed)
            except Exception:
                logger.exception("could not finish a job; it will run again after its lease")
        finally:
            self._slots.release()
            self._wakeup.set()
