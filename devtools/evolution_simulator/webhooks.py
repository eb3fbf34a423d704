"""Webhook configuration rows and their delivery: envelope, headers, JWT, retries, delivery log."""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from devtools.evolution_simulator.config import SimConfig
from devtools.evolution_simulator.jwt_sign import webhook_bearer_token
from devtools.evolution_simulator.payloads import iso_now_utc

logger = logging.getLogger(__name__)

# EventController.events: what an empty ``events`` list is expanded to when a webhook is set.
ALL_EVENTS = [
    "APPLICATION_STARTUP",
    "QRCODE_UPDATED",
    "MESSAGES_SET",
    "MESSAGES_UPSERT",
    "MESSAGES_EDITED",
    "MESSAGES_UPDATE",
    "MESSAGES_DELETE",
    "SEND_MESSAGE",
    "SEND_MESSAGE_UPDATE",
    "CONTACTS_SET",
    "CONTACTS_UPSERT",
    "CONTACTS_UPDATE",
    "PRESENCE_UPDATE",
    "CHATS_SET",
    "CHATS_UPSERT",
    "CHATS_UPDATE",
    "CHATS_DELETE",
    "GROUPS_UPSERT",
    "GROUP_UPDATE",
    "GROUP_PARTICIPANTS_UPDATE",
    "CONNECTION_UPDATE",
    "LABELS_EDIT",
    "LABELS_ASSOCIATION",
    "CALL",
    "TYPEBOT_START",
    "TYPEBOT_CHANGE_STATUS",
    "REMOVE_INSTANCE",
    "LOGOUT_INSTANCE",
    "INSTANCE_CREATE",
    "INSTANCE_DELETE",
    "STATUS_INSTANCE",
]
NON_RETRYABLE = frozenset({400, 401, 403, 404, 422})
USER_AGENT = "axios/1.7.9"


def config_name(event: str) -> str:
    """``messages.upsert`` → ``MESSAGES_UPSERT`` (the name used in ``events``)."""
    return event.replace(".", "_").replace("-", "_").upper()


def url_suffix(event: str) -> str:
    """``messages.upsert`` → ``messages-upsert`` (the ``byEvents`` path suffix)."""
    return config_name(event).replace("_", "-").lower()


@dataclass
class WebhookRow:
    """The stored webhook row, as Prisma returns it from ``webhook/set`` and ``webhook/find``."""

    id: str
    instance_id: str
    url: str
    enabled: bool
    events: list[str] | str  # a string when created with one (Evolution stores it as given)
    headers: dict[str, Any] | None
    by_events: bool
    base64: bool
    created_at: str
    updated_at: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "headers": self.headers,
            "enabled": self.enabled,
            "events": self.events if isinstance(self.events, str) else list(self.events),
            "webhookByEvents": self.by_events,
            "webhookBase64": self.base64,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "instanceId": self.instance_id,
        }

    def wants(self, event: str) -> bool:
        return self.enabled and config_name(event) in self.events

    def target_url(self, event: str) -> str:
        return f"{self.url}/{url_suffix(event)}" if self.by_events else self.url

    def request_headers(self) -> dict[str, str]:
        """Registered headers verbatim (stringified like axios), ``jwt_key`` → Bearer JWT."""
        headers = {str(k): _js_string(v) for k, v in (self.headers or {}).items()}
        if "jwt_key" in headers:
            headers["Authorization"] = f"Bearer {webhook_bearer_token(headers.pop('jwt_key'))}"
        return headers


def _js_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class Delivery:
    """One event to POST: where, with which headers, which envelope."""

    event: str
    instance: str
    url: str
    headers: dict[str, str]
    payload: dict[str, Any]


@dataclass
class _Log:
    entries: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class WebhookDispatcher:
    """Delivers in background threads, retrying like Evolution but on a local-sized schedule."""

    def __init__(self, config: SimConfig, *, stopping: threading.Event) -> None:
        self._config = config
        self._stopping = stopping
        self._executor = ThreadPoolExecutor(max_workers=32, thread_name_prefix="sim-webhook")
        self._log = _Log()
        self._sequence = 0

    def submit(self, delivery: Delivery) -> None:
        if self._stopping.is_set():
            return
        self._executor.submit(self._deliver, delivery)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def entries(self) -> list[dict[str, Any]]:
        with self._log.lock:
            return [dict(entry) for entry in self._log.entries]

    def clear(self) -> None:
        with self._log.lock:
            self._log.entries.clear()

    def _deliver(self, delivery: Delivery) -> None:
        config = self._config
        if config.webhook_delay_ms and self._stopping.wait(config.webhook_delay_ms / 1000):
            return
        with self._log.lock:
            self._sequence += 1
            delivery_id = self._sequence
        body = json.dumps(delivery.payload, ensure_ascii=False).encode()
        headers = {
            "Accept": "application/json, text/plain, */*",
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            **delivery.headers,
        }
        delay = config.webhook_backoff_initial_ms / 1000
        for attempt in range(1, config.webhook_max_attempts + 1):
            status, error = self._post(delivery.url, body, headers)
            self._record(
                delivery,
                delivery_id=delivery_id,
                attempt=attempt,
                status=status,
                error=error,
                headers=headers,
            )
            if status is not None and (200 <= status < 300 or status in NON_RETRYABLE):
                return
            if attempt == config.webhook_max_attempts:
                logger.warning("webhook %s dropped after %d attempts", delivery.event, attempt)
                return
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, config.webhook_backoff_max_ms / 1000)

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str | None]:
        """One POST with http.client, so header names go out exactly as registered."""
        parts = urlsplit(url)
        connection_class = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection = connection_class(
                parts.hostname or "", parts.port, timeout=self._config.webhook_timeout
            )
            try:
                connection.request("POST", path, body=body, headers=headers)
                answer = connection.getresponse()
                answer.read()
                return int(answer.status), None
            finally:
                connection.close()
        except (OSError, http.client.HTTPException, ValueError) as exc:
            return None, f"{type(exc).__name__}: {exc}"

    def _record(
        self,
        delivery: Delivery,
        *,
        delivery_id: int,
        attempt: int,
        status: int | None,
        error: str | None,
        headers: dict[str, str],
    ) -> None:
        logger.info("webhook %s → %s attempt %d: %s", delivery.event, delivery.url, attempt, status or error)
        entry = {
            "delivery": delivery_id,
            "attempt": attempt,
            "event": delivery.event,
            "instance": delivery.instance,
            "url": delivery.url,
            "status": status,
            "error": error,
            "at": iso_now_utc(),
            "monotonic": time.monotonic(),
            "headers": headers,
            "payload": delivery.payload,
        }
        with self._log.lock:
            self._log.entries.append(entry)
