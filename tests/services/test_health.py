"""The scheduled health job: its summary, EMF metrics, alerts on leaving ``open``, auto-restart with backoff."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from responses import RequestsMock

from chalicelib.evolution import EvolutionClient
from chalicelib.services.health import RESTART_BACKOFF_CAP_S, RESTART_BACKOFF_S, HealthService
from chalicelib.settings import load_settings
from chalicelib.store.sqlite import SQLiteStore
from tests.conftest import API_KEY, EVOLUTION_URL, INSTANCE, REPO, WEBHOOK_SECRET

STATE_URL = f"{EVOLUTION_URL}/instance/connectionState/{INSTANCE}"
CONNECT_URL = f"{EVOLUTION_URL}/instance/connect/{INSTANCE}"
TOPIC = "arn:aws:sns:us-east-1:123456789012:whatsapp-alerts"
EVOLUTION_KEY = "evolution-key-for-health-tests"
SECRETS = (EVOLUTION_KEY, "evolution-global-key", API_KEY, WEBHOOK_SECRET)
T0 = 1_795_600_800.0  # 2026-11-25T10:00:00Z
HEALTH_LOGGER = "chalicelib.services.health"


def _state(evolution: RequestsMock, state: str) -> None:
    evolution.get(STATE_URL, json={"instance": {"instanceName": INSTANCE, "state": state}})


def _unreachable(evolution: RequestsMock) -> None:
    evolution.get(STATE_URL, body=requests.exceptions.ConnectionError("connection refused"))


def _restart_ok(evolution: RequestsMock) -> None:
    evolution.get(CONNECT_URL, json={"instance": {"instanceName": INSTANCE, "state": "open"}})


def _restarts(evolution: RequestsMock) -> int:
    return sum(1 for c in evolution.calls if c.request.method == "GET" and c.request.url == CONNECT_URL)


def _emf(stdout: str) -> list[dict[str, Any]]:
    """The Embedded Metric Format documents among the lines printed on stdout."""
    documents = []
    for line in stdout.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if isinstance(document, dict) and "_aws" in document:
            documents.append(document)
    return documents


def _alerts(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == HEALTH_LOGGER and r.levelno == logging.ERROR]


class RecordingPublisher:
    """Stands in for the SNS client: records every ``publish``; fails when given an error."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self._error = error

    def publish(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self._error is not None:
            raise self._error
        return {"MessageId": f"message-{len(self.calls)}"}


class FakeClock:
    """Epoch seconds that only move when a test moves them."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- the job through the Chalice test client -----------------------------------------------------


@pytest.fixture
def run_job(service_env: Path) -> Iterator[Callable[[], dict[str, Any]]]:
    """Invokes the ``health_check`` schedule the way CloudWatch Events does; returns its payload."""
    from chalice.test import Client

    from app import app

    with Client(app, stage_name="dev", project_dir=str(REPO)) as client:
        event = client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
        )

        def run() -> dict[str, Any]:
            payload: dict[str, Any] = client.lambda_.invoke("health_check", event).payload
            return payload

        yield run


def test_the_job_returns_a_summary_of_the_checks(
    run_job: Callable[[], dict[str, Any]], evolution: RequestsMock
) -> None:
    _state(evolution, "open")
    payload = run_job()
    latency = payload.pop("evolution_latency_ms")
    assert isinstance(latency, int) and latency >= 0
    assert payload == {
        "status": "ok",
        "instance_state": "open",
        "previous_state": None,
        "alerted": False,
        "restarted": False,
    }


def test_the_job_prints_one_emf_line_with_the_three_metrics(
    run_job: Callable[[], dict[str, Any]], evolution: RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    _state(evolution, "open")
    capsys.readouterr()
    payload = run_job()
    [document] = _emf(capsys.readouterr().out)
    [directive] = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "WhatsAppEvolution"
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {
        "EvolutionUp": "Count",
        "InstanceConnected": "Count",
        "EvolutionLatency": "Milliseconds",
    }
    assert directive["Dimensions"] == [["stage", "service"]]
    assert document["stage"] == "dev"
    assert document["EvolutionUp"] == [1.0]
    assert document["InstanceConnected"] == [1.0]
    assert document["EvolutionLatency"] == [float(payload["evolution_latency_ms"])]


def test_the_job_logs_one_structured_summary_line(
    run_job: Callable[[], dict[str, Any]], evolution: RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=HEALTH_LOGGER)
    _state(evolution, "open")
    payload = run_job()
    [record] = [r for r in caplog.records if r.name == HEALTH_LOGGER]
    assert record.levelno == logging.INFO
    assert record.__dict__["health"] == payload


def test_leaving_open_alerts_once_per_transition(
    run_job: Callable[[], dict[str, Any]],
    evolution: RequestsMock,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for state in ("open", "close", "close", "open", "connecting"):
        _state(evolution, state)
    runs = [run_job() for _ in range(5)]
    assert [(r["previous_state"], r["instance_state"], r["alerted"]) for r in runs] == [
        (None, "open", False),
        ("open", "close", True),
        ("close", "close", False),  # still closed: no second alert
        ("close", "open", False),
        ("open", "connecting", True),  # a new transition away from open
    ]
    alerts = _alerts(caplog)
    assert [r.__dict__["alert"]["state"] for r in alerts] == ["close", "connecting"]
    assert alerts[0].__dict__["alert"] == {
        "alert": "whatsapp-session-lost",
        "instance": INSTANCE,
        "stage": "dev",
        "previous_state": "open",
        "state": "close",
    }
    documents = _emf(capsys.readouterr().out)
    assert [d["InstanceConnected"] for d in documents] == [[1.0], [0.0], [0.0], [1.0], [0.0]]
    assert all(d["EvolutionUp"] == [1.0] for d in documents)


def test_an_unreachable_evolution_is_down_with_evolution_up_0_and_no_crash(
    run_job: Callable[[], dict[str, Any]], evolution: RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    _unreachable(evolution)
    capsys.readouterr()
    payload = run_job()
    assert payload["status"] == "down"
    assert payload["instance_state"] == "unknown"
    assert payload["restarted"] is False
    [document] = _emf(capsys.readouterr().out)
    assert document["EvolutionUp"] == [0.0]
    assert document["InstanceConnected"] == [0.0]


def test_an_unknown_instance_is_degraded_but_evolution_is_up(
    run_job: Callable[[], dict[str, Any]], evolution: RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    evolution.get(STATE_URL, status=404, json={"status": 404, "response": {"message": ["does not exist"]}})
    capsys.readouterr()
    payload = run_job()
    assert (payload["status"], payload["instance_state"]) == ("degraded", "missing")
    [document] = _emf(capsys.readouterr().out)
    assert (document["EvolutionUp"], document["InstanceConnected"]) == ([1.0], [0.0])


# -- the service itself, with fakes passed in ----------------------------------------------------


@pytest.fixture
def make_health(service_env: Path) -> Iterator[Callable[..., HealthService]]:
    """Builds a ``HealthService`` over a fresh SQLite store; keyword arguments override settings."""
    stores: list[SQLiteStore] = []

    def make(
        *,
        publisher: Any = None,
        clock: Callable[[], float] | None = None,
        store_path: Path | None = None,
        **overrides: Any,
    ) -> HealthService:
        store = SQLiteStore(str(store_path or service_env / "health.db"))
        stores.append(store)
        return HealthService(
            evolution=EvolutionClient(EVOLUTION_URL, EVOLUTION_KEY),
            store=store,
            settings=load_settings(**overrides),
            publisher=publisher,
            clock=clock or FakeClock(),
        )

    yield make
    for store in stores:
        store.close()


def test_leaving_open_publishes_one_sns_alert_naming_instance_and_state_without_secrets(
    make_health: Callable[..., HealthService], evolution: RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    publisher = RecordingPublisher()
    health = make_health(publisher=publisher, ALERT_TOPIC_ARN=TOPIC)
    for state in ("open", "close", "close"):
        _state(evolution, state)
    assert [health.run_scheduled()["alerted"] for _ in range(3)] == [False, True, False]
    [call] = publisher.calls
    assert set(call) == {"TopicArn", "Subject", "Message"}
    assert call["TopicArn"] == TOPIC
    assert INSTANCE in call["Subject"] and "close" in call["Subject"]
    assert len(call["Subject"]) <= 100  # SNS's limit for a subject
    assert json.loads(call["Message"]) == {
        "alert": "whatsapp-session-lost",
        "instance": INSTANCE,
        "stage": "dev",
        "previous_state": "open",
        "state": "close",
    }
    published = json.dumps(call)
    assert not [secret for secret in SECRETS if secret in published]
    assert len(_alerts(caplog)) == 1  # the log line is emitted as well


def test_without_a_topic_the_alert_is_only_the_error_log_line(
    make_health: Callable[..., HealthService], evolution: RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    publisher = RecordingPublisher()
    health = make_health(publisher=publisher)
    _state(evolution, "open")
    _state(evolution, "close")
    health.run_scheduled()
    assert health.run_scheduled()["alerted"] is True
    assert publisher.calls == []
    [record] = _alerts(caplog)
    assert record.__dict__["alert"]["state"] == "close"
    assert not [
        secret for secret in SECRETS if secret in record.getMessage() + json.dumps(record.__dict__["alert"])
    ]


def test_a_failing_sns_publish_is_logged_and_the_job_goes_on(
    make_health: Callable[..., HealthService], evolution: RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    publisher = RecordingPublisher(error=ConnectionError("sns is down"))
    health = make_health(publisher=publisher, ALERT_TOPIC_ARN=TOPIC)
    _state(evolution, "open")
    _state(evolution, "close")
    health.run_scheduled()
    summary = health.run_scheduled()
    assert summary["alerted"] is True
    assert len(publisher.calls) == 1
    messages = [r.getMessage() for r in _alerts(caplog)]
    assert messages == ["WhatsApp session left the open state", "could not publish the alert to SNS"]
    assert health.store is not None
    saved = health.store.get_instance_state(INSTANCE)
    assert saved is not None and saved.checked_state == "close"  # remembered despite the failure


def test_auto_restart_restarts_a_closed_session_once_per_backoff_window(
    make_health: Callable[..., HealthService], evolution: RequestsMock
) -> None:
    clock = FakeClock()
    health = make_health(clock=clock, AUTO_RESTART=True)
    _state(evolution, "close")
    _restart_ok(evolution)
    store = health.store
    assert store is not None

    assert health.run_scheduled()["restarted"] is True
    assert _restarts(evolution) == 1
    saved = store.get_instance_state(INSTANCE)
    assert saved is not None
    assert (saved.restart_attempts, saved.next_restart_at) == (1, T0 + RESTART_BACKOFF_S)

    clock.now = T0 + RESTART_BACKOFF_S - 1  # still inside the window
    assert health.run_scheduled()["restarted"] is False
    assert _restarts(evolution) == 1

    clock.now = T0 + RESTART_BACKOFF_S  # the window is over
    assert health.run_scheduled()["restarted"] is True
    assert _restarts(evolution) == 2

    second = clock.now
    clock.now = second + 2 * RESTART_BACKOFF_S - 1  # the window has doubled
    assert health.run_scheduled()["restarted"] is False
    clock.now = second + 2 * RESTART_BACKOFF_S
    assert health.run_scheduled()["restarted"] is True
    assert _restarts(evolution) == 3
    saved = store.get_instance_state(INSTANCE)
    assert saved is not None
    assert (saved.restart_attempts, saved.next_restart_at) == (3, clock.now + 4 * RESTART_BACKOFF_S)


def test_the_restart_backoff_is_capped(
    make_health: Callable[..., HealthService], evolution: RequestsMock
) -> None:
    clock = FakeClock()
    health = make_health(clock=clock, AUTO_RESTART=True)
    assert health.store is not None
    health.store.update_instance_state(
        INSTANCE, checked_state="close", restart_attempts=30, next_restart_at=T0
    )
    _state(evolution, "close")
    _restart_ok(evolution)
    assert health.run_scheduled()["restarted"] is True
    saved = health.store.get_instance_state(INSTANCE)
    assert saved is not None
    assert saved.next_restart_at == T0 + RESTART_BACKOFF_CAP_S


def test_an_open_session_resets_the_restart_backoff(
    make_health: Callable[..., HealthService], evolution: RequestsMock
) -> None:
    clock = FakeClock()
    health = make_health(clock=clock, AUTO_RESTART=True)
    for state in ("close", "open", "close"):
        _state(evolution, state)
    _restart_ok(evolution)
    assert health.run_scheduled()["restarted"] is True
    clock.now += 10
    assert health.run_scheduled()["restarted"] is False
    assert health.store is not None
    saved = health.store.get_instance_state(INSTANCE)
    assert saved is not None
    assert (saved.restart_attempts, saved.next_restart_at) == (0, None)
    clock.now += 10  # well inside the old window, but the session was open in between
    assert health.run_scheduled()["restarted"] is True
    assert _restarts(evolution) == 2


def test_without_auto_restart_a_closed_session_is_left_alone(
    make_health: Callable[..., HealthService], evolution: RequestsMock
) -> None:
    health = make_health()
    _state(evolution, "close")
    assert [health.run_scheduled()["restarted"] for _ in range(2)] == [False, False]
    assert _restarts(evolution) == 0


def test_a_refused_restart_counts_as_an_attempt_and_does_not_crash_the_job(
    make_health: Callable[..., HealthService], evolution: RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    health = make_health(AUTO_RESTART=True)
    _state(evolution, "close")
    # connect never fails at HTTP level: its errors come back as 200 {"error": true} (CONTRACT.md §2).
    evolution.get(CONNECT_URL, json={"error": True, "message": "[object Object]"})
    summary = health.run_scheduled()
    assert summary["restarted"] is False
    assert _restarts(evolution) == 1
    assert health.store is not None
    saved = health.store.get_instance_state(INSTANCE)
    assert saved is not None
    assert (saved.restart_attempts, saved.next_restart_at) == (1, T0 + RESTART_BACKOFF_S)
    assert "auto-restart failed" in [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_a_session_that_is_pairing_is_never_restarted(
    make_health: Callable[..., HealthService], evolution: RequestsMock
) -> None:
    health = make_health(AUTO_RESTART=True)
    _state(evolution, "connecting")
    _state(evolution, "connecting")
    assert [health.run_scheduled()["restarted"] for _ in range(2)] == [False, False]
    assert _restarts(evolution) == 0


def test_an_unreachable_evolution_is_down_and_never_restarted(
    make_health: Callable[..., HealthService], evolution: RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    health = make_health(AUTO_RESTART=True)
    _unreachable(evolution)
    capsys.readouterr()
    report_summary = health.run_scheduled()
    assert (report_summary["status"], report_summary["instance_state"]) == ("down", "unknown")
    assert report_summary["restarted"] is False
    assert _restarts(evolution) == 0
    [document] = _emf(capsys.readouterr().out)
    assert document["EvolutionUp"] == [0.0]


def test_an_unavailable_store_degrades_the_report_but_the_job_still_runs(
    make_health: Callable[..., HealthService], evolution: RequestsMock, service_env: Path
) -> None:
    (service_env / "not-a-directory").write_text("")
    health = make_health(store_path=service_env / "not-a-directory" / "health.db")
    _state(evolution, "open")
    summary = health.run_scheduled()
    assert (summary["status"], summary["instance_state"], summary["previous_state"]) == (
        "degraded",
        "open",
        None,
    )
    assert health.check().body["checks"]["store"] == {"ok": False, "error": "unavailable"}
