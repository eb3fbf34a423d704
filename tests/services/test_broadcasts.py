"""BroadcastService: recipients checked up front, the tick's slot and pace, at most one send per
recipient through crashes and duplicate ticks, waiting for the session, pause / resume / cancel.
A real SQLite store and MessageService, a fake Evolution, a transport that keeps the queued jobs
and a hand-moved clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chalicelib import errors
from chalicelib.evolution.errors import (
    EvolutionNotConnectedError,
    EvolutionNotOnWhatsAppError,
    EvolutionTimeoutError,
)
from chalicelib.evolution.wire import SentMessage
from chalicelib.jobs.envelope import Job
from chalicelib.jobs.registry import Done, Registry, RunAgain
from chalicelib.jobs.runner import run_job
from chalicelib.models.broadcasts import CreateBroadcast, Suppression
from chalicelib.services.broadcasts import LEASE_S, TICK, BroadcastService, idempotency_key
from chalicelib.services.consent import ConsentService
from chalicelib.services.messages import MessageService
from chalicelib.settings import load_settings
from chalicelib.store.sqlite import SQLiteStore

INSTANCE = "bc-test"
T0 = 1_790_000_000.0


class FakeEvolution:
    """Records each send's number; numbers in ``refuse`` are not on WhatsApp; ``fail`` is raised once."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.refuse: set[str] = set()
        self.fail: Exception | None = None

    def send_text(self, instance: str, number: str, text: str, **_: Any) -> SentMessage:
        if self.fail is not None:
            error, self.fail = self.fail, None
            raise error
        if number in self.refuse:
            raise EvolutionNotOnWhatsAppError("sendText", 400, [number])
        self.sent.append(number)
        return SentMessage(
            message_id=f"3EB0BC{len(self.sent):04d}",
            remote_jid=f"{number}@s.whatsapp.net",
            status="PENDING",
            message_type=None,
        )


class Jobs:
    """A transport that keeps what is queued, for the test to run when it chooses."""

    def __init__(self) -> None:
        self.queued: list[Job] = []

    def enqueue(self, job: Job) -> None:
        self.queued.append(job)

    def wake(self) -> None:
        return None


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class World:
    def __init__(self, tmp_path: Path) -> None:
        self.settings = load_settings(
            EVOLUTION_API_URL="http://evolution.test",
            EVOLUTION_API_KEY="k",
            INSTANCE_NAME=INSTANCE,
            API_KEYS="key",
            WEBHOOK_SECRET="s" * 32,
            STORE_URL=f"sqlite:///{tmp_path}/bc.db",
        )
        self.store = SQLiteStore(str(tmp_path / "bc.db"))
        self.evolution = FakeEvolution()
        self.jobs = Jobs()
        self.clock = Clock()
        self.consent = ConsentService(store=self.store, instance=INSTANCE)
        self.service = BroadcastService(
            store=self.store,
            settings=self.settings,
            consent=self.consent,
            transport=self.jobs,
            messages=self.messages,
            clock=self.clock,
        )
        self.registry = Registry()
        self.registry.register(TICK, self.service.tick)
        self.store.update_instance_state(INSTANCE, state="open", integration="WHATSAPP-BAILEYS")

    def messages(self) -> MessageService:
        return MessageService(
            evolution=self.evolution,  # type: ignore[arg-type]
            store=self.store,
            settings=self.settings,
            consent=self.consent,
            clock=self.clock,
        )

    def create(self, n: int = 3, **body: Any) -> dict[str, Any]:
        values: dict[str, Any] = {
            "name": "reminder",
            "text": "Hola",
            "recipients": [{"to": f"+55119999{i:05d}", "reference": f"cand-{i}"} for i in range(n)],
            "pacing": {"per_minute": 4, "jitter": 0},
        }
        values.update(body)
        return self.service.create(CreateBroadcast.model_validate(values))

    def run_due(self) -> list[Any]:
        """Run every queued job that is due now (the ones they queue stay for later)."""
        due = [j for j in self.jobs.queued if j.not_before <= self.clock.now]
        self.jobs.queued = [j for j in self.jobs.queued if j.not_before > self.clock.now]
        return [run_job(job, registry=self.registry, transport=self.jobs, now=self.clock.now) for job in due]

    def run_to_end(self, limit: int = 200) -> None:
        for _ in range(limit):
            if not self.jobs.queued:
                return
            self.clock.now = max(self.clock.now, min(j.not_before for j in self.jobs.queued))
            self.run_due()
        raise AssertionError("the broadcast never finished")

    def broadcast(self, broadcast_id: str) -> dict[str, Any]:
        return self.service.get(broadcast_id)

    def recipients(self, broadcast_id: str) -> list[dict[str, Any]]:
        page: list[dict[str, Any]] = self.service.recipients(
            broadcast_id, status=None, after=None, limit=100
        )["items"]
        return page


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def test_every_recipient_is_checked_up_front_and_bad_ones_are_skipped_with_a_reason(world: World) -> None:
    world.store.suppress(
        Suppression(
            instance=INSTANCE, to="+5511999900004", reason="keyword", created_at="2026-12-01T00:00:00Z"
        ),
        event=None,
    )
    created = world.create(
        recipients=[
            {"to": "+55 11 9999 00000"},
            {"to": "not a number"},
            {"to": "+5511999900000"},  # the first one again, written differently
            {"to": "+5511999900003"},
            {"to": "+5511999900004"},
        ]
    )
    assert created["status"] == "running" and created["total"] == 5
    assert created["counts"] == {"queued": 2, "sent": 0, "delivered": 0, "read": 0, "failed": 0, "skipped": 3}
    reasons = [(r["to"], r["status"], r["reason"]) for r in world.recipients(created["id"])]
    assert reasons == [
        ("+5511999900000", "queued", None),
        ("not a number", "skipped", "invalid_number"),
        ("+5511999900000", "skipped", "duplicate"),
        ("+5511999900003", "queued", None),
        ("+5511999900004", "skipped", "opted_out"),
    ]


