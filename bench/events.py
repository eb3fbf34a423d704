"""Pushed events, locally: the latency from Evolution's webhook POST to the sink receiving the
signed event (p50/p99 at 50 events/s) beside the webhook handling alone, and deliveries/s of the
local worker to a fast sink beside the same number of signed POSTs made directly."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import environment as env
from bench.lambda_event import LambdaContext, rest_event
from bench.report import Row, Section, duration, ratio
from bench.stats import p50, p99

RATE = 50.0  # events/s offered in the latency run
LATENCY_EVENTS = 500
THROUGHPUT_EVENTS = 2000
ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def sink_process() -> Iterator[tuple[str, dict[str, float], threading.Event]]:
    """Start ``bench.sink``; yield its URL, the arrivals it reports (message id → time) and an
    event set at each arrival; stop it."""
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "bench.sink"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    arrivals: dict[str, float] = {}
    arrived = threading.Event()
    assert proc.stdout is not None
    port = int(proc.stdout.readline())

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            key, at = line.split()
            arrivals.setdefault(key, float(at))
            arrived.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield f"http://127.0.0.1:{port}/events", arrivals, arrived
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _upsert(template: dict[str, Any], message_id: str) -> str:
    body = copy.deepcopy(template)
    body["instance"] = env.INSTANCE
    body["data"]["key"]["id"] = message_id
    if isinstance(body["data"].get("instance"), str):
        body["data"]["instance"] = env.INSTANCE
    return json.dumps(body)


def _wait(arrivals: dict[str, float], keys: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not all(k in arrivals for k in keys):
        if time.monotonic() > deadline:
            missing = sum(k not in arrivals for k in keys)
            raise RuntimeError(f"{missing} events did not reach the sink within {timeout:.0f} s")
        time.sleep(0.01)


def run(fixtures: Path) -> Section:
    import app
    from chalicelib import background, deps

    template = json.loads((fixtures / "messages.upsert.text.json").read_text())
    context = LambdaContext()
    hook_headers = {"Content-Type": "application/json", "X-Webhook-Secret": env.WEBHOOK_SECRET}
    api_headers = {"Content-Type": "application/json", "Authorization": f"Bearer {env.API_KEY}"}

    def call(method: str, path: str, body: str | None, headers: dict[str, str]) -> dict[str, Any]:
        answer: dict[str, Any] = app.app(rest_event(method, path, path, body=body, headers=headers), context)
        return answer

    rows: list[Row] = []
    with sink_process() as (url, arrivals, _):
        created = call("POST", "/event-destinations", json.dumps({"url": url}), api_headers)
        if created["statusCode"] != 201:
            raise RuntimeError(f"could not create the destination: {created['body']}")

        # 1. latency at 50 events/s, end to end vs the webhook handling alone
        ids = [f"3ABENCH{uuid.uuid4().hex[:13].upper()}" for _ in range(LATENCY_EVENTS + 20)]
        posted: dict[str, float] = {}
        handling: list[float] = []
        start = time.perf_counter()
        for n, message_id in enumerate(ids):
            due = start + n / RATE
            while (now := time.perf_counter()) < due:
                time.sleep(min(0.002, due - now))
            posted[message_id] = time.time()
            began = time.perf_counter()
            answer = call("POST", "/webhook", _upsert(template, message_id), hook_headers)
            handling.append(time.perf_counter() - began)
            if answer["statusCode"] != 200:
                raise RuntimeError(f"webhook answered {answer['statusCode']}")
        _wait(arrivals, ids, timeout=60)
        measured = ids[20:]  # the first ones warm up the worker, the pool and the sink
        latency = [arrivals[k] - posted[k] for k in measured]
        handled = handling[20:]
        rows += [
            Row(
                "event latency webhook POST → signed event at the sink, p50 (50 ev/s)",
                duration(p50(latency)),
                duration(p50(handled)),
                ratio(p50(latency), p50(handled)),
                "≤ 50 ms",
            ),
            Row(
                "same, p99 (baseline: the webhook handling alone)",
                duration(p99(latency)),
                duration(p99(handled)),
                ratio(p99(latency), p99(handled)),
                "≤ 200 ms",
            ),
        ]

        # 2. deliveries/s of the local worker to a fast sink vs the same POSTs made directly
        worker = background.local_worker()
        if worker is None:
            raise RuntimeError("the local worker did not start")
        worker.stop()
        bulk = [f"3ABULK{uuid.uuid4().hex[:14].upper()}" for _ in range(THROUGHPUT_EVENTS)]
        for message_id in bulk:  # outbox rows written while no worker runs
            call("POST", "/webhook", _upsert(template, message_id), hook_headers)
        began = time.perf_counter()
        worker.start()
        worker.wake()
        _wait(arrivals, bulk, timeout=120)
        worker_rate = THROUGHPUT_EVENTS / (time.perf_counter() - began)
        direct_rate = _direct_posts(url, threads=worker.threads, count=THROUGHPUT_EVENTS, arrivals=arrivals)
        rows.append(
            Row(
                f"deliveries/s, local worker ({worker.threads} threads) vs direct signed POSTs",
                f"{worker_rate:,.0f} /s",
                f"{direct_rate:,.0f} /s",
                ratio(worker_rate, direct_rate),
                "≥ 300 /s",
            )
        )
    deps.reset()
    notes = [
        f"events: {LATENCY_EVENTS} messages.upsert webhooks at {RATE:.0f}/s through the Lambda handler "
        "(SQLite store, in process), each delivered by the local worker to a loopback sink in its own "
        "process; latency = sink arrival - webhook POST start; then "
        f"{THROUGHPUT_EVENTS} outbox events drained by the worker vs the same count of signed POSTs "
        "from as many threads with one requests.Session",
    ]
    return Section(rows, notes)


def _direct_posts(url: str, *, threads: int, count: int, arrivals: dict[str, float]) -> float:
    """The baseline: signed POSTs of ready bodies from ``threads`` threads, no store, no queue."""
    import requests

    from chalicelib.events.signing import destination_secret, signed_headers

    secret = destination_secret("b" * 40, "dst_bench", "salt")
    session = requests.Session()
    keys = [f"direct-{n}" for n in range(count)]

    def post(key: str) -> None:
        body = json.dumps({"id": key, "type": "ping", "data": {"n": key}})
        headers = {**signed_headers(secret, msg_id=key, body=body), "Content-Type": "application/json"}
        session.post(url, data=body.encode(), headers=headers, timeout=10).close()

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(post, keys))
    rate = count / (time.perf_counter() - began)
    _wait(arrivals, keys, timeout=30)
    return rate
