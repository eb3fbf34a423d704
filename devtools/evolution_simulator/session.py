"""The session state machine: close → connecting (QR) → open, drops, restarts, logouts."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from typing import Any

from devtools.evolution_simulator import errors, payloads, qr
from devtools.evolution_simulator.config import SimConfig
from devtools.evolution_simulator.events import Emitter
from devtools.evolution_simulator.numbers import create_jid
from devtools.evolution_simulator.scheduler import Scheduler
from devtools.evolution_simulator.state import Instance, QrState, Registry

logger = logging.getLogger(__name__)
RECONNECT_SECONDS = 0.3  # Baileys reconnects right after a restart's end()


def _kept(current: QrState) -> QrState:
    """Evolution 2.3.7 keeps the last QR after a logout or restart and answers it (old count
    included) until the next pairing makes a new one; before any QR there is only the count."""
    return replace(current, stale=True) if current.code is not None else QrState()


class SessionStateError(Exception):
    """A control action that does not fit the session's state (e.g. scanning an open session)."""


def _digits(value: str | None) -> str | None:
    digits = "".join(ch for ch in value or "" if ch.isdigit())
    return digits or None


def default_owner(name: str) -> str:
    """A stable fake owner number for an instance: 55 11 9 + 8 digits from its name."""
    return "55119" + str(int(hashlib.sha256(name.encode()).hexdigest()[:10], 16))[-8:].zfill(8)


