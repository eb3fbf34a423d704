"""The one code path: run a due job's handler, queue the next attempt, re-queue an early job."""

from __future__ import annotations

import pytest

from chalicelib.jobs.envelope import Job
from chalicelib.jobs.registry import DONE, Registry, RunAgain, UnknownJobKindError
from chalicelib.jobs.runner import run_job
from tests.jobs.fakes import ListTransport


def test_a_due_job_runs_its_kinds_handler_once() -> None:
    seen: list[Job] = []
    registry = Registry()
    registry.register("demo", lambda job: seen.append(job) or DONE)
    transport = ListTransport()

    outcome = run_job(Job(kind="demo", payload={"n": 1}), registry=registry, transport=transport, now=10)

    assert outcome == DONE
    assert [j.payload for j in seen] == [{"n": 1}]
    assert transport.jobs == []


def test_run_again_queues_the_next_attempt_of_the_same_job() -> None:
    registry = Registry()
    registry.register("demo", lambda job: RunAgain(at=50.0))
    transport = ListTransport()
    job = Job(kind="demo")

    run_job(job, registry=registry, transport=transport, now=10)

    (queued,) = transport.jobs
    assert (queued.id, queued.attempt, queued.not_before) == (job.id, 2, 50.0)


def test_a_job_delivered_before_its_time_is_queued_again_without_running() -> None:
    registry = Registry()
    registry.register("demo", lambda job: pytest.fail("ran early"))
    transport = ListTransport()
    job = Job(kind="demo", not_before=2000.0)

    outcome = run_job(job, registry=registry, transport=transport, now=1000.0)

    assert outcome == RunAgain(at=2000.0)
    assert transport.jobs == [job]


def test_a_handlers_exception_reaches_the_transport_for_its_retry() -> None:
    def boom(job: Job) -> RunAgain:
        raise RuntimeError("store down")

    registry = Registry()
    registry.register("demo", boom)

    with pytest.raises(RuntimeError, match="store down"):
        run_job(Job(kind="demo"), registry=registry, transport=ListTransport())


def test_an_unknown_kind_is_an_error_and_a_kind_is_registered_once() -> None:
    registry = Registry()
    registry.register("demo", lambda job: DONE)

    with pytest.raises(UnknownJobKindError):
        run_job(Job(kind="other"), registry=registry, transport=ListTransport())
    with pytest.raises(ValueError, match="already registered"):
        registry.register("demo", lambda job: DONE)
    assert registry.kinds() == ["demo"]
