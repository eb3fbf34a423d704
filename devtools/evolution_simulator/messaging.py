"""``/message/send*`` and ``/chat/whatsappNumbers``: checks in the server's order, then the
message object, ``send.message`` and the ack sequence of ``messages.update``."""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable
from typing import Any

from devtools.evolution_simulator import errors, payloads
from devtools.evolution_simulator.config import SimConfig
from devtools.evolution_simulator.events import Emitter
from devtools.evolution_simulator.http_types import EvolutionHTTPError, Response, UploadedFile
from devtools.evolution_simulator.media import download_error
from devtools.evolution_simulator.numbers import create_jid, is_base64, is_single_emoji, is_url
from devtools.evolution_simulator.scheduler import Scheduler
from devtools.evolution_simulator.state import BAILEYS, BUSINESS, Instance, Registry
from devtools.evolution_simulator.validation import SchemaRegistry

logger = logging.getLogger(__name__)

Builder = Callable[[dict[str, Any]], tuple[dict[str, Any], str]]
BUILDERS: dict[str, Builder] = {
    "sendText": payloads.text_content,
    "sendMedia": payloads.media_content,
    "sendWhatsAppAudio": payloads.audio_content,
    "sendLocation": payloads.location_content,
    "sendReaction": payloads.reaction_content,
    "sendTemplate": payloads.template_content,
    "sendSticker": payloads.sticker_content,
}
_UPLOAD_FIELDS = {"sendMedia": "media", "sendWhatsAppAudio": "audio", "sendSticker": "sticker"}
BAILEYS_ACKS = ("SERVER_ACK", "DELIVERY_ACK", "READ")
CLOUD_ACKS = ("SENT", "DELIVERED", "READ")


def _controller_checks(
    route: str, instance: Instance, body: dict[str, Any], upload: UploadedFile | None
) -> None:
    """What the controllers check after the schema and before the WhatsApp session."""
    if route == "sendText":
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise errors.bad_request("Text is required")
    elif route == "sendMedia":
        media = body.get("media")
        if is_base64(media) and not body.get("fileName") and body.get("mediatype") == "document":
            raise errors.bad_request("For base64 the file name must be informed.")
        if not (upload or is_url(media) or is_base64(media)):
            raise errors.bad_request("Owned media must be a url or base64")
    elif route == "sendSticker":
        sticker = body.get("sticker")
        if not (upload or is_url(sticker) or is_base64(sticker)):
            raise errors.bad_request("Owned media must be a url or base64")
    elif route == "sendWhatsAppAudio":
        audio = body.get("audio")
        if not ((upload and upload.data) or is_url(audio) or is_base64(audio)):
            raise errors.bad_request("Owned media must be a url, base64, or valid file with buffer")
    elif route == "sendReaction":
        reaction = body.get("reaction", "")
        if reaction != "" and not is_single_emoji(str(reaction)):
            raise errors.bad_request("Reaction must be a single emoji or empty string")
    elif route == "sendTemplate" and instance.integration != BUSINESS:
        service = "Baileys" if instance.integration == BAILEYS else "Evolution"
        raise errors.internal(f"Method not available in the {service} service")