class Sessions:
    """Every transition happens under ``registry.lock`` and emits the webhooks Evolution emits."""

    def __init__(self, config: SimConfig, registry: Registry, emitter: Emitter, scheduler: Scheduler) -> None:
        self._config = config
        self._registry = registry
        self._emitter = emitter
        self._scheduler = scheduler

    # --- routes -------------------------------------------------------------------------------

    def connection_state(self, instance: Instance) -> dict[str, Any]:
        return {"instance": {"instanceName": instance.name, "state": instance.state}}

    def connect(self, instance: Instance, number: str | None) -> dict[str, Any]:
        """``GET /instance/connect``: the QR object, ``{"count":0}``, or the open state."""
        with self._registry.lock:
            if not instance.is_baileys:
                if instance.state != "open":
                    self._open(instance, _digits(instance.number) or default_owner(instance.name))
                return self.connection_state(instance)
            if instance.state == "open":
                return self.connection_state(instance)
            if instance.state == "connecting":
                return instance.qr.as_json()
            return self.start(instance, number)

    def start(self, instance: Instance, number: str | None) -> dict[str, Any]:
        """close → connecting. The answer is taken before the first QR is born."""
        with self._registry.lock:
            instance.generation += 1
            instance.client_created = True
            instance.state = "connecting"
            instance.status_reason = 200
            instance.qr = _kept(instance.qr)
            instance.pairing_number = _digits(number)
            answer = instance.qr.as_json()
            self._emit(instance, "connection.update", self._connection_data(instance))
            self._next_qr(instance, instance.generation)
            return answer

    def restart(self, instance: Instance) -> dict[str, Any]:
        """``POST /instance/restart``: never an HTTP error; a closed session gives the
        ``{"error":true,"message":"[object Object]"}`` that ``error.toString()`` of a thrown
        BadRequestException really produces."""
        with self._registry.lock:
            if instance.state == "close":
                return {"error": True, "message": "[object Object]"}
            if instance.state == "open":
                generation = instance.generation
                self._emit(
                    instance,
                    "connection.update",
                    payloads.connection_update(instance.name, "connecting", 200),
                )
                self._scheduler.call_later(0.2, lambda: self._reopen(instance, generation))
                return self.connection_state(instance)
            # end(new Error('restart')) while connecting: the answer is the current qrCode, the
            # session reads ``close`` until Baileys reconnects a moment later
            answer = instance.qr.as_json()
            instance.generation += 1
            instance.state = "close"
            generation = instance.generation
            self._scheduler.call_later(RECONNECT_SECONDS, lambda: self._reconnect(instance, generation))
            return answer

    def current_qr(self, instance: Instance, answer: dict[str, Any]) -> dict[str, Any]:
        """What a held create/connect answers once its wait is over: the qrCode at that moment."""
        with self._registry.lock:
            if self._config.real_holds and instance.state == "connecting":
                return instance.qr.as_json()
            return answer

    def _reconnect(self, instance: Instance, generation: int) -> None:
        with self._registry.lock:
            if self._current(instance, generation) and instance.state == "close":
                self.start(instance, instance.pairing_number)

    def logout(self, instance: Instance) -> dict[str, Any]:
        with self._registry.lock:
            if instance.state == "close":
                raise errors.bad_request(f'The "{instance.name}" instance is not connected')
            self._close(instance, 401)
            return {
                "status": "SUCCESS",
                "error": False,
                "response": {"message": "Instance logged out"},
            }

    # --- control ------------------------------------------------------------------------------

    def scan(self, instance: Instance, number: str | None, profile_name: str | None) -> None:
        with self._registry.lock:
            if instance.state != "connecting":
                raise SessionStateError(f"instance is {instance.state}, not connecting")
            owner = _digits(number) or instance.pairing_number
            owner = owner or _digits(instance.owner_jid) or default_owner(instance.name)
            self._open(instance, owner, profile_name)

    def drop(self, instance: Instance, status_reason: int) -> None:
        with self._registry.lock:
            if instance.state == "close":
                raise SessionStateError("instance is already close")
            self._close(instance, status_reason)

    # --- transitions --------------------------------------------------------------------------

    def _open(self, instance: Instance, owner: str, profile_name: str | None = None) -> None:
        instance.generation += 1
        instance.state = "open"
        instance.status_reason = 200
        instance.qr = QrState()
        instance.owner_jid = create_jid(owner)
        instance.profile_name = profile_name or instance.profile_name or f"Sim {instance.name}"
        instance.updated_at = payloads.iso_now_utc()
        logger.info("instance %s is open", instance.name)
        self._emit(instance, "connection.update", self._connection_data(instance))

    def _close(self, instance: Instance, status_reason: int) -> None:
        instance.generation += 1
        instance.state = "close"
        instance.status_reason = status_reason
        instance.qr = _kept(instance.qr)
        instance.disconnection_code = status_reason
        instance.disconnection_at = payloads.iso_now_utc()
        logger.info("instance %s is closed (%d)", instance.name, status_reason)
        self._emit(instance, "connection.update", self._connection_data(instance))

    def _reopen(self, instance: Instance, generation: int) -> None:
        with self._registry.lock:
            if self._current(instance, generation) and instance.state == "open":
                self._emit(instance, "connection.update", self._connection_data(instance))

    def _next_qr(self, instance: Instance, generation: int) -> None:
        """Birth or refresh of a QR, scheduled every ``qr_refresh_seconds`` while connecting."""
        with self._registry.lock:
            if not self._current(instance, generation) or instance.state != "connecting":
                return
            shown = 0 if instance.qr.stale else instance.qr.count
            if shown >= self._config.qr_limit:
                self._qr_limit_reached(instance)
                return
            code = qr.new_qr_code()
            pairing = qr.new_pairing_code() if instance.pairing_number else None
            data_url = qr.png_data_url(code)
            instance.qr = QrState(shown + 1, code, data_url, pairing)
            self._emit(
                instance,
                "qrcode.updated",
                payloads.qrcode_updated(instance.name, pairing, code, data_url),
            )
            self._scheduler.call_later(
                self._config.qr_refresh_seconds, lambda: self._next_qr(instance, generation)
            )
            if instance.qr.count == 1 and self._config.auto_scan_after is not None:
                self._scheduler.call_later(
                    self._config.auto_scan_after, lambda: self._auto_scan(instance, generation)
                )

    def _qr_limit_reached(self, instance: Instance) -> None:
        self._emit(instance, "qrcode.updated", dict(payloads.QR_LIMIT_DATA))
        refused = payloads.connection_update(instance.name, "refused", 428, wuid=instance.owner_jid)
        self._emit(instance, "connection.update", refused)
        instance.generation += 1
        instance.state = "close"
        instance.status_reason = 428
        instance.qr = QrState()

    def _auto_scan(self, instance: Instance, generation: int) -> None:
        with self._registry.lock:
            if self._current(instance, generation) and instance.state == "connecting":
                logger.info("auto-scan of %s", instance.name)
                self.scan(instance, None, None)

    # --- helpers ------------------------------------------------------------------------------

    def _current(self, instance: Instance, generation: int) -> bool:
        alive = self._registry.instances.get(instance.name) is instance
        return alive and instance.generation == generation

    def _connection_data(self, instance: Instance) -> dict[str, Any]:
        return payloads.connection_update(
            instance.name,
            instance.state,
            instance.status_reason,
            wuid=instance.owner_jid,
            profile_name=instance.profile_name,
        )

    def _emit(self, instance: Instance, event: str, data: Any) -> None:
        self._emitter.emit(instance, event, data)
