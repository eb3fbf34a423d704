"""A real HTTP sink for pushed events, on a free loopback port: records every request, answers
what its ``behaviour`` says (a status code, or ``"hang"`` to hold the request past the client's
timeout)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Behaviour = Callable[[dict[str, str], bytes], "int | str"]


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float
    status: int | str


@dataclass
class Sink:
    url: str
    received: list[Received] = field(default_factory=list)
    behaviour: Behaviour = lambda headers, body: 204  # noqa: E731
    hang_s: float = 12.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    released: threading.Event = field(default_factory=threading.Event)

    def bodies(self) -> list[bytes]:
        with self.lock:
            return [r.body for r in self.received]

    def answered(self, status: int | str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.status == status]


@contextmanager
def running_sink(behaviour: Behaviour | None = None, *, hang_s: float = 12.0) -> Iterator[Sink]:
    sink = Sink(url="", hang_s=hang_s)
    if behaviour is not None:
        sink.behaviour = behaviour

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status = sink.behaviour(headers, body)
            with sink.lock:
                sink.received.append(Received(headers, body, time.time(), status))
            if status == "hang":
                sink.released.wait(sink.hang_s)
                status = 204
            self.send_response(int(status))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    sink.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        sink.released.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
