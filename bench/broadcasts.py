"""Broadcasts: creating one of 10,000 recipients (time, and peak memory over the idle process, in
a fresh interpreter) beside parsing its body; the cost a tick adds to each send beside the same
send made directly through the idempotent path; and the pacing error of the local worker beside
the error of a plain ``time.sleep`` loop."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import environment as env
from bench.report import Row, Section, duration, ms, ratio
from bench.stats import p50, p99

ROOT = Path(__file__).resolve().parent.parent
RECIPIENTS = 10_000
TICK_SENDS = 300
PACED_SENDS = 16  # at 60 per minute: 15 gaps of 1 s
CREATE_GOAL_S = 2.0
MEMORY_GOAL_MB = 100.0


def request_body(n: int = RECIPIENTS) -> str:
    """A realistic 10,000-recipient template broadcast."""
    return json.dumps(
        {
            "name": "Recordatorio entrevistas 2-dic",
            "template": "interview_reminder",
            "language": "es",
            "recipients": [
                {
                    "to": f"+5511{9_7000_0000 + i:09d}",
                    "reference": f"cand-{i}",
                    "variables": {
                        "name": f"Candidata {i}",
                        "date": "martes 2 de diciembre",
                        "time": "10:00",
                        "location": "Av. Paulista 1000",
                        "recruiter": "Luis",
                    },
                }
                for i in range(n)
            ],
            "pacing": {"per_minute": 4, "jitter": 0.5},
        }
    )


def _status_mb(field: str) -> float:
    """``VmRSS`` (resident now) or ``VmHWM`` (its peak) of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: the lifetime peak


def _reset_peak() -> None:
    """Start the peak (``VmHWM``) afresh from the current size (Linux ≥ 4.0), so what the warm-up
    and the imports used does not hide what the creation uses."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def create_in_this_process(body_path: Path) -> dict[str, float]:
    """Run in a fresh interpreter (``python -m bench.broadcasts <body file>``): warm up, read the
    body as a request would arrive, note the resident size, then create once."""
    from chalicelib import deps
    from chalicelib.models.broadcasts import CreateBroadcast

    service = deps.broadcast_service()
    warm = json.loads(request_body(20))
    service.create(CreateBroadcast.model_validate(warm))  # imports, templates, phone metadata
    raw = body_path.read_bytes()
    _reset_peak()
    idle = _status_mb("VmRSS")
    started = time.perf_counter()
    data = json.loads(raw)
    parse_s = time.perf_counter() - started
    service.create(CreateBroadcast.model_validate(data))
    total_s = time.perf_counter() - started
    return {
        "idle_mb": idle,
        "peak_mb": _status_mb("VmHWM"),
        "create_s": total_s,
        "parse_s": parse_s,
        "bytes": len(raw),
    }


def _create_row(data_dir: Path) -> tuple[list[Row], list[str]]:
    body = data_dir / "body.json"
    body.write_text(request_body())
    environ = {**os.environ, "STORE_URL": f"sqlite:///{data_dir / 'create.db'}", "LOCAL_WORKER": "false"}
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "bench.broadcasts", str(body)],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    over = figures["peak_mb"] - figures["idle_mb"]
    rows = [
        Row(
            "POST /broadcasts work for 10,000 recipients (parse, check each, write), wall",
            ms(figures["create_s"]),
            f"json.loads of its {figures['bytes'] / 1e6:.1f} MB body {ms(figures['parse_s'])}",
            ratio(figures["create_s"], figures["parse_s"]),
            f"≤ {CREATE_GOAL_S:.0f} s",
        ),
        Row(
            "same, peak memory over the idle process (resident peak)",
            f"{over:.1f} MB",
            f"idle {figures['idle_mb']:.1f} MB (body read)",
            "-",
            f"≤ {MEMORY_GOAL_MB:.0f} MB",
        ),
    ]
    notes = [
        "creation runs in a fresh interpreter after a 20-recipient warm-up (imports, templates); "
        "idle = resident size once the body is read (the peak reset there), peak = VmHWM after the creation"
    ]
    return rows, notes


def _tick_rows() -> list[Row]:
    """Each tick's full cost (slot, recipient, send, settle) vs ``deliver`` alone, same stub."""
    from chalicelib import deps
    from chalicelib.jobs.envelope import Job
    from chalicelib.models.api import SendMessageRequest
    from chalicelib.models.broadcasts import CreateBroadcast
    from chalicelib.services.broadcasts import TICK, BroadcastService
    from chalicelib.services.messages import request_fingerprint

    store = deps.get_store()
    store.update_instance_state(env.INSTANCE, state="open", integration="WHATSAPP-BAILEYS")
    fake_now = itertools.count(start=int(time.time()) + 10_000, step=120)  # every tick is due
    service = BroadcastService(
        store=store,
        settings=deps.get_settings(),
        consent=deps.consent_service(),
        transport=_Discard(),
        messages=deps.message_service,
        clock=lambda: float(next(fake_now)),
    )
    numbers = [f"+5511{9_6000_0000 + i:09d}" for i in range(TICK_SENDS)]
    created = service.create(
        CreateBroadcast.model_validate(
            {
                "name": "bench",
                "text": "Hola",
                "recipients": [{"to": n} for n in numbers],
                "pacing": {"per_minute": 60},
            }
        )
    )
    ticks: list[float] = []
    for _ in range(TICK_SENDS):
        started = time.perf_counter()
        service.tick(Job(kind=TICK, payload={"id": created["id"]}))
        ticks.append(time.perf_counter() - started)
    if service.get(created["id"])["counts"]["queued"]:
        raise RuntimeError("the bench broadcast did not send everyone")
    messages = deps.message_service()
    direct: list[float] = []
    for i in range(TICK_SENDS):
        body = {"to": f"+5511{9_5000_0000 + i:09d}", "text": "Hola"}
        request = SendMessageRequest.model_validate(body)
        started = time.perf_counter()
        messages.deliver(
            request, idempotency_key=f"bench-{i}", fingerprint=request_fingerprint("/messages", body)
        )
        direct.append(time.perf_counter() - started)
    return [
        Row(
            "a broadcast tick (slot, recipient, idempotent send, settle) p50",
            duration(p50(ticks)),
            f"the same send through deliver {duration(p50(direct))}",
            f"overhead {duration(p50(ticks) - p50(direct))}",
        ),
        Row(
            "same, p99",
            duration(p99(ticks)),
            duration(p99(direct)),
            f"overhead {duration(p99(ticks) - p99(direct))}",
        ),
    ]


