"""``/_sim/*``: the loopback-only control API that tests and developers drive the simulator with."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from devtools.evolution_simulator import payloads
from devtools.evolution_simulator.events import Emitter
from devtools.evolution_simulator.faults import Fault, FaultBook, FaultSpecError
from devtools.evolution_simulator.http_types import Request, Response
from devtools.evolution_simulator.numbers import create_jid
from devtools.evolution_simulator.scheduler import Scheduler
from devtools.evolution_simulator.session import Sessions, SessionStateError
from devtools.evolution_simulator.state import Instance, Registry
from devtools.evolution_simulator.webhooks import WebhookDispatcher


def _problem(status: int, message: str) -> Response:
    return Response(status, {"error": message})


def _spec(request: Request) -> dict[str, Any]:
    return request.body if isinstance(request.body, dict) else {}


class ControlApi:
    """Scan, drop, inbound messages, faults, the not-on-WhatsApp set, logs and reset."""

    def __init__(
        self,
        *,
        registry: Registry,
        sessions: Sessions,
        emitter: Emitter,
        faults: FaultBook,
        dispatcher: WebhookDispatcher,
        scheduler: Scheduler,
    ) -> None:
        self._registry = registry
        self._sessions = sessions
        self._emitter = emitter
        self._faults = faults
        self._dispatcher = dispatcher
        self._scheduler = scheduler

    def _with_instance(self, request: Request, action: Callable[[Instance], Response]) -> Response:
        instance = self._registry.get(request.params["instance"])
        if instance is None:
            return _problem(404, f'no instance "{request.params["instance"]}"')
        try:
            return action(instance)
        except SessionStateError as exc:
            return _problem(409, str(exc))

    def scan(self, request: Request) -> Response:
        spec = _spec(request)

        def act(instance: Instance) -> Response:
            self._sessions.scan(instance, spec.get("number"), spec.get("profileName"))
            return Response(200, self._sessions.connection_state(instance))

        return self._with_instance(request, act)

    def drop(self, request: Request) -> Response:
        spec = _spec(request)

        def act(instance: Instance) -> Response:
            self._sessions.drop(instance, int(spec.get("statusReason", 401)))
            return Response(200, self._sessions.connection_state(instance))

        return self._with_instance(request, act)

    def inbound(self, request: Request) -> Response:
        spec = _spec(request)
        kind = spec.get("kind", "text")
        if kind not in payloads.INBOUND_KINDS:
            return _problem(400, f"kind must be one of {', '.join(payloads.INBOUND_KINDS)}")

        def act(instance: Instance) -> Response:
            with self._registry.lock:
                if instance.state != "open":
                    raise SessionStateError(f"instance is {instance.state}, not open")
                with_base64 = bool(instance.webhook and instance.webhook.base64)
                data = payloads.inbound_message(
                    kind, spec, instance_id=instance.instance_id, with_base64=with_base64
                )
                self._emitter.emit(instance, "messages.upsert", data)
            return Response(200, {"event": "messages.upsert", "data": data})

        return self._with_instance(request, act)

    def add_fault(self, request: Request) -> Response:
        try:
            fault = Fault.parse(request.body)
        except FaultSpecError as exc:
            return _problem(400, str(exc))
        self._faults.add(fault)
        return Response(201, {"faults": self._faults.active()})

    def list_faults(self, request: Request) -> Response:
        return Response(200, {"faults": self._faults.active()})

    def clear_faults(self, request: Request) -> Response:
        self._faults.clear()
        return Response(200, {"faults": []})

    def not_on_whatsapp(self, request: Request) -> Response:
        spec = _spec(request)
        numbers = spec.get("numbers", [])
        if not isinstance(numbers, list):
            return _problem(400, "numbers must be a list")
        digits = {"".join(ch for ch in str(n) if ch.isdigit()) for n in numbers}
        with self._registry.lock:
            if spec.get("replace"):
                self._registry.not_on_whatsapp.clear()
            self._registry.not_on_whatsapp |= digits - {""}
            if "default_rule" in spec:
                self._registry.default_not_on_whatsapp_rule = bool(spec["default_rule"])
            return Response(
                200,
                {
                    "numbers": sorted(self._registry.not_on_whatsapp),
                    "default_rule": self._registry.default_not_on_whatsapp_rule,
                },
            )

    def on_whatsapp_cache(self, request: Request) -> Response:
        """Seed Evolution's IsOnWhatsapp cache (used with ``save_is_on_whatsapp``)."""
        numbers = _spec(request).get("numbers", [])
        if not isinstance(numbers, list):
            return _problem(400, "numbers must be a list")
        with self._registry.lock:
            for number in numbers:
                self._registry.cache_on_whatsapp(create_jid(str(number)))
            return Response(200, {"cached": sorted(self._registry.on_whatsapp_cache)})

    def sent(self, request: Request) -> Response:
        with self._registry.lock:
            return Response(200, [record.as_json() for record in self._registry.sent])

    def webhooks(self, request: Request) -> Response:
        return Response(200, self._dispatcher.entries())

    def instances(self, request: Request) -> Response:
        with self._registry.lock:
            rows = [
                {
                    "name": i.name,
                    "integration": i.integration,
                    "state": i.state,
                    "ownerJid": i.owner_jid,
                    "qrCount": i.qr.count,
                    "webhook": i.webhook.as_json() if i.webhook else None,
                }
                for i in self._registry.instances.values()
            ]
        return Response(200, rows)

    def reset(self, request: Request) -> Response:
        self._scheduler.clear()
        self._registry.reset()
        self._faults.clear()
        self._dispatcher.clear()
        return Response(200, {"reset": True})
