"""Turns "instance X had event Y" into a webhook delivery: filter, envelope, URL, headers."""

from __future__ import annotations

import logging
from typing import Any

from devtools.evolution_simulator.config import SimConfig
from devtools.evolution_simulator.payloads import evolution_date_time
from devtools.evolution_simulator.state import Instance
from devtools.evolution_simulator.webhooks import Delivery, WebhookDispatcher

logger = logging.getLogger(__name__)


class Emitter:
    """``emit(instance, "messages.upsert", data)`` → one delivery, if the webhook wants it."""

    def __init__(self, config: SimConfig, dispatcher: WebhookDispatcher) -> None:
        self._config = config
        self._dispatcher = dispatcher
        self.server_url = config.server_url or ""

    def emit(self, instance: Instance, event: str, data: Any) -> None:
        row = instance.webhook
        if row is None or not row.wants(event):
            return
        if not row.url.startswith(("http://", "https://")):
            logger.info("webhook url of %s is not http(s): %s not sent", instance.name, event)
            return
        envelope: dict[str, Any] = {
            "event": event,
            "instance": instance.name,
            "data": data,
            "destination": row.url,
            "date_time": evolution_date_time(self._config.tz_offset_hours),
        }
        if instance.owner_jid:  # JSON.stringify drops the undefined ``sender``
            envelope["sender"] = instance.owner_jid
        envelope["server_url"] = self.server_url
        envelope["apikey"] = instance.token if self._config.webhook_expose_apikey else None
        delivery = Delivery(
            event=event,
            instance=instance.name,
            url=row.target_url(event),
            headers=row.request_headers(),
            payload=envelope,
        )
        self._dispatcher.submit(delivery)
