"""HTTP plumbing: parse requests like Express + body-parser, route, apply faults, write answers."""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from devtools.evolution_simulator import errors
from devtools.evolution_simulator.api import EvolutionApi
from devtools.evolution_simulator.bodies import parse_body
from devtools.evolution_simulator.control import ControlApi
from devtools.evolution_simulator.faults import Fault, FaultBook
from devtools.evolution_simulator.http_types import EvolutionHTTPError, Request, Response
from devtools.evolution_simulator.inbound_media import MediaApi
from devtools.evolution_simulator.messaging import BUILDERS
from devtools.evolution_simulator.state import Registry, SentRecord

logger = logging.getLogger(__name__)

Handler = Callable[[Request], Response]
_INSTANCE = r"(?P<instance>[^/]+)"
_SEND = "|".join(BUILDERS)


def _not_found(method: str, path: str) -> Response:
    """Evolution's catch-all: a JSON 404 (not Express's HTML page) for unknown paths and methods."""
    return Response(404, errors.wrapped(404, [f"Cannot {method} {path}"]))


class Router:
    """The route table plus the cross-cutting parts: faults and the log of sends."""

    def __init__(
        self,
        *,
        api: EvolutionApi,
        control: ControlApi,
        faults: FaultBook,
        registry: Registry,
        stopping: threading.Event,
        media: MediaApi | None = None,
    ) -> None:
        self._faults = faults
        self._registry = registry
        self._stopping = stopping
        table: list[tuple[str, str, Handler]] = [
            ("GET", "/", api.welcome),
            ("POST", "/instance/create", api.create),
            ("GET", "/instance/fetchInstances", api.fetch_instances),
            ("GET", f"/instance/connect/{_INSTANCE}", api.connect),
            ("GET", f"/instance/connectionState/{_INSTANCE}", api.connection_state),
            ("POST", f"/instance/restart/{_INSTANCE}", api.restart),
            ("DELETE", f"/instance/logout/{_INSTANCE}", api.logout),
            ("DELETE", f"/instance/delete/{_INSTANCE}", api.delete),
            ("GET", f"/settings/find/{_INSTANCE}", api.find_settings),
            ("POST", f"/settings/set/{_INSTANCE}", api.set_settings),
            ("POST", f"/webhook/set/{_INSTANCE}", api.set_webhook),
            ("GET", f"/webhook/find/{_INSTANCE}", api.find_webhook),
            ("POST", f"/message/(?P<route>{_SEND})/{_INSTANCE}", api.send),
            ("POST", f"/chat/whatsappNumbers/{_INSTANCE}", api.whatsapp_numbers),
            *([("POST", f"/chat/getBase64FromMediaMessage/{_INSTANCE}", media.get_base64)] if media else []),
            *([("POST", "/_sim/media/expire", media.expire)] if media else []),
            ("GET", "/_sim/instances", control.instances),
            ("POST", f"/_sim/instances/{_INSTANCE}/scan", control.scan),
            ("POST", f"/_sim/instances/{_INSTANCE}/drop", control.drop),
            ("POST", f"/_sim/instances/{_INSTANCE}/inbound", media.inbound if media else control.inbound),
            ("GET", "/_sim/faults", control.list_faults),
            ("POST", "/_sim/faults", control.add_fault),
            ("DELETE", "/_sim/faults", control.clear_faults),
            ("POST", "/_sim/not-on-whatsapp", control.not_on_whatsapp),
            ("POST", "/_sim/on-whatsapp-cache", control.on_whatsapp_cache),
            ("GET", "/_sim/sent", control.sent),
            ("GET", "/_sim/webhooks", control.webhooks),
            ("POST", "/_sim/reset", control.reset),
        ]
        self._control_index = [
            {"method": method, "path": pattern.replace(_INSTANCE, "{instance}")}
            for method, pattern, _ in table
            if pattern.startswith("/_sim/")
        ]
        table.append(("GET", "/_sim", self._index))
        self._routes = [
            (method, re.compile(pattern + "/?", re.IGNORECASE), handler) for method, pattern, handler in table
        ]

    def _index(self, request: Request) -> Response:
        """``GET /_sim/``: the control endpoints, so the banner's link answers with something useful."""
        return Response(
            200,
            {
                "simulator": "Evolution API 2.3.7 simulator (dev tool)",
                "control": self._control_index,
                "docs": "devtools/evolution_simulator/README.md",
            },
        )

    def _match(self, request: Request) -> tuple[Handler, dict[str, str]] | None:
        for method, pattern, handler in self._routes:
            found = pattern.fullmatch(request.path)
            if method == request.method and found:
                return handler, {k: unquote(v) for k, v in found.groupdict().items()}
        return None

    def handle(self, request: Request, parse_error: Response | None = None) -> Response:
        is_control = request.path.startswith("/_sim/")
        fault = None if is_control else self._faults.take(request.path)
        found = self._match(request)
        record = self._record(request, found)
        if fault is not None and fault.when == "before":
            if fault.kind == "latency":
                self._stopping.wait(fault.latency_ms / 1000)
            else:
                return self._faulted(fault, record)
        response = parse_error or self._dispatch(request, found)
        if record is not None:
            record.status = response.status
            if response.status == 201 and isinstance(response.body, dict):
                key = response.body.get("key")
                record.message_id = key.get("id") if isinstance(key, dict) else None
        if fault is not None and fault.when == "after":
            if fault.kind == "latency":
                self._stopping.wait(fault.latency_ms / 1000)
                if record is not None:
                    record.fault = fault.kind
                return response
            return self._faulted(fault, record)
        if fault is not None and record is not None:
            record.fault = fault.kind
        return response

    def _faulted(self, fault: Fault, record: SentRecord | None) -> Response:
        response = fault.response() or Response(500)
        if record is not None:
            record.fault = fault.kind
            record.status = None if response.drop else response.status
        return response

    def _record(self, request: Request, found: tuple[Handler, dict[str, str]] | None) -> SentRecord | None:
        if found is None or "route" not in found[1]:
            return None
        params = found[1]
        return self._registry.record_send(params["route"], params["instance"], request.body)

    def _dispatch(self, request: Request, found: tuple[Handler, dict[str, str]] | None) -> Response:
        if found is None:
            return _not_found(request.method, request.path)
        handler, params = found
        try:
            return handler(replace(request, params=params))
        except EvolutionHTTPError as exc:
            return Response(exc.status, exc.body)
        except Exception as exc:
            logger.exception("handler crashed on %s %s", request.method, request.path)
            message = f"{type(exc).__name__}: {exc}"
            body = {"status": 500, "error": "Internal Server Error", "response": {"message": message}}
            return Response(500, body)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = -1  # one write per answer: headers and body in a segment, no Nagle stalls
    server_version = "Evolution-Simulator"
    sys_version = ""
    router: Router  # set on the subclass built by make_server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug(format, *args)

    def _serve(self) -> None:
        started = time.monotonic()
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body, upload, parse_error = parse_body(raw, self.headers.get("Content-Type", ""))
        request = Request(
            method=self.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            file=upload,
        )
        response = self.router.handle(request, parse_error)
        logger.info(
            "%s %s → %s in %.0f ms",
            self.command,
            parts.path,
            "dropped" if response.drop else response.status,
            (time.monotonic() - started) * 1000,
        )
        if response.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        payload = b"" if response.status in {204, 304} else response.encoded()
        self.send_response(response.status)
        self.send_header("X-Powered-By", "Express")
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve  # noqa: N815


class SimHTTPServer(ThreadingHTTPServer):
    """Binds at construction (so port 0 can be read back); ``router`` is attached afterwards."""

    daemon_threads = True

    def __init__(self, host: str, port: int) -> None:
        handler: type[_RequestHandler] = type("SimRequestHandler", (_RequestHandler,), {})
        super().__init__((host, port), handler)
        self._handler = handler

    @property
    def bound_port(self) -> int:
        return int(self.server_address[1])

    def attach(self, router: Router) -> None:
        self._handler.router = router
