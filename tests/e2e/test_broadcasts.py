"""Broadcasts end to end, against the simulator and `chalice local`: the pace measured from the
simulator's receive times, pause / resume, a session dropped mid-broadcast, a "BAJA" reply, and a
kill -9 of the service mid-broadcast followed by a restart on the same store."""

from __future__ import annotations

import itertools
import os
import secrets
import signal
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.procs import (
    INSTANCE,
    Stack,
    ensure_connected,
    free_port,
    start_process,
    state,
    stop_process,
    wait_for,
    wait_for_port,
)

pytestmark = pytest.mark.e2e

_numbers = itertools.count(1)


def _recipients(n: int) -> list[str]:
    """Numbers no other test of the session uses (the simulator's sent log is shared)."""
    return [f"+55219{next(_numbers) + 88_000_000:08d}" for _ in range(n)]


def _create(stack: Stack, numbers: list[str], **pacing: Any) -> dict[str, Any]:
    body = {
        "name": "e2e broadcast",
        "text": "Recordatorio: entrevista mañana a las 10:00.",
        "recipients": [{"to": n, "reference": f"cand-{i}"} for i, n in enumerate(numbers)],
        "pacing": {"per_minute": 60, "jitter": 0} | pacing,
    }
    response = stack.api("POST", "/broadcasts", json=body)
    assert response.status_code == 202, response.text
    created: dict[str, Any] = response.json()
    return created


def _sent_times(stack: Stack, numbers: list[str]) -> dict[str, list[float]]:
    """Each number's receive times at the simulator (epoch seconds)."""
    digits = {n.lstrip("+") for n in numbers}
    times: dict[str, list[float]] = {d: [] for d in digits}
    for record in stack.sim("GET", "/sent").json():
        number = str((record.get("body") or {}).get("number", ""))
        if number in digits and record.get("status") in (200, 201):
            times[number].append(datetime.fromisoformat(record["at"].replace("Z", "+00:00")).timestamp())
    return times