class _Discard:
    def enqueue(self, job: Any) -> None:
        return None

    def wake(self) -> None:
        return None


def _pacing_rows() -> list[Row]:
    """A real 60-per-minute broadcast run by the local worker: |gap - 1 s| between sends, beside a
    loop that sleeps 1 s between timestamps."""
    from chalicelib import background, deps
    from chalicelib.models.broadcasts import CreateBroadcast

    numbers = [f"+5511{9_4000_0000 + i:09d}" for i in range(PACED_SENDS)]
    service = deps.broadcast_service()
    background.ensure_local_worker()
    created = service.create(
        CreateBroadcast.model_validate(
            {
                "name": "pace",
                "text": "Hola",
                "recipients": [{"to": n} for n in numbers],
                "pacing": {"per_minute": 60, "jitter": 0},
            }
        )
    )
    deadline = time.monotonic() + PACED_SENDS * 1.0 + 30
    while service.get(created["id"])["status"] != "completed":
        if time.monotonic() > deadline:
            raise RuntimeError("the paced broadcast did not finish")
        time.sleep(0.2)
    store = deps.get_store()
    rows = service.recipients(created["id"], status=None, after=None, limit=100)["items"]
    at = sorted(_epoch(store.get_message(env.INSTANCE, r["message_id"]).created_at) for r in rows)  # type: ignore[union-attr]
    errors_s = [abs((b - a) - 1.0) for a, b in itertools.pairwise(at)]
    slept: list[float] = []
    last = time.perf_counter()
    for _ in range(PACED_SENDS - 1):
        time.sleep(1.0)
        now = time.perf_counter()
        slept.append(abs((now - last) - 1.0))
        last = now
    return [
        Row(
            "pacing error |gap - planned gap| at 60/min (local worker), p50",
            duration(p50(errors_s)),
            f"time.sleep(1) loop {duration(p50(slept))}",
        ),
        Row("same, p99", duration(p99(errors_s)), duration(p99(slept))),
    ]


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def run() -> Section:
    rows: list[Row] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-bc-") as tmp:
        created, created_notes = _create_row(Path(tmp))
        rows += created
        notes += created_notes
    rows += _tick_rows()
    rows += _pacing_rows()
    notes.append("pacing gaps are between the send records' times (ms precision), after the stub answered")
    return Section(rows=rows, notes=notes)


if __name__ == "__main__":
    print(json.dumps(create_in_this_process(Path(sys.argv[1]))))  # noqa: T201 - read by the parent bench
