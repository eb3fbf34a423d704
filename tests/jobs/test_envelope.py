"""The job envelope round-trips through JSON and refuses what is not one."""

from __future__ import annotations

import pytest

from chalicelib.jobs.envelope import MAX_PAYLOAD_BYTES, BadJobError, Job


def test_a_job_round_trips_through_json() -> None:
    job = Job(kind="events.deliver", payload={"event": "evt_1"}, attempt=3, not_before=12.5)

    assert Job.from_json(job.to_json()) == job


def test_again_keeps_the_id_and_moves_the_time() -> None:
    job = Job(kind="media.fetch")
    later = job.again(not_before=99.0, attempt=2)

    assert (later.id, later.kind, later.attempt, later.not_before) == (job.id, "media.fetch", 2, 99.0)
    assert not later.due(98.9)
    assert later.due(99.0)


@pytest.mark.parametrize(
    "body", ["", "[]", '{"payload": {}}', '{"kind": "Bad Kind"}', '{"kind": "a", "payload": []}']
)
def test_a_body_that_is_not_an_envelope_is_a_bad_job(body: str) -> None:
    with pytest.raises(BadJobError):
        Job.from_json(body)


def test_an_oversized_payload_is_refused_before_it_is_queued() -> None:
    with pytest.raises(BadJobError, match="larger than"):
        Job(kind="x", payload={"blob": "a" * MAX_PAYLOAD_BYTES}).to_json()


def test_attempts_start_at_one() -> None:
    with pytest.raises(BadJobError):
        Job(kind="x", attempt=0)