def test_a_template_broadcast_skips_recipients_missing_a_variable_and_refuses_an_unknown_template(
    world: World,
) -> None:
    variables = {"name": "Ana", "date": "lunes", "time": "10:00", "location": "Oficina", "recruiter": "Luis"}
    created = world.create(
        text=None,
        template="interview_reminder",
        language="es",
        recipients=[
            {"to": "+5511999900001", "variables": variables},
            {"to": "+5511999900002", "variables": {}},
        ],
    )
    assert [r["reason"] for r in world.recipients(created["id"])] == [None, "template_variables"]
    with pytest.raises(errors.NotFoundError):
        world.create(text=None, template="no_such_template")
    with pytest.raises(errors.TemplateError, match="language"):
        world.create(text=None, template="interview_reminder", language="e$")
    # a well-formed language the template lacks falls back to its default, as a single send does
    fallback = world.create(
        text=None,
        template="interview_reminder",
        language="fr",
        recipients=[{"to": "+5511999900001", "variables": variables}],
    )
    assert [r["reason"] for r in world.recipients(fallback["id"])] == [None]


def test_ticks_send_each_recipient_once_at_the_pace_and_complete_with_an_event(world: World) -> None:
    created = world.create(4)
    sent_at: list[float] = []
    while world.jobs.queued:
        world.clock.now = min(j.not_before for j in world.jobs.queued)
        before = len(world.evolution.sent)
        world.run_due()
        if len(world.evolution.sent) > before:
            sent_at.append(world.clock.now)
    assert world.evolution.sent == [f"55119999{i:05d}" for i in range(4)]
    assert [b - a for a, b in zip(sent_at, sent_at[1:], strict=False)] == [
        15.0,
        15.0,
        15.0,
    ]  # 4/min, jitter 0
    done = world.broadcast(created["id"])
    assert done["status"] == "completed" and done["counts"]["sent"] == 4 and done["eta"] is None
    events = [
        e for e in world.store.undispatched_events(INSTANCE, limit=50) if e.type == "broadcast.completed"
    ]
    assert len(events) == 1 and events[0].data["id"] == created["id"]
    first = world.recipients(created["id"])[0]
    record = world.store.get_message(INSTANCE, first["message_id"])
    assert record is not None and record.broadcast_id == created["id"] and record.public()["broadcast_id"]


def test_duplicate_and_early_ticks_never_send_faster_than_the_pace_or_twice(world: World) -> None:
    created = world.create(3)
    for _ in range(5):  # duplicate deliveries of the first tick, all at once
        world.jobs.enqueue(Job(kind=TICK, payload={"id": created["id"]}, not_before=T0))
    outcomes = world.run_due()
    assert world.evolution.sent == ["5511999900000"]
    assert sum(isinstance(o, RunAgain) for o in outcomes) == 1  # one chain goes on; the rest end
    world.clock.now = T0 + 14.9
    world.jobs.enqueue(Job(kind=TICK, payload={"id": created["id"]}, not_before=world.clock.now))
    world.run_due()
    assert len(world.evolution.sent) == 1
    world.run_to_end()
    assert sorted(world.evolution.sent) == [f"55119999{i:05d}" for i in range(3)]


