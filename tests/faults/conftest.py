"""Fixtures of the fault suite: the app in process, talking real HTTP to an in-process simulator.

The simulator delivers its webhooks to a small loopback receiver that hands each one to the same
code the ``POST /webhook`` route runs (authenticate, parse, ``WebhookService``). It does not go
through ``chalice.test.Client``: that client swaps ``os.environ`` and Chalice keeps the current
request on the app object, so neither may be used from a second thread while a send is in
flight, and a webhook arriving *during* a send is exactly the ordering these tests need.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from devtools.evolution_simulator.simulator import SimConfig, Simulator
from tests.conftest import INSTANCE, REPO, auth
from tests.procs import wait_for

EVOLUTION_KEY = "faults-evolution-global-key-0001"
WEBHOOK_SECRET = "faults-webhook-secret-0123456789abcdefghijklmnop"  # ≥ 32 bytes: no PyJWT warnings
GATEWAY_LIMIT_S = 29.0  # API Gateway's integration timeout: every answer must come before it


@dataclass
class Receiver:
    """The service's webhook endpoint for the simulator; remembers what it answered."""

    url: str = ""
    answers: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        from chalicelib import errors
        from chalicelib.deps import get_store
        from chalicelib.routes._http import read_json
        from chalicelib.services.webhook_auth import authenticate
        from chalicelib.services.webhooks import WebhookService, parse_envelope
        from chalicelib.settings import get_settings

        parts = urlsplit(path)
        settings = get_settings()
        secret = settings.WEBHOOK_SECRET.get_secret_value()
        service = WebhookService(store=get_store(), instance=settings.INSTANCE_NAME)
        try:
            if authenticate(headers, dict(parse_qsl(parts.query)), secret) is None:
                raise errors.UnauthorizedError("Missing or wrong webhook secret.")
            event = parse_envelope(read_json(raw), received_at=datetime.now(UTC))
            status, body = 200, service.handle(event)
        except errors.ServiceError as exc:
            status, body = exc.status, errors.error_body(exc)
        with self.lock:
            self.answers.append((str(body.get("event", "")), status, body))
        return status, body


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

        def do_POST(self) -> None:  # noqa: N802
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, body = receiver.handle(self.path, headers, raw)
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def sim() -> Iterator[Simulator]:
    config = SimConfig(
        api_key=EVOLUTION_KEY,
        port=0,
        ack_delay_ms=40,
        webhook_timeout=5.0,
        webhook_max_attempts=4,
        webhook_backoff_initial_ms=100,
        webhook_backoff_max_ms=400,
        qr_refresh_seconds=60.0,
    )
    with Simulator(config) as simulator:
        yield simulator


@dataclass
class Harness:
    """The app (``chalice.test.Client``), the simulator it calls, and small helpers for both."""

    client: Any
    sim: Simulator
    receiver: Receiver
    monkeypatch: pytest.MonkeyPatch
    http: requests.Session = field(default_factory=requests.Session)

    # -- the app ---------------------------------------------------------------------------------

    def send(self, text: str, *, key: str | None = None, to: str = "+5511966665555") -> Response:
        headers = auth()
        if key is not None:
            headers["Idempotency-Key"] = key
        body = json.dumps({"to": to, "text": text}).encode()
        started = time.monotonic()
        raw = self.client.http.post("/messages", headers=headers, body=body)
        return Response(raw.status_code, dict(raw.headers), _json(raw.body), time.monotonic() - started)

    def record(self, lookup: str) -> dict[str, Any] | None:
        raw = self.client.http.get(f"/messages/{lookup}", headers=auth())
        if raw.status_code == 404:
            return None
        assert raw.status_code == 200, raw.body
        body: dict[str, Any] = _json(raw.body)
        return body

    def outbound(self) -> list[dict[str, Any]]:
        raw = self.client.http.get("/messages?direction=outbound&limit=100", headers=auth())
        assert raw.status_code == 200, raw.body
        items: list[dict[str, Any]] = _json(raw.body)["items"]
        return items

    def set_env(self, **values: str) -> None:
        """Change the service's environment and forget every cached collaborator."""
        from chalicelib import deps

        for name, value in values.items():
            self.monkeypatch.setenv(name, value)
        deps.reset()

    # -- the simulator ---------------------------------------------------------------------------

    def fault(self, **spec: Any) -> None:
        answer = self.http.post(
            f"{self.sim.url}/_sim/faults", json={"route_prefix": "/message/sendText", **spec}
        )
        assert answer.status_code == 201, answer.text

    def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        answer = self.http.post(f"{self.sim.url}/_sim{path}", json=body or {}, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def sent(self, text: str) -> list[dict[str, Any]]:
        """Every send request that reached the simulator with this text, in order."""
        answer = self.http.get(f"{self.sim.url}/_sim/sent", timeout=10)
        answer.raise_for_status()
        return [s for s in answer.json() if s["body"].get("text") == text]

    def delivered(self, text: str) -> int:
        """How many WhatsApp messages the simulator really produced for this text."""
        return sum(1 for s in self.sent(text) if s["message_id"] is not None)


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: Any
    elapsed: float

    @property
    def code(self) -> str | None:
        return self.body.get("Code") if isinstance(self.body, dict) else None


def _json(raw: bytes) -> Any:
    return json.loads(raw) if raw else None


@pytest.fixture
def harness(
    service_env: Path, monkeypatch: pytest.MonkeyPatch, sim: Simulator, receiver: Receiver
) -> Iterator[Harness]:
    """The app pointed at the simulator, its session paired through POST /connect and a scan."""
    from chalice.test import Client

    from app import app

    with Client(app, stage_name="dev", project_dir=str(REPO)) as client:
        harness = Harness(client=client, sim=sim, receiver=receiver, monkeypatch=monkeypatch)
        harness.set_env(
            EVOLUTION_API_URL=sim.url,
            EVOLUTION_API_KEY=EVOLUTION_KEY,
            WEBHOOK_SECRET=WEBHOOK_SECRET,
            PUBLIC_BASE_URL=receiver.url,
        )
        connected = client.http.post("/connect", headers=auth(), body=b"{}")
        assert connected.status_code == 200, connected.body
        harness.control(f"/instances/{INSTANCE}/scan")
        wait_for(
            lambda: _json(client.http.get("/status", headers=auth()).body)["state"] == "open",
            what="the session to open",
        )
        yield harness
        harness.http.close()
