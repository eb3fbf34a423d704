"""Evolution's own routes: guards in the server's order, then instance, webhook, message, chat."""

from __future__ import annotations

import threading
from typing import Any

from devtools.evolution_simulator import errors, payloads
from devtools.evolution_simulator.config import SimConfig
from devtools.evolution_simulator.http_types import Request, Response
from devtools.evolution_simulator.messaging import Messaging
from devtools.evolution_simulator.scheduler import Scheduler
from devtools.evolution_simulator.session import Sessions
from devtools.evolution_simulator.state import BAILEYS, BUSINESS, INTEGRATIONS, Instance, Registry
from devtools.evolution_simulator.validation import SchemaRegistry
from devtools.evolution_simulator.webhooks import ALL_EVENTS, WebhookRow

VERSION = "2.3.7"
# GET / reports the WhatsApp Web version the server fetched at start; this is the one 2.3.7 fell back to.
WHATSAPP_WEB_VERSION = "2.3000.1027934701"
PRISMA_NAME_ERROR = (
    "PrismaClientValidationError: \nInvalid `prisma.instance.findMany()` invocation:\n\n"
    "Argument `name`: Invalid value provided. Expected String or StringFilter, provided {kind}."
)
DELETE_GRACE_SECONDS = 1.0  # delete is asynchronous: the instance answers guards a little longer
_LENGTH_OF_UNDEFINED = "Cannot read properties of undefined (reading 'length')"
_SETTING_DEFAULTS: dict[str, Any] = {
    "rejectCall": False,
    "msgCall": "",
    "groupsIgnore": False,
    "alwaysOnline": False,
    "readMessages": False,
    "readStatus": False,
    "syncFullHistory": False,
    "wavoipToken": "",
}


def _body(request: Request) -> dict[str, Any]:
    """``Object.assign(new Dto(), body)``: anything but an object validates as an empty one."""
    return request.body if isinstance(request.body, dict) else {}