def test_jitter_keeps_each_gap_inside_its_band(world: World) -> None:
    created = world.create(30, pacing={"per_minute": 6, "jitter": 0.5})
    gaps: list[float] = []
    while world.jobs.queued:
        before = world.store.get_broadcast(INSTANCE, created["id"])
        assert before is not None
        world.clock.now = min(j.not_before for j in world.jobs.queued)
        world.run_due()
        after = world.store.get_broadcast(INSTANCE, created["id"])
        assert after is not None
        if after.next_send_at != before.next_send_at and after.status == "running":
            gaps.append(after.next_send_at - world.clock.now)
    assert len(gaps) >= 25 and all(5.0 <= g <= 15.0 for g in gaps)  # 10 s ± 50 %
    assert len({round(g, 3) for g in gaps}) > 5  # it really varies


def test_a_permanent_failure_fails_that_recipient_and_the_broadcast_goes_on(world: World) -> None:
    world.evolution.refuse.add("5511999900001")
    created = world.create(3)
    world.run_to_end()
    rows = world.recipients(created["id"])
    assert [r["status"] for r in rows] == ["sent", "failed", "sent"]
    assert rows[1]["reason"] == "RecipientNotOnWhatsApp" and rows[1]["message_id"] is not None
    assert world.broadcast(created["id"])["status"] == "completed"


def test_sending_waits_while_the_session_is_not_open_and_resumes_when_it_opens(world: World) -> None:
    created = world.create(2)
    world.store.update_instance_state(INSTANCE, state="close")
    world.run_due()
    assert world.evolution.sent == []
    waiting = world.broadcast(created["id"])
    assert waiting["waiting_for"] == "session" and waiting["counts"]["queued"] == 2
    world.clock.now += 5
    world.store.update_instance_state(INSTANCE, state="open")
    assert world.service.session_opened() == 1
    world.run_due()
    assert world.evolution.sent == ["5511999900000"]
    world.run_to_end()
    assert world.broadcast(created["id"])["status"] == "completed"


def test_a_session_closed_under_a_send_keeps_the_recipient_queued(world: World) -> None:
    created = world.create(2)
    closed = EvolutionNotConnectedError("sendText", 400, ["Connection Closed"])
    closed.from_evolution = True  # in Evolution's own error envelope: it did not send
    world.evolution.fail = closed
    world.run_due()
    assert [r["status"] for r in world.recipients(created["id"])] == ["queued", "queued"]
    assert world.broadcast(created["id"])["waiting_for"] == "session"
    world.run_to_end()
    assert world.evolution.sent == ["5511999900000", "5511999900001"]


def test_a_send_cut_by_a_crash_is_failed_as_unknown_outcome_and_never_sent_again(world: World) -> None:
    created = world.create(2)
    # a worker took the slot and the recipient, claimed the key, then died before any answer
    assert world.store.claim_slot(
        INSTANCE, created["id"], now=T0, lease_until=T0 + LEASE_S, token="dead", next_send_at=T0 + 15
    )
    world.store.transition_recipient(INSTANCE, created["id"], 0, old="queued", new="sending")
    world.store.claim_idempotency(
        f"{INSTANCE}:{idempotency_key(created['id'], 0)}", "fp", now=T0, ttl_s=86_400
    )
    world.jobs.queued.clear()
    world.clock.now = T0 + 60  # the lease is still live: nobody may send
    assert world.service.sweep() == 0
    world.clock.now = T0 + LEASE_S + 31  # the lease expired; the sweep revives the broadcast
    assert world.service.sweep() == 1
    world.run_to_end()
    rows = world.recipients(created["id"])
    assert (rows[0]["status"], rows[0]["reason"]) == ("failed", "unknown_outcome")
    assert world.evolution.sent == ["5511999900001"]  # the first was never sent again
    assert world.broadcast(created["id"])["status"] == "completed"


def test_a_send_that_finished_before_the_crash_is_settled_from_its_stored_answer(world: World) -> None:
    created = world.create(2)
    messages = world.messages()
    request, fingerprint = world.service._request(
        world.store.get_broadcast(INSTANCE, created["id"]),  # type: ignore[arg-type]
        world.store.get_recipient(created["id"], 0),  # type: ignore[arg-type]
    )
    world.store.transition_recipient(INSTANCE, created["id"], 0, old="queued", new="sending")
    outcome = messages.deliver(
        request, idempotency_key=idempotency_key(created["id"], 0), fingerprint=fingerprint
    )
    assert outcome.status == 201  # ...and the worker died before writing the recipient
    world.run_to_end()
    rows = world.recipients(created["id"])
    assert rows[0]["status"] == "sent" and rows[0]["message_id"] == outcome.body["id"]
    assert world.evolution.sent == ["5511999900000", "5511999900001"]