class Messaging:
    """Sends and number checks for one simulator."""

    def __init__(
        self,
        *,
        config: SimConfig,
        registry: Registry,
        emitter: Emitter,
        scheduler: Scheduler,
        schemas: SchemaRegistry,
        stopping: threading.Event,
    ) -> None:
        self._config = config
        self._registry = registry
        self._emitter = emitter
        self._scheduler = scheduler
        self._schemas = schemas
        self._stopping = stopping

    def _require_session(self, instance: Instance) -> None:
        """Baileys needs an open socket: never created → TypeError, otherwise Boom."""
        if not instance.is_baileys:
            return
        if not instance.client_created:
            raise errors.internal(errors.NEVER_CONNECTED)
        if instance.state != "open":
            raise errors.internal(errors.CONNECTION_CLOSED)

    def _prepare_media(self, route: str, instance: Instance, body: dict[str, Any], upload: Any) -> None:
        """Media is downloaded (or decoded) and uploaded to WhatsApp before the recipient check:
        sendMedia wraps every failure as a 500 list, audio passes a download error on as a string."""
        if route == "sendMedia":
            media = body.get("media")
            failure = download_error(media) if upload is None and is_url(media) else None
            if failure is not None:
                raise errors.internal_list(f"Error: {failure}")
            if instance.is_baileys and not instance.client_created:
                raise errors.internal_list(errors.NEVER_CONNECTED_UPLOAD)
            if instance.is_baileys and instance.state != "open":
                raise errors.internal_list(f"Error: {errors.CONNECTION_CLOSED}")
        elif route == "sendWhatsAppAudio" and upload is None and is_url(body.get("audio")):
            failure = download_error(str(body["audio"]))
            if failure is not None:
                raise errors.internal(failure)

    def _known_while_closed(self, instance: Instance, jid: str) -> None:
        """With DATABASE_SAVE_IS_ON_WHATSAPP, a cached recipient skips onWhatsApp and the send
        fails further on, wrapped as a 400 list: on a socket never created (``sendMessage``), on
        one that never logged in (``client.user.id``), or on a closed one (``Connection Closed``)."""
        if not (instance.is_baileys and instance.state != "open"):
            return
        if not (self._config.save_is_on_whatsapp and self._registry.is_cached(jid)):
            return
        if not instance.client_created:
            raise errors.bad_request(errors.undefined_property("sendMessage"))
        if instance.owner_jid is None:
            raise errors.bad_request(errors.undefined_property("id"))
        raise errors.bad_request(f"Error: {errors.CONNECTION_CLOSED}")

    def send(
        self, route: str, instance: Instance, body: dict[str, Any], upload: UploadedFile | None = None
    ) -> Response:
        messages = self._schemas.errors(route, body)
        if messages:
            raise errors.bad_request(messages)
        _controller_checks(route, instance, body, upload)
        self._prepare_media(route, instance, body, upload)
        number = str(body["key"]["remoteJid"] if route == "sendReaction" else body.get("number", ""))
        jid = create_jid(number)
        self._known_while_closed(instance, jid)
        self._require_session(instance)
        exists = self._registry.on_whatsapp(jid, number)
        if exists and self._config.save_is_on_whatsapp:
            self._registry.cache_on_whatsapp(jid)
        if upload is not None and route in _UPLOAD_FIELDS:  # the file replaces the field, as base64
            body = {**body, _UPLOAD_FIELDS[route]: base64.b64encode(upload.data).decode()}
        if instance.is_baileys and not exists:
            raise errors.bad_request({"jid": jid, "exists": False, "number": number})
        delay_ms = body.get("delay")
        if isinstance(delay_ms, int) and delay_ms > 0:
            self._stopping.wait(min(delay_ms, self._config.max_send_delay_ms) / 1000)
            self._require_session(instance)
        content, message_type = BUILDERS[route](body)
        with self._registry.lock:
            if instance.is_baileys:
                message = payloads.baileys_message(
                    remote_jid=jid,
                    content=content,
                    message_type=message_type,
                    instance_id=instance.instance_id,
                    context=payloads.context_info(body, jid),
                )
            else:
                message = payloads.cloud_message(
                    remote_jid=jid,
                    content=content,
                    message_type=message_type,
                    instance_id=instance.instance_id,
                )
            self._emitter.emit(instance, "send.message", message)
        self._schedule_acks(instance, message, delivered=exists)
        return Response(201, message)

    def _schedule_acks(self, instance: Instance, message: dict[str, Any], *, delivered: bool) -> None:
        cloud = not instance.is_baileys
        statuses: tuple[str, ...] = CLOUD_ACKS if cloud else BAILEYS_ACKS
        if not delivered:
            statuses = ("FAILED",)
        row_id = payloads.new_cuid()
        step = self._config.ack_delay_ms / 1000
        for index, status in enumerate(statuses, start=1):
            data = payloads.message_status(message, status, row_id=row_id, cloud=cloud)
            self._scheduler.call_later(step * index, self._ack(instance, data))

    def _ack(self, instance: Instance, data: dict[str, Any]) -> Callable[[], None]:
        def emit() -> None:
            with self._registry.lock:
                if self._registry.instances.get(instance.name) is instance:
                    self._emitter.emit(instance, "messages.update", data)

        return emit

    def whatsapp_numbers(self, instance: Instance, body: dict[str, Any]) -> Response:
        """This route catches its own errors and answers 400 with whatever was thrown."""
        try:
            messages = self._schemas.errors("whatsappNumbers", body)
            if messages:
                raise errors.bad_request(messages)
            numbers = body.get("numbers")
            if not isinstance(numbers, list):
                return Response(400, {})  # a serialized TypeError
            if instance.is_baileys and not instance.client_created:
                return Response(400, {})
            jids = [create_jid(str(number)) for number in numbers]
            all_cached = self._config.save_is_on_whatsapp and all(map(self._registry.is_cached, jids))
            if instance.is_baileys and instance.state != "open" and not all_cached:
                return Response(400, errors.connection_closed_boom())
        except EvolutionHTTPError as exc:
            body_out = dict(exc.body)
            response = body_out.pop("response", {})
            return Response(400, {**body_out, "message": response.get("message")})
        result = []
        for number in numbers:
            jid = create_jid(str(number))
            exists = self._registry.is_cached(jid) if self._config.save_is_on_whatsapp else False
            exists = exists or self._registry.on_whatsapp(jid, str(number))
            if exists and self._config.save_is_on_whatsapp:
                self._registry.cache_on_whatsapp(jid)
            item: dict[str, Any] = {"exists": exists}
            result.append(item | {"jid": jid, "number": str(number)})
        return Response(200, result)