class EvolutionApi:
    """Handlers for the Evolution routes; each takes a Request and returns a Response."""

    def __init__(
        self,
        *,
        config: SimConfig,
        registry: Registry,
        sessions: Sessions,
        messaging: Messaging,
        schemas: SchemaRegistry,
        scheduler: Scheduler,
        stopping: threading.Event,
    ) -> None:
        self._scheduler = scheduler
        self._stopping = stopping
        self._config = config
        self._registry = registry
        self._sessions = sessions
        self._messaging = messaging
        self._schemas = schemas

    # --- guards: instanceExistsGuard → instanceLoggedGuard → authGuard.apikey -----------------

    def _guard(self, request: Request) -> Instance:
        name = request.params["instance"]
        instance = self._registry.get(name)
        if instance is None:
            raise errors.not_found(f'The "{name}" instance does not exist')
        key = request.header("apikey")
        if not key or key not in {self._config.api_key, instance.token}:
            raise errors.unauthorized()
        return instance

    def _global_key(self, request: Request) -> None:
        if request.header("apikey") != self._config.api_key:
            raise errors.unauthorized()

    def _validate(self, schema: str, body: dict[str, Any]) -> None:
        messages = self._schemas.errors(schema, body)
        if messages:
            raise errors.bad_request(messages)

    # --- root -----------------------------------------------------------------------------------

    def welcome(self, request: Request) -> Response:
        return Response(
            200,
            {
                "status": 200,
                "message": "Welcome to the Evolution API, it is working!",
                "version": VERSION,
                "clientName": "evolution_exchange",
                "manager": f"{self._config.server_url or ''}/manager",
                "documentation": "https://doc.evolution-api.com",
                "whatsappWebVersion": WHATSAPP_WEB_VERSION,
            },
        )

    # --- instance -------------------------------------------------------------------------------

    def _name_in_use_guard(self, name: Any) -> None:
        """instanceExistsGuard on create runs first: ``findMany({where: {name}})`` with the raw value,
        so a missing name matches every instance and a non-string one is a Prisma error."""
        if isinstance(name, bool | int | float | list | dict):
            kind = {bool: "Boolean", int: "Int", float: "Float", list: "List", dict: "Object"}[type(name)]
            raise errors.internal_list(PRISMA_NAME_ERROR.format(kind=kind))
        with self._registry.lock:
            everyone = bool(self._registry.instances)
            taken = self._registry.get(name) is not None if isinstance(name, str) else everyone
        if taken:
            shown = name if isinstance(name, str) else "undefined"
            raise errors.forbidden(f'This name "{shown}" is already in use.')

    def create(self, request: Request) -> Response:
        body = _body(request)
        name = body.get("instanceName")
        self._name_in_use_guard(name)
        self._global_key(request)
        self._validate("instanceCreate", body)
        if not isinstance(name, str) or not name:
            raise errors.bad_request('"instanceName" not provided.')
        integration = body.get("integration")
        if integration not in INTEGRATIONS:
            raise errors.bad_request("Invalid integration")
        if integration == BUSINESS:
            if not body.get("number"):
                raise errors.bad_request("number is required")
            if not body.get("token"):
                raise errors.bad_request("token is required")
        hook = body.get("webhook")
        if isinstance(hook, dict) and not isinstance(hook.get("events"), list | str):
            raise errors.bad_request(_LENGTH_OF_UNDEFINED)
        settings = {key: body.get(key, default) for key, default in _SETTING_DEFAULTS.items()}
        with self._registry.lock:
            if self._registry.get(name) is not None:
                raise errors.forbidden(f'This name "{name}" is already in use.')
            instance = Instance(
                name=name,
                integration=str(integration),
                token=str(body.get("token") or payloads.new_token()),
                number=body.get("number"),
                business_id=body.get("businessId"),
                settings=settings,
            )
            self._registry.instances[name] = instance
            if isinstance(hook, dict):
                self._store_webhook(instance, {**hook, "enabled": True})
            qrcode: dict[str, Any] | None = None
            if integration != BAILEYS:
                self._sessions.connect(instance, None)
            elif body.get("qrcode") is True:
                self._sessions.start(instance, body.get("number"))
                qrcode = instance.qr.as_json()
            answer = self._create_answer(instance, hook if isinstance(hook, dict) else {}, settings)
        if qrcode is not None:  # connectToWhatsapp(), ``await delay(5000)``, then the qrCode
            self._hold(self._config.create_hold_seconds)
            answer["instance"]["status"] = instance.state
            answer["qrcode"] = self._sessions.current_qr(instance, qrcode)
        return Response(201, answer)

    def _create_answer(
        self, instance: Instance, hook: dict[str, Any], settings: dict[str, Any]
    ) -> dict[str, Any]:
        webhook = {
            "webhookUrl": hook.get("url"),
            "webhookHeaders": hook.get("headers"),
            "webhookByEvents": hook.get("byEvents"),
            "webhookBase64": hook.get("base64"),
        }
        business = instance.integration == BUSINESS
        return {
            "instance": {
                "instanceName": instance.name,
                "instanceId": instance.instance_id,
                "integration": instance.integration,
                "webhookWaBusiness": f"{self._config.server_url}/webhook/meta" if business else None,
                "accessTokenWaBusiness": "",
                "status": instance.state,
            },
            "hash": instance.token,
            "webhook": {k: v for k, v in webhook.items() if v is not None},
            "websocket": {},
            "rabbitmq": {},
            "nats": {},
            "sqs": {},
            "settings": settings,
        }

    def fetch_instances(self, request: Request) -> Response:
        key = request.header("apikey")
        if not key:
            raise errors.unauthorized()
        name = request.query.get("instanceName")
        with self._registry.lock:
            if key != self._config.api_key:
                owned = [i for i in self._registry.by_token(key) if name in (None, i.name)]
                if not owned:
                    raise errors.unauthorized()
                return Response(200, [i.fetch_row() for i in owned])
            if name is not None:
                instance = self._registry.get(name)
                if instance is None:
                    raise errors.not_found(f'Instance "{name}" not found')
                return Response(200, [instance.fetch_row()])
            return Response(200, [i.fetch_row() for i in self._registry.instances.values()])

    def connect(self, request: Request) -> Response:
        instance = self._guard(request)
        was_close = instance.state == "close" and instance.is_baileys
        answer = self._sessions.connect(instance, request.query.get("number"))
        if was_close:  # connectToWhatsapp(), then ``await delay(2000)``, then the current qrCode
            self._hold(self._config.connect_hold_seconds)
            answer = self._sessions.current_qr(instance, answer)
        return Response(200, answer)

    def _hold(self, seconds: float) -> None:
        if self._config.real_holds:
            self._stopping.wait(seconds)

    def connection_state(self, request: Request) -> Response:
        instance = self._guard(request)
        with self._registry.lock:
            return Response(200, self._sessions.connection_state(instance))

    def restart(self, request: Request) -> Response:
        instance = self._guard(request)
        return Response(200, self._sessions.restart(instance))

    def logout(self, request: Request) -> Response:
        instance = self._guard(request)
        return Response(200, self._sessions.logout(instance))

    def delete(self, request: Request) -> Response:
        """Logs a live session out, then removes the instance asynchronously ('remove.instance'):
        for a moment it still passes the guards, so a second delete also answers 200."""
        instance = self._guard(request)
        with self._registry.lock:
            if instance.state != "close":
                self._sessions.logout(instance)
            if not instance.deleting:
                instance.deleting = True
                self._scheduler.call_later(DELETE_GRACE_SECONDS, lambda: self._remove(instance))
        message = {"message": "Instance deleted"}
        return Response(200, {"status": "SUCCESS", "error": False, "response": message})

    def _remove(self, instance: Instance) -> None:
        with self._registry.lock:
            if self._registry.instances.get(instance.name) is instance:
                del self._registry.instances[instance.name]

    # --- settings -------------------------------------------------------------------------------

    def find_settings(self, request: Request) -> Response:
        instance = self._guard(request)
        with self._registry.lock:
            return Response(200, dict(instance.settings))

    def set_settings(self, request: Request) -> Response:
        instance = self._guard(request)
        body = _body(request)
        self._validate("settings", body)
        with self._registry.lock:
            instance.settings = {key: body.get(key, default) for key, default in _SETTING_DEFAULTS.items()}
            instance.settings_updated_at = payloads.iso_now_utc()
        return Response(201, {"settings": {"instanceName": instance.name, "settings": body}})

    # --- webhook --------------------------------------------------------------------------------

    def set_webhook(self, request: Request) -> Response:
        instance = self._guard(request)
        body = _body(request)
        self._validate("webhook", body)
        hook = dict(body["webhook"])
        if hook.get("enabled") and not isinstance(hook.get("events"), list):
            raise errors.internal(_LENGTH_OF_UNDEFINED)
        with self._registry.lock:
            row = self._store_webhook(instance, hook)
            return Response(201, row.as_json())

    def _store_webhook(self, instance: Instance, hook: dict[str, Any]) -> WebhookRow:
        """Prisma upsert: on update, absent fields stay as they were."""
        enabled = bool(hook.get("enabled"))
        given = hook.get("events")
        events: list[str] | str = given if isinstance(given, str) else list(given or [])
        events = events if enabled else []
        if enabled and not events:
            events = list(ALL_EVENTS)
        now = payloads.iso_now_utc()
        row = instance.webhook
        if row is None:
            row = WebhookRow(
                id=payloads.new_cuid(),
                instance_id=instance.instance_id,
                url=str(hook.get("url")),
                enabled=enabled,
                events=events,
                headers=hook.get("headers"),
                by_events=bool(hook.get("byEvents", False)),
                base64=bool(hook.get("base64", False)),
                created_at=now,
                updated_at=now,
            )
            instance.webhook = row
            return row
        row.enabled, row.events, row.updated_at = enabled, events, now
        if "url" in hook:
            row.url = str(hook["url"])
        if "headers" in hook:
            row.headers = hook["headers"]
        if "byEvents" in hook:
            row.by_events = bool(hook["byEvents"])
        if "base64" in hook:
            row.base64 = bool(hook["base64"])
        return row

    def find_webhook(self, request: Request) -> Response:
        instance = self._guard(request)
        with self._registry.lock:
            row = instance.webhook
            return Response(200, row.as_json() if row else None)

    # --- message & chat -------------------------------------------------------------------------

    def send(self, request: Request) -> Response:
        route = request.params["route"]
        instance = self._guard(request)
        return self._messaging.send(route, instance, _body(request), request.file)

    def whatsapp_numbers(self, request: Request) -> Response:
        instance = self._guard(request)
        return self._messaging.whatsapp_numbers(instance, _body(request))