def _broadcast(stack: Stack, broadcast_id: str) -> dict[str, Any]:
    response = stack.api("GET", f"/broadcasts/{broadcast_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _finished(stack: Stack, broadcast_id: str, timeout: float) -> dict[str, Any]:
    done: dict[str, Any] = wait_for(
        lambda: (b := _broadcast(stack, broadcast_id))["status"] == "completed" and b,
        timeout=timeout,
        interval=0.2,
        what="the broadcast to complete",
    )
    return done


def _gaps(times: dict[str, list[float]]) -> list[float]:
    ordered = sorted(t for ts in times.values() for t in ts)
    return [b - a for a, b in itertools.pairwise(ordered)]


def test_without_jitter_the_gaps_the_simulator_sees_are_within_10_percent_of_their_mean(
    connected: Stack,
) -> None:
    numbers = _recipients(8)
    created = _create(connected, numbers)
    done = _finished(connected, created["id"], timeout=30)
    assert done["counts"]["sent"] + done["counts"]["delivered"] + done["counts"]["read"] == 8
    times = _sent_times(connected, numbers)
    assert all(len(ts) == 1 for ts in times.values()), times
    gaps = _gaps(times)
    mean = statistics.mean(gaps)
    assert 0.95 <= mean <= 1.1, gaps  # 60 per minute
    assert all(abs(g - mean) <= 0.1 * mean for g in gaps), gaps


def test_with_jitter_every_gap_is_inside_the_jitter_band(connected: Stack) -> None:
    numbers = _recipients(8)
    created = _create(connected, numbers, jitter=0.5)
    _finished(connected, created["id"], timeout=30)
    gaps = _gaps(_sent_times(connected, numbers))
    assert len(gaps) == 7
    assert all(0.5 - 0.02 <= g <= 1.5 + 0.1 for g in gaps), gaps  # 1 s ± 50 %, plus the send's own latency


def test_a_paused_broadcast_sends_nothing_until_resumed_then_each_recipient_once(connected: Stack) -> None:
    numbers = _recipients(6)
    created = _create(connected, numbers)
    path = f"/broadcasts/{created['id']}"
    wait_for(
        lambda: _broadcast(connected, created["id"])["counts"]["queued"] <= 4, timeout=10, what="two sends"
    )
    paused = connected.api("POST", path + "/pause")
    assert paused.status_code == 200 and paused.json()["status"] == "paused", paused.text
    at_pause = sum(len(t) for t in _sent_times(connected, numbers).values())
    time.sleep(2.5)
    assert (
        sum(len(t) for t in _sent_times(connected, numbers).values()) <= at_pause + 1
    )  # one may be in flight
    held = sum(len(t) for t in _sent_times(connected, numbers).values())
    time.sleep(1.5)
    assert sum(len(t) for t in _sent_times(connected, numbers).values()) == held
    assert connected.api("POST", path + "/resume").json()["status"] == "running"
    _finished(connected, created["id"], timeout=30)
    assert all(len(ts) == 1 for ts in _sent_times(connected, numbers).values())


def test_a_session_dropped_mid_broadcast_holds_the_rest_queued_and_resumes_when_it_opens(
    connected: Stack,
) -> None:
    numbers = _recipients(6)
    created = _create(connected, numbers)
    wait_for(
        lambda: _broadcast(connected, created["id"])["counts"]["queued"] <= 4, timeout=10, what="two sends"
    )
    dropped = connected.sim("POST", f"/instances/{connected.instance}/drop", json={"statusReason": 428})
    assert dropped.status_code == 200, dropped.text
    wait_for(lambda: state(connected) != "open", what="the session to close")
    time.sleep(2.5)
    held = _broadcast(connected, created["id"])
    assert held["status"] == "running" and held["counts"]["queued"] >= 2 and held["counts"]["failed"] == 0
    assert held["waiting_for"] == "session", held
    before = sum(len(t) for t in _sent_times(connected, numbers).values())
    time.sleep(1.5)
    assert sum(len(t) for t in _sent_times(connected, numbers).values()) == before
    ensure_connected(connected)
    done = _finished(connected, created["id"], timeout=30)
    assert done["counts"]["failed"] == 0
    assert all(len(ts) == 1 for ts in _sent_times(connected, numbers).values())


def test_a_baja_reply_suppresses_the_sender_and_the_per_recipient_results_say_so(connected: Stack) -> None:
    numbers = _recipients(3)
    reply = connected.sim(
        "POST",
        f"/instances/{connected.instance}/inbound",
        json={"kind": "text", "from": numbers[1].lstrip("+"), "text": "BAJA"},
    )
    assert reply.status_code == 200, reply.text

    def suppressed() -> bool:
        items = connected.api("GET", "/suppressions?limit=100").json()["items"]
        return any(s["to"] == numbers[1] for s in items)

    wait_for(suppressed, what="the opt-out")
    created = _create(connected, numbers)
    _finished(connected, created["id"], timeout=20)
    rows = connected.api("GET", f"/broadcasts/{created['id']}/recipients").json()["items"]
    assert [(r["status"] == "skipped", r["reason"]) for r in rows] == [
        (False, None),
        (True, "opted_out"),
        (False, None),
    ]
    assert connected.api("DELETE", f"/suppressions/{numbers[1].lstrip('+')}").status_code == 204
    message = connected.api("GET", f"/messages/{rows[0]['message_id']}").json()
    assert message["broadcast_id"] == created["id"]


# -- kill -9 and restart -------------------------------------------------------------------------


def _chalice(workdir: Path, port: int, env: dict[str, str], name: str) -> tuple[Any, Any]:
    log = (workdir / name).open("wb")
    chalice = Path(sys.executable).parent / "chalice"
    argv = [
        str(chalice),
        "local",
        "--stage",
        "dev",
        "--no-autoreload",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    process = start_process(argv, env, log)
    wait_for_port(port, process, "chalice local", workdir / name)
    return process, log


def test_a_service_killed_mid_broadcast_sends_each_recipient_at_most_once_after_the_restart(
    tmp_path: Path,
) -> None:
    """Its own simulator and service (the shared pair keeps running): kill -9 while sending, start
    again on the same store, and every recipient is sent exactly once — except one whose send was
    cut in flight, which is ``failed`` with ``unknown_outcome`` and sent at most once."""
    sim_port, port = free_port(), free_port()
    evolution_key = secrets.token_urlsafe(24)
    api_key = "e2e-" + secrets.token_urlsafe(24)
    base = f"http://127.0.0.1:{port}"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SSM_PARAMETER_PREFIX", "JOBS_QUEUE_URL", "DEFAULT_COUNTRY"}
    }
    env |= {
        "PYTHONUNBUFFERED": "1",
        "EVOLUTION_API_URL": f"http://127.0.0.1:{sim_port}",
        "EVOLUTION_API_KEY": evolution_key,
        "INSTANCE_NAME": INSTANCE,
        "API_KEYS": api_key,
        "WEBHOOK_SECRET": secrets.token_urlsafe(48),
        "EVENTS_SIGNING_KEY": secrets.token_urlsafe(32),
        "PUBLIC_BASE_URL": base,
        "STORE_URL": f"sqlite:///{tmp_path}/kill.db",
        "STAGE": "dev",
        "EVOLUTION_SEND_TIMEOUT": "2",
    }
    sim_log = (tmp_path / "simulator.log").open("wb")
    simulator = start_process(
        [
            sys.executable,
            "-m",
            "devtools.evolution_simulator",
            "--host",
            "127.0.0.1",
            "--port",
            str(sim_port),
            f"--api-key={evolution_key}",  # one argument: a key may start with "-"
            "--ack-delay-ms",
            "50",
        ],
        env,
        sim_log,
    )
    try:
        wait_for_port(sim_port, simulator, "the simulator", tmp_path / "simulator.log")
        stack = Stack(
            base_url=base,
            sim_url=f"http://127.0.0.1:{sim_port}",
            api_key=api_key,
            instance=INSTANCE,
            logs=tmp_path,
        )
        first, first_log = _chalice(tmp_path, port, env, "first.log")
        numbers = [f"+5521988{i + 1:02d}4321" for i in range(12)]  # none ends in 0000 (not on WhatsApp)
        try:
            ensure_connected(stack)
            created = _create(stack, numbers, per_minute=60)
            wait_for(
                lambda: sum(len(t) for t in _sent_times(stack, numbers).values()) >= 4,
                timeout=15,
                what="four sends",
            )
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            first_log.close()
        at_kill = sum(len(t) for t in _sent_times(stack, numbers).values())
        assert at_kill < 12
        second, second_log = _chalice(tmp_path, port, env, "second.log")
        try:
            assert requests.get(f"{base}/health", timeout=10).status_code in (
                200,
                503,
            )  # first use starts the worker
            done = _finished(stack, created["id"], timeout=90)
            rows = stack.api("GET", f"/broadcasts/{created['id']}/recipients?limit=100").json()["items"]
        finally:
            stop_process(second)
            second_log.close()
        times = _sent_times(stack, numbers)
        unknown = [r for r in rows if r["reason"] == "unknown_outcome"]
        assert len(unknown) <= 1, rows  # at most the one in flight at the kill
        assert all(len(ts) <= 1 for ts in times.values()), times  # never twice
        for row in rows:
            if row["reason"] != "unknown_outcome":
                assert len(times[row["to"].lstrip("+")]) == 1, row
        assert done["counts"]["queued"] == 0 and done["total"] == 12
    finally:
        stop_process(simulator)
        sim_log.close()
