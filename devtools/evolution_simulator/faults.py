"""Injected faults: a FIFO of rules, each matching a route prefix for a number of requests."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from devtools.evolution_simulator import errors
from devtools.evolution_simulator.http_types import Response
from devtools.evolution_simulator.payloads import graph_error

KINDS = ("latency", "status", "rate_limit", "html", "drop_connection", "session_closed", "graph_error")
NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


class FaultSpecError(ValueError):
    """A ``/_sim/faults`` body that cannot be turned into a rule."""


@dataclass
class Fault:
    """One rule. ``remaining`` < 0 means until cleared. ``when="after"`` lets the request take
    effect (a send is really sent) and only then replaces or delays the answer."""

    route_prefix: str
    kind: str
    remaining: int
    when: str
    status: int
    latency_ms: int
    retry_after: int
    graph_code: int

    @classmethod
    def parse(cls, spec: Any) -> Fault:
        if not isinstance(spec, dict):
            raise FaultSpecError("body must be a JSON object")
        kind = spec.get("kind")
        prefix = spec.get("route_prefix")
        if kind not in KINDS:
            raise FaultSpecError(f"kind must be one of {', '.join(KINDS)}")
        if not isinstance(prefix, str) or not prefix.startswith("/"):
            raise FaultSpecError("route_prefix must be a path starting with /")
        when = spec.get("when", "before")
        if when not in {"before", "after"}:
            raise FaultSpecError('when must be "before" or "after"')
        try:
            count = int(spec.get("count", 1))
        except (TypeError, ValueError) as exc:
            raise FaultSpecError("count must be an integer") from exc
        if count == 0 or count < -1:
            raise FaultSpecError("count must be a positive integer, or -1 for until cleared")
        try:
            return cls(
                route_prefix=prefix,
                kind=kind,
                remaining=count,
                when=when,
                status=int(spec.get("status", 500)),
                latency_ms=int(spec.get("latency_ms", 1000)),
                retry_after=int(spec.get("retry_after", 1)),
                graph_code=int(spec.get("graph_code", 131030)),
            )
        except (TypeError, ValueError) as exc:
            raise FaultSpecError(f"numeric fields must be integers: {exc}") from exc

    def as_json(self) -> dict[str, Any]:
        return {
            "route_prefix": self.route_prefix,
            "kind": self.kind,
            "count": self.remaining,
            "when": self.when,
            "status": self.status,
            "latency_ms": self.latency_ms,
            "retry_after": self.retry_after,
            "graph_code": self.graph_code,
        }

    def response(self) -> Response | None:
        """The answer this fault forces (None for pure latency)."""
        match self.kind:
            case "status":
                return Response(self.status, errors.wrapped(self.status, errors.reason(self.status)))
            case "rate_limit":
                return Response(
                    429,
                    errors.wrapped(429, "Too Many Requests"),
                    headers={"Retry-After": str(self.retry_after)},
                )
            case "html":
                return Response(502, raw=NGINX_502, content_type="text/html")
            case "drop_connection":
                return Response(0, drop=True)
            case "session_closed":
                return Response(500, errors.wrapped(500, errors.CONNECTION_CLOSED))
            case "graph_error":
                return Response(201, graph_error(self.graph_code))
            case _:
                return None


class FaultBook:
    """Thread-safe list of active faults; ``take`` consumes one use of the first match."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def active(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.as_json() for fault in self._faults]

    def take(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.route_prefix):
                    if fault.remaining > 0:
                        fault.remaining -= 1
                        if fault.remaining == 0:
                            self._faults.remove(fault)
                    return fault
        return None
