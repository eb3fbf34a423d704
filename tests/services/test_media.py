"""The media service: the fetch job (retries, failure for good, duplicates, the sweep), the link,
content types and names — on a real SQLite store and local blobs, with a fake Evolution."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib import errors
from chalicelib.evolution import errors as evo
from chalicelib.evolution.wire import MediaContent
from chalicelib.jobs.envelope import Job
from chalicelib.jobs.registry import DONE, Registry, RunAgain
from chalicelib.media.blobs import LocalBlobs
from chalicelib.services.media import (
    FETCH,
    MAX_ATTEMPTS,
    REFUSED_ATTEMPTS,
    MediaService,
    media_key,
    retry_delay,
)
from chalicelib.store.sqlite import SQLiteStore
from tests.jobs.fakes import ListTransport
from tests.store.conftest import INSTANCE, inbound

PDF = b"%PDF-1.7\n" + b"x" * 5000
NOW = 1_790_000_000.0


class FakeEvolution:
    """Answers get_media from a script: a MediaContent, or an error to raise."""

    def __init__(self, *answers: MediaContent | Exception) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, str, int]] = []

    def get_media(self, instance: str, message_id: str, *, max_bytes: int) -> MediaContent:
        self.calls.append((instance, message_id, max_bytes))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def pdf(data: bytes = PDF, mimetype: str | None = "application/pdf") -> MediaContent:
    return MediaContent(data=data, mimetype=mimetype, file_name="cv.pdf", media_type="documentMessage")


def not_found() -> evo.EvolutionBadRequestError:
    return evo.EvolutionBadRequestError("getBase64FromMediaMessage", 400, ["Message not found"])


def down() -> evo.EvolutionConnectError:
    return evo.EvolutionConnectError("getBase64FromMediaMessage", "connection failed")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(str(tmp_path / "store.db"))
    yield store
    store.close()


@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobs:
    return LocalBlobs(str(tmp_path / "media"), signing_key=b"k" * 32)


def service(store: SQLiteStore, blobs: LocalBlobs, evolution: FakeEvolution, **kw: Any) -> MediaService:
    values: dict[str, Any] = {"max_bytes": 64 * 1024, "transport": ListTransport(), "clock": lambda: NOW}
    values.update(kw)
    return MediaService(store=store, evolution=evolution, blobs=blobs, instance=INSTANCE, **values)  # type: ignore[arg-type]


def document(n: int = 1, **media: Any) -> Any:
    meta = {"mimetype": "application/pdf", "file_name": "../cv final.pdf", "size": len(PDF), "stored": False}
    return inbound(n, type="document", text=None, media=meta | media)


def received(store: SQLiteStore) -> list[dict[str, Any]]:
    return [e.data for e in store.undispatched_events(INSTANCE, limit=50) if e.type == "message.received"]


def test_the_fetch_job_stores_the_file_and_settles_the_record_with_its_event(
    store: SQLiteStore, blobs: LocalBlobs
) -> None:
    record = document()
    store.insert_inbound(record)
    evolution = FakeEvolution(pdf())
    media = service(store, blobs, evolution)

    assert media.handle_fetch(Job(kind=FETCH, payload={"id": record.id})) is DONE

    assert evolution.calls == [(INSTANCE, record.message_id, 64 * 1024)]
    assert blobs.read(media_key(INSTANCE, record.id)) == PDF
    stored = store.get_message(INSTANCE, record.id)
    assert stored is not None and stored.media is not None
    assert stored.media["stored"] is True
    assert stored.media["size"] == len(PDF)
    assert stored.media["sha256"] == hashlib.sha256(PDF).hexdigest()
    (event,) = received(store)
    assert event["media"]["stored"] is True and event["media"]["sha256"] == stored.media["sha256"]


def test_a_duplicate_job_after_the_file_is_stored_does_not_fetch_again(
    store: SQLiteStore, blobs: LocalBlobs
) -> None:
    record = document()
    store.insert_inbound(record)
    evolution = FakeEvolution(pdf())
    media = service(store, blobs, evolution)
    job = Job(kind=FETCH, payload={"id": record.id})

    media.handle_fetch(job)
    assert media.handle_fetch(job) is DONE
    assert media.handle_fetch(Job(kind=FETCH, payload={"id": "msg_unknown"})) is DONE

    assert len(evolution.calls) == 1
    assert len(received(store)) == 1


def test_transient_failures_run_again_with_growing_delays_then_succeed(
    store: SQLiteStore, blobs: LocalBlobs
) -> None:
    record = document()
    store.insert_inbound(record)
    evolution = FakeEvolution(down(), evo.EvolutionServerError("op", 500, ["boom"]), pdf())
    media = service(store, blobs, evolution)
    registry = Registry()
    media.register(registry)
    handler = registry.handler(FETCH)

    first = handler(Job(kind=FETCH, payload={"id": record.id}, attempt=1))
    second = handler(Job(kind=FETCH, payload={"id": record.id}, attempt=2))
    third = handler(Job(kind=FETCH, payload={"id": record.id}, attempt=3))

    assert first == RunAgain(at=NOW + retry_delay(1)) and retry_delay(1) == 5.0
    assert second == RunAgain(at=NOW + retry_delay(2)) and retry_delay(2) > retry_delay(1)
    assert third is DONE
    assert received(store)[0]["media"]["stored"] is True


def test_after_the_last_attempt_the_fetch_has_failed_for_good_and_the_event_says_stored_false(
    store: SQLiteStore, blobs: LocalBlobs
) -> None:
    record = document()
    store.insert_inbound(record)
    media = service(store, blobs, FakeEvolution(down()))

    outcomes = [
        media.handle_fetch(Job(kind=FETCH, payload={"id": record.id}, attempt=n)) for n in range(1, 7)
    ]

    assert all(isinstance(o, RunAgain) for o in outcomes[:-1]) and outcomes[-1] is DONE
    assert len(outcomes) == MAX_ATTEMPTS
    (event,) = received(store)
    assert event["media"]["stored"] is False and "connection failed" in event["media"]["error"]
    assert store.media_waiting(INSTANCE, before="2100-01-01T00:00:00Z", limit=10) == []


def test_evolution_refusals_are_retried_fewer_times(store: SQLiteStore, blobs: LocalBlobs) -> None:
    record = document()
    store.insert_inbound(record)
    media = service(store, blobs, FakeEvolution(not_found()))

    outcomes = [media.handle_fetch(Job(kind=FETCH, payload={"id": record.id}, attempt=n)) for n in (1, 2, 3)]

    assert [type(o).__name__ for o in outcomes] == ["RunAgain", "RunAgain", "Done"]
    assert REFUSED_ATTEMPTS == 3
    assert received(store)[0]["media"]["stored"] is False


def test_a_file_over_the_limit_fails_for_good_at_once_without_storing_anything(
    store: SQLiteStore, blobs: LocalBlobs
) -> None:
    declared_big = document(1, size=10 * 1024 * 1024)
    store.insert_inbound(declared_big)
    answered_big = document(2)
    store.insert_inbound(answered_big)
    too_large = evo.EvolutionTooLargeError("getBase64FromMediaMessage", 201, ["over"])
    evolution = FakeEvolution(too_large)
    media = service(store, blobs, evolution)

    assert media.handle_fetch(Job(kind=FETCH, payload={"id": declared_big.id})) is DONE
    assert media.handle_fetch(Job(kind=FETCH, payload={"id": answered_big.id})) is DONE

    assert len(evolution.calls) == 1  # the declared size alone refused the first
    assert [e["media"]["stored"] for e in received(store)] == [False, False]
    assert blobs.read(media_key(INSTANCE, declared_big.id)) is None


def test_the_stored_type_comes_from_the_bytes_when_the_declared_one_disagrees(
    store: SQLiteStore, blobs: LocalBlobs
) -> None:
    record = document(1, mimetype="image/png")
    store.insert_inbound(record)
    jpeg = b"\xff\xd8\xff\xe0" + b"j" * 100
    media = service(store, blobs, FakeEvolution(pdf(jpeg, mimetype="image/png")))

    stored = media.fetch(record)

    assert stored.media is not None
    assert stored.media["mimetype"] == "image/jpeg"
    assert stored.media["declared_mimetype"] == "image/png"


def test_the_sweep_queues_a_last_fetch_for_records_waiting_longer_than_any_retry_chain(
    store: SQLiteStore, blobs: LocalBlobs
) -> None:
    old = document(1)  # created 2026-11-25: long ago
    store.insert_inbound(old)
    transport = ListTransport()
    media = service(store, blobs, FakeEvolution(down()), transport=transport)

    assert media.sweep() == 1

    (job,) = transport.jobs
    assert (job.kind, job.payload, job.attempt) == (FETCH, {"id": old.id}, MAX_ATTEMPTS)
    assert media.handle_fetch(job) is DONE  # that last attempt fails: failed for good
    assert media.sweep() == 0


def test_queueing_survives_a_broken_transport(store: SQLiteStore, blobs: LocalBlobs) -> None:
    class Broken(ListTransport):
        def enqueue(self, job: Job) -> None:
            raise OSError("queue down")

    media = service(store, blobs, FakeEvolution(pdf()), transport=Broken())

    media.queue_fetch("msg_1")  # logged; the record waits for the sweep


def test_the_link_of_a_stored_file_is_signed_and_says_what_is_served(
    store: SQLiteStore, blobs: LocalBlobs
) -> None:
    record = document()
    store.insert_inbound(record)
    media = service(store, blobs, FakeEvolution(pdf()), url_ttl_s=600)
    media.handle_fetch(Job(kind=FETCH, payload={"id": record.id}))

    link = media.link(record.message_id or "", base_url="http://127.0.0.1:8000")

    assert link["url"].startswith(
        f"http://127.0.0.1:8000/media/{record.id}?expires={int(NOW) + 600}&signature="
    )
    assert link["mimetype"] == "application/pdf"
    assert link["filename"] == "cv final.pdf"
    assert link["size"] == len(PDF) and link["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert link["expires_at"] == "2026-09-21T14:23:20Z"


def test_a_link_to_media_not_stored_yet_fetches_it_now(store: SQLiteStore, blobs: LocalBlobs) -> None:
    record = document()
    store.insert_inbound(record)
    evolution = FakeEvolution(pdf())
    media = service(store, blobs, evolution)

    link = media.link(record.id, base_url="")

    assert len(evolution.calls) == 1 and link["size"] == len(PDF)
    assert len(received(store)) == 1  # the wait ended with this fetch: the event went out


def test_a_link_is_404_without_media_and_502_when_evolution_cannot_give_it(
    store: SQLiteStore, blobs: LocalBlobs
) -> None:
    plain = inbound(1)
    store.insert_inbound(plain)
    record = document(2)
    store.insert_inbound(record)
    media = service(store, blobs, FakeEvolution(not_found()))

    with pytest.raises(errors.NotFoundError, match="no media"):
        media.link(plain.id, base_url="")
    with pytest.raises(errors.NotFoundError, match="No message"):
        media.link("msg_nothing", base_url="")
    with pytest.raises(errors.MediaUnavailableError) as caught:
        media.link(record.id, base_url="")
    assert caught.value.status == 502 and caught.value.code == "MediaUnavailable"
    waiting = store.get_message(INSTANCE, record.id)
    assert waiting is not None and waiting.media is not None and waiting.media["stored"] is False
    assert received(store)[-1]["id"] == plain.id  # the failed request did not end the wait
