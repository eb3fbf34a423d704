"""``POST /chat/getBase64FromMediaMessage/{instance}``: the media the simulator itself sent in
inbound events, served back as Evolution 2.3.7 does, with the real server's errors.

Shapes (from Evolution's ``whatsapp.baileys.service.ts`` ``getBase64FromMediaMessage`` and its
``BadRequestException``): 201 ``{"mediaType", "fileName", "caption", "size": {"fileLength",
"height", "width"}, "mimetype", "base64", "buffer": null}``; a message it does not hold (never
sent, or forgotten) → 400 ``["Message not found"]``; one without media → 400 ``["The message is not of
the media type"]``; a body without ``message`` → 400
``["TypeError: Cannot read properties of undefined (reading 'key')"]``; media WhatsApp no longer
serves (``POST /_sim/media/expire``) → 400 ``["Error: Failed to fetch stream from …"]``.
"""

from __future__ import annotations

import base64
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from devtools.evolution_simulator import errors
from devtools.evolution_simulator.http_types import Request, Response

if TYPE_CHECKING:
    from devtools.evolution_simulator.api import EvolutionApi
    from devtools.evolution_simulator.control import ControlApi

MEDIA_TYPES = ("imageMessage", "videoMessage", "audioMessage", "documentMessage", "stickerMessage")
MAX_KEPT = 1000  # messages whose media is remembered (oldest forgotten first, like a pruned store)
MAX_KEPT_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Kept:
    data: bytes
    media_type: str
    fields: dict[str, Any]


class MediaLibrary:
    """The bytes of every media message the simulator sent in an inbound event, by message id."""

    def __init__(self, *, max_items: int = MAX_KEPT, max_bytes: int = MAX_KEPT_BYTES) -> None:
        self._items: OrderedDict[str, Kept] = OrderedDict()
        self._expired: set[str] = set()
        self._plain: OrderedDict[str, None] = OrderedDict()  # messages it sent without media
        self._bytes = 0
        self._max_items = max_items
        self._max_bytes = max_bytes
        self._lock = threading.Lock()

    def remember(self, message_id: str, kept: Kept) -> None:
        with self._lock:
            self._items[message_id] = kept
            self._bytes += len(kept.data)
            while self._items and (len(self._items) > self._max_items or self._bytes > self._max_bytes):
                _, old = self._items.popitem(last=False)
                self._bytes -= len(old.data)

    def remember_plain(self, message_id: str) -> None:
        with self._lock:
            self._plain[message_id] = None
            while len(self._plain) > self._max_items:
                self._plain.popitem(last=False)

    def is_plain(self, message_id: str) -> bool:
        with self._lock:
            return message_id in self._plain

    def get(self, message_id: str) -> Kept | None:
        with self._lock:
            return self._items.get(message_id)

    def expire(self, message_id: str) -> bool:
        with self._lock:
            if message_id not in self._items:
                return False
            self._expired.add(message_id)
            return True

    def expired(self, message_id: str) -> bool:
        with self._lock:
            return message_id in self._expired

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._expired.clear()
            self._plain.clear()
            self._bytes = 0


def media_of(data: dict[str, Any], raw: dict[str, Any]) -> Kept | None:
    """The media of a ``messages.upsert`` data the simulator built, with the bytes it announced
    (``raw``: the generated content by media message type)."""
    message = data.get("message") or {}
    for media_type in MEDIA_TYPES:
        fields = message.get(media_type)
        if isinstance(fields, dict) and media_type in raw:
            return Kept(raw[media_type], media_type, fields)
    return None


class MediaApi:
    """The Evolution route and the control routes of media."""

    def __init__(self, *, api: EvolutionApi, control: ControlApi, library: MediaLibrary) -> None:
        self._api = api
        self._control = control
        self.library = library

    def get_base64(self, request: Request) -> Response:
        self._api._guard(request)  # noqa: SLF001 - the same guards as every instance route
        body = request.body if isinstance(request.body, dict) else {}
        message = body.get("message")
        if not isinstance(message, dict):
            raise errors.bad_request("TypeError: Cannot read properties of undefined (reading 'key')")
        key = message.get("key") if isinstance(message.get("key"), dict) else {}
        kept = self.library.get(str(key.get("id") or ""))
        if kept is None and self.library.is_plain(str(key.get("id") or "")):
            raise errors.bad_request("The message is not of the media type")
        if kept is None:
            raise errors.bad_request("Message not found")
        if self.library.expired(str(key.get("id"))):
            raise errors.bad_request(
                "Error: Failed to fetch stream from https://mmg.whatsapp.net"
                + str(kept.fields.get("directPath", "/v/t62.7119-24/expired.enc"))
            )
        fields = kept.fields
        return Response(
            201,
            {
                "mediaType": kept.media_type,
                "fileName": fields.get("fileName") or f"{key.get('id')}.{_extension(fields.get('mimetype'))}",
                "caption": fields.get("caption"),
                "size": {
                    "fileLength": fields.get("fileLength"),
                    "height": fields.get("height"),
                    "width": fields.get("width"),
                },
                "mimetype": fields.get("mimetype"),
                "base64": base64.b64encode(kept.data).decode(),
                "buffer": None,
            },
        )

    def inbound(self, request: Request) -> Response:
        """``/_sim/instances/{i}/inbound``: as before, and the media it sent is remembered."""
        from devtools.evolution_simulator.payloads import TINY_JPEG, TINY_OGG, TINY_PDF  # noqa: PLC0415

        response = self._control.inbound(request)
        if response.status == 200 and isinstance(response.body, dict):
            data = response.body.get("data") or {}
            raw = {
                "imageMessage": base64.b64decode(TINY_JPEG),
                "documentMessage": base64.b64decode(TINY_PDF),
                "audioMessage": base64.b64decode(TINY_OGG),
            }
            kept = media_of(data, raw)
            if kept is not None:
                self.library.remember(str(data["key"]["id"]), kept)
            else:
                self.library.remember_plain(str(data["key"]["id"]))
        return response

    def expire(self, request: Request) -> Response:
        """``/_sim/media/expire`` ``{"message_id"}``: WhatsApp no longer serves that media."""
        body = request.body if isinstance(request.body, dict) else {}
        found = self.library.expire(str(body.get("message_id") or ""))
        return Response(200 if found else 404, {"expired": found})


def _extension(mimetype: Any) -> str:
    known = {"image/jpeg": "jpeg", "application/pdf": "pdf", "audio/ogg; codecs=opus": "oga"}
    return known.get(str(mimetype), "bin")
