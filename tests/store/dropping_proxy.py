"""DynamoDB behind a proxy that can lose answers: moto's server on a loopback port, and a small
HTTP proxy in front of it that forwards every request and, when told, drops the answer to the
N-th request of an operation *after* the server has applied it.

That is the fault a real client meets when a response is lost on the way back: botocore (standard
retry mode) sees the connection close, sends the same request again, and the retry meets the
effect of its own first attempt (a conditional write then fails its own condition).

    with MotoServer() as server, DroppingProxy(server.url) as proxy:
        proxy.drop("PutItem", nth=1)        # the next PutItem is applied, its answer lost
        client = dynamodb_client(proxy.url)  # retries as the store's own client does

Requests reach moto one at a time (a lock in the proxy): DynamoDB applies each request
atomically, moto's threaded server does not.
"""

from __future__ import annotations

import http.client
import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

TARGET_PREFIX = "DynamoDB_20120810."
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


class MotoServer:
    """moto's threaded server on a free loopback port (its state is the process's moto backends)."""

    def __init__(self) -> None:
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.url = ""

    def __enter__(self) -> MotoServer:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop()


@dataclass
class _Rule:
    operation: str
    nth: int  # 1 = the next request of that operation
    times: int  # how many consecutive matching requests lose their answer, from the nth on


class DroppingProxy:
    """A loopback HTTP proxy to ``upstream`` that loses chosen answers after forwarding."""

    def __init__(self, upstream: str) -> None:
        self._upstream = upstream.removeprefix("http://")
        self._lock = threading.Lock()  # one request at a time reaches the server
        self._rules: list[_Rule] = []
        self._seen: Counter[str] = Counter()  # requests per operation since the rules were set
        self.calls: list[str] = []  # every operation forwarded, in order
        self.dropped: list[str] = []  # operations whose answers were lost
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> DroppingProxy:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def drop(self, operation: str, *, nth: int = 1, times: int = 1) -> None:
        """Lose the answers to the ``nth`` (counted from now) and the next ``times - 1`` requests
        of ``operation`` (``PutItem``, ``TransactWriteItems``, …), after the server applied them."""
        if nth < 1 or times < 1:
            raise ValueError("nth and times start at 1")
        with self._lock:
            self._seen[operation] = 0
            self._rules.append(_Rule(operation, nth, times))

    def count(self, operation: str) -> int:
        """How many requests of ``operation`` reached the server so far."""
        return sum(1 for c in self.calls if c == operation)

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[Any, bool]:
        operation = headers.get("x-amz-target", "").removeprefix(TARGET_PREFIX) or "?"
        with self._lock:
            self._seen[operation] += 1
            n = self._seen[operation]
            lose = any(r.operation == operation and r.nth <= n < r.nth + r.times for r in self._rules)
            connection = http.client.HTTPConnection(self._upstream, timeout=30)
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                answer = (response.status, response.getheaders(), response.read())
            finally:
                connection.close()
            self.calls.append(operation)
            if lose:
                self.dropped.append(operation)
        return answer, lose

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

            def _relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                (status, answer_headers, payload), lose = proxy._forward(
                    self.command, self.path, headers, body
                )
                if lose:  # applied upstream; the client never hears of it
                    self.close_connection = True
                    return
                self.send_response(status)
                for name, value in answer_headers:
                    if name.lower() not in HOP_BY_HOP | {"content-length"}:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_GET = _relay  # noqa: N815

        return Handler


def dynamodb_client(endpoint: str, **config: Any) -> Any:
    """A boto3 DynamoDB client for ``endpoint`` with fake credentials and the given retry config
    (default: botocore's standard mode with 3 retries, as the store's own client)."""
    import boto3
    from botocore.config import Config

    options: dict[str, Any] = {
        "connect_timeout": 2,
        "read_timeout": 5,
        "retries": {"mode": "standard", "max_attempts": 3},
    } | config
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto's fake credentials
        config=Config(**options),
    )