def test_a_timed_out_send_is_failed_as_unknown_outcome_and_its_record_kept(world: World) -> None:
    created = world.create(1)
    world.evolution.fail = EvolutionTimeoutError("sendText", "read timed out")
    world.run_to_end()
    row = world.recipients(created["id"])[0]
    assert (row["status"], row["reason"]) == ("failed", "unknown_outcome") and row["message_id"]


def test_pause_stops_sending_resume_goes_on_and_a_finished_broadcast_refuses_both(world: World) -> None:
    created = world.create(3)
    world.run_due()
    paused = world.service.pause(created["id"])
    assert paused["status"] == "paused" and paused["eta"] is None
    world.run_to_end()
    assert len(world.evolution.sent) == 1
    with pytest.raises(errors.ConflictError):
        world.service.pause(created["id"])
    assert world.service.resume(created["id"])["status"] == "running"
    world.run_to_end()
    assert len(world.evolution.sent) == 3
    with pytest.raises(errors.ConflictError):
        world.service.resume(created["id"])
    with pytest.raises(errors.ConflictError):
        world.service.cancel(created["id"])


def test_cancel_stops_a_broadcast_for_good(world: World) -> None:
    created = world.create(3)
    world.run_due()
    cancelled = world.service.cancel(created["id"])
    assert cancelled["status"] == "cancelled" and cancelled["completed_at"]
    world.run_to_end()
    assert len(world.evolution.sent) == 1
    with pytest.raises(errors.ConflictError):
        world.service.resume(created["id"])


def test_a_later_start_waits_and_reports_its_eta(world: World) -> None:
    created = world.create(3, start_at="2026-09-21T15:00:00Z")  # T0 + 2,800 s
    assert created["status"] == "scheduled" and created["waiting_for"] == "start"
    assert created["eta"] == "2026-09-21T15:00:30Z"  # the third send, 2 gaps of 15 s after the start
    world.run_due()
    assert world.evolution.sent == []
    world.run_to_end()
    assert len(world.evolution.sent) == 3 and world.broadcast(created["id"])["status"] == "completed"


def test_outside_the_window_it_waits_for_the_window_to_open(world: World) -> None:
    # T0 is 2026-09-21T14:13:20Z, 08:13:20 in Mexico City (UTC-6); the window opens at 10:00 there
    window = {"start": "10:00", "end": "18:00", "timezone": "America/Mexico_City"}
    created = world.create(1, pacing={"per_minute": 4, "jitter": 0, "window": window})
    outcome = world.run_due()
    assert world.evolution.sent == [] and outcome == [RunAgain(at=T0 + 6400)]
    assert world.broadcast(created["id"])["waiting_for"] == "window"
    world.run_to_end()
    assert len(world.evolution.sent) == 1


def test_a_recipient_that_opts_out_after_creation_is_skipped(world: World) -> None:
    created = world.create(2)
    world.store.suppress(
        Suppression(
            instance=INSTANCE, to="+5511999900000", reason="keyword", created_at="2026-12-01T00:00:00Z"
        ),
        event=None,
    )
    world.run_to_end()
    assert [(r["status"], r["reason"]) for r in world.recipients(created["id"])] == [
        ("skipped", "opted_out"),
        ("sent", None),
    ]
    assert world.evolution.sent == ["5511999900001"]


def test_a_recipient_follows_its_message_status_and_never_goes_back(world: World) -> None:
    created = world.create(1)
    world.run_to_end()
    message_id = world.recipients(created["id"])[0]["message_id"]
    record = world.store.get_message(INSTANCE, message_id)
    assert record is not None and record.message_id is not None
    read = world.store.apply_status(INSTANCE, record.message_id, "read", at="2026-12-01T00:00:05Z").record
    assert read is not None
    world.service.follow(read)
    world.service.follow(record)  # a late, older status
    assert world.recipients(created["id"])[0]["status"] == "read"
    assert world.broadcast(created["id"])["counts"]["read"] == 1


def test_an_unknown_tick_is_done(world: World) -> None:
    assert world.service.tick(Job(kind=TICK, payload={"id": "bc_missing"})) == Done()
