"""The local transport: a durable SQLite queue and a worker thread with a pool."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from chalicelib.jobs.envelope import Job
from chalicelib.jobs.local import LocalQueue, LocalWorker
from chalicelib.jobs.registry import DONE, Registry, RunAgain
from tests.procs import wait_for


def test_a_queued_job_survives_a_new_queue_object_on_the_same_file(tmp_path: Path) -> None:
    LocalQueue(str(tmp_path / "q.db")).enqueue(Job(kind="demo", payload={"n": 1}))

    (claimed,) = LocalQueue(str(tmp_path / "q.db")).claim(10)

    assert claimed.job.payload == {"n": 1}
    assert claimed.deliveries == 1


def test_a_claimed_job_is_leased_and_not_claimed_twice_until_its_lease_ends(tmp_path: Path) -> None:
    queue = LocalQueue(str(tmp_path / "q.db"), lease_s=30)
    queue.enqueue(Job(kind="demo"))

    assert len(queue.claim(10, now=time.time())) == 1
    assert queue.claim(10, now=time.time()) == []
    assert len(queue.claim(10, now=time.time() + 31)) == 1  # the first worker died


def test_a_job_is_not_claimed_before_its_time(tmp_path: Path) -> None:
    queue = LocalQueue(str(tmp_path / "q.db"))
    queue.enqueue(Job(kind="demo", not_before=time.time() + 60))

    assert queue.claim(10) == []
    assert queue.next_due() is not None


def test_a_failing_job_backs_off_then_is_dead_lettered(tmp_path: Path) -> None:
    queue = LocalQueue(str(tmp_path / "q.db"), max_deliveries=3, backoff_s=10)
    queue.enqueue(Job(kind="demo"))
    now = time.time()
    for round_ in range(3):
        (claimed,) = queue.claim(1, now=now)
        queue.fail(claimed, f"failure {round_}", now=now)
        assert queue.claim(1, now=now) == []  # backing off
        now += 10 * 2**round_

    assert queue.claim(1, now=now + 10_000) == []
    ((job, error),) = queue.dead_letters()
    assert job.kind == "demo"
    assert error == "failure 2"


def test_finishing_a_job_that_was_queued_again_keeps_the_new_attempt(tmp_path: Path) -> None:
    queue = LocalQueue(str(tmp_path / "q.db"))
    job = Job(kind="demo")
    queue.enqueue(job)
    (claimed,) = queue.claim(1)

    queue.enqueue(job.again(not_before=0, attempt=2))
    queue.finish(claimed)

    (again,) = queue.claim(1)
    assert again.job.attempt == 2


def test_a_body_that_is_not_a_job_goes_straight_to_the_dead_letters(tmp_path: Path) -> None:
    queue = LocalQueue(str(tmp_path / "q.db"))
    conn = queue._conn()
    conn.execute("INSERT INTO jobs (id, kind, body, not_before) VALUES ('x', 'demo', 'not json', 0)")

    assert queue.claim(5) == []
    assert queue.pending() == 0


def test_the_worker_runs_jobs_in_parallel_and_follows_run_again(tmp_path: Path) -> None:
    queue = LocalQueue(str(tmp_path / "q.db"))
    registry = Registry()
    running, peak, lock = [0], [0], threading.Lock()
    done: list[tuple[str, int]] = []

    def slow(job: Job) -> DONE.__class__ | RunAgain:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.2)
        with lock:
            running[0] -= 1
            done.append((job.id, job.attempt))
        if job.payload.get("twice") and job.attempt == 1:
            return RunAgain(at=time.time() + 0.1)
        return DONE

    registry.register("slow", slow)
    worker = LocalWorker(queue, registry, threads=4, poll_s=0.05)
    queue._wake = worker.wake
    worker.start()
    try:
        for n in range(8):
            queue.enqueue(Job(kind="slow", payload={"twice": n == 0}))
        wait_for(lambda: len(done) == 9, timeout=10, what="every job and the second attempt")
    finally:
        worker.stop()

    assert peak[0] >= 3
    assert sorted(a for _, a in done).count(2) == 1
    assert queue.pending() == 0


def test_the_worker_retries_a_failing_job_and_runs_its_pollers(tmp_path: Path) -> None:
    queue = LocalQueue(str(tmp_path / "q.db"), backoff_s=0.05)
    registry = Registry()
    calls: list[int] = []
    polls: list[float] = []

    def flaky(job: Job) -> DONE.__class__:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("not yet")
        return DONE

    registry.register("flaky", flaky)
    worker = LocalWorker(queue, registry, threads=2, poll_s=0.05, pollers=[lambda: polls.append(time.time())])
    worker.start()
    try:
        queue.enqueue(Job(kind="flaky"))
        worker.wake()
        wait_for(lambda: len(calls) == 3 and queue.pending() == 0, timeout=10, what="the third try")
    finally:
        worker.stop()

    assert len(polls) >= 2
    assert not worker.running
