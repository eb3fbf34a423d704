"""Fixtures: a simulator on a free loopback port, a recording webhook receiver, a small client."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from devtools.evolution_simulator import SimConfig, Simulator

API_KEY = "global-test-key"


@dataclass
class Hit:
    """One webhook request as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int


@dataclass
class Receiver:
    """A tiny HTTP server that records every POST and answers from a programmable queue."""

    url: str
    hits: list[Hit] = field(default_factory=list)
    statuses: deque[int] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer_next_with(self, *statuses: int) -> None:
        with self.lock:
            self.statuses.extend(statuses)

    def events(self, name: str | None = None) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if name is None or h.body.get("event") == name]

    def wait_for(self, predicate: Callable[[list[Hit]], bool], timeout: float = 5.0) -> list[Hit]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                hits = list(self.hits)
            if predicate(hits):
                return hits
            time.sleep(0.01)
        raise AssertionError(f"receiver never saw what was expected; got {hits!r}")

    def wait_for_event(self, name: str, count: int = 1, timeout: float = 5.0) -> list[Hit]:
        self.wait_for(lambda hits: sum(h.body.get("event") == name for h in hits) >= count, timeout)
        return self.events(name)


def _receiver_handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = -1

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

        def do_POST(self) -> None:  # noqa: N802
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with receiver.lock:
                status = receiver.statuses.popleft() if receiver.statuses else 200
                receiver.hits.append(
                    Hit(self.path, dict(self.headers.items()), json.loads(raw or b"{}"), status)
                )
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver("")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _receiver_handler(receiver))
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.daemon = True
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


def make_config(**overrides: Any) -> SimConfig:
    values: dict[str, Any] = {
        "api_key": API_KEY,
        "port": 0,
        "ack_delay_ms": 20,
        "webhook_max_attempts": 4,
        "webhook_backoff_initial_ms": 30,
        "webhook_backoff_max_ms": 120,
        "webhook_timeout": 2.0,
        "qr_refresh_seconds": 60.0,
    }
    return SimConfig(**(values | overrides))


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(make_config()) as simulator:
        yield simulator


class Client:
    """``requests`` bound to the simulator's URL and the global key."""

    def __init__(self, simulator: Simulator) -> None:
        self.base = simulator.url
        self.session = requests.Session()
        self.session.headers["apikey"] = API_KEY

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, self.base + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("DELETE", path, **kwargs)

    def create(
        self,
        name: str,
        *,
        integration: str = "WHATSAPP-BAILEYS",
        webhook: dict[str, Any] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"instanceName": name, "integration": integration, **extra}
        if webhook is not None:
            body["webhook"] = webhook
        answer = self.post("/instance/create", json=body)
        assert answer.status_code == 201, answer.text
        data: dict[str, Any] = answer.json()
        return data

    def open_instance(self, name: str, receiver: Receiver | None = None, **webhook: Any) -> dict[str, Any]:
        """Create (with a webhook to ``receiver`` if given), connect and scan."""
        hook = None
        if receiver is not None:
            hook = {"url": receiver.url, "events": [], **webhook}
        created = self.create(name, webhook=hook)
        assert self.get(f"/instance/connect/{name}").json() == {"count": 0}
        assert self.post(f"/_sim/instances/{name}/scan").status_code == 200
        return created

    def send_text(self, name: str, number: str = "5511987654321", **extra: Any) -> requests.Response:
        return self.post(f"/message/sendText/{name}", json={"number": number, "text": "Olá", **extra})


@pytest.fixture
def client(sim: Simulator) -> Iterator[Client]:
    client = Client(sim)
    yield client
    client.session.close()
