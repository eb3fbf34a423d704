"""The WhatsApp session: its state, connecting it (QR or pairing code), disconnecting it."""

from __future__ import annotations

import contextlib
import logging
import re
from typing import TYPE_CHECKING, Any

from chalicelib import errors
from chalicelib.clock import now_iso
from chalicelib.evolution import errors as evo
from chalicelib.evolution.wire import ConnectResult, WebhookConfig
from chalicelib.services.integrations import BAILEYS
from chalicelib.services.upstream import translate

if TYPE_CHECKING:
    from chalicelib.evolution import EvolutionClient
    from chalicelib.services.integrations import IntegrationCache
    from chalicelib.settings import Settings
    from chalicelib.store.base import Store

logger = logging.getLogger(__name__)


def webhook_config(settings: Settings) -> WebhookConfig | None:
    """This service's webhook on the instance, when a public URL is configured."""
    url = settings.webhook_url
    if url is None:
        return None
    from chalicelib.services.webhooks import subscriptions  # noqa: PLC0415 - only when connecting

    return WebhookConfig(
        url=url,
        events=subscriptions(),
        headers={"X-Webhook-Secret": settings.WEBHOOK_SECRET.get_secret_value()},
    )


def pairing_number(phone: str) -> str:
    """The digits Evolution wants for a pairing code, or a ValidationError."""
    digits = re.sub(r"[\s().+-]", "", phone)
    if not (digits.isascii() and digits.isdigit()) or not 8 <= len(digits) <= 15:
        raise errors.ValidationError(
            "phone must be an international number such as +5511999999999.",
            details=[{"loc": ["phone"], "msg": "must be 8 to 15 digits with country code"}],
        )
    return digits


QR_READY = "Scan the QR code in WhatsApp: Settings > Linked devices > Link a device."
QR_PAIRING = "Type the pairing code in WhatsApp: Linked devices > Link with phone number instead."
QR_PENDING = (
    "Evolution has no QR code yet: it is still reaching WhatsApp, which normally takes a few seconds. "
    "Call POST /connect again; if no QR comes within a minute, Evolution cannot reach WhatsApp "
    "(check its network and logs)."
)
QR_CLOSED = (
    "Evolution reports the session closed: it could not reach WhatsApp or the pairing was given up "
    "(QR limit). Call POST /connect again to start a new pairing."
)


def _qr_status(
    state: str, qr_code: str | None, with_phone: bool, pairing_code: str | None
) -> tuple[str, str]:
    """``qr_status`` (ready | pending | unavailable) and a sentence saying what to do."""
    if state == "close":
        return "unavailable", QR_CLOSED
    if with_phone and pairing_code:
        return "ready", QR_PAIRING
    if qr_code:
        return "ready", QR_READY
    return "pending", QR_PENDING


class InstanceService:
    """Drives the one Evolution instance this service owns."""

    def __init__(
        self,
        *,
        evolution: EvolutionClient,
        settings: Settings,
        store: Store | None = None,
        integrations: IntegrationCache | None = None,
    ) -> None:
        self.evolution = evolution
        self.settings = settings
        self.store = store
        self.integrations = integrations
        self.instance = settings.INSTANCE_NAME

    def status(self) -> dict[str, Any]:
        try:
            state = self.evolution.connection_state(self.instance)
        except evo.EvolutionError as exc:
            raise translate(exc) from exc
        return {"instance": self.instance, "state": state, "connected": state == "open"}

    def connect(self, phone: str | None = None) -> dict[str, Any]:
        """Create the instance if missing, start pairing, and say what Evolution says.

        Evolution answers ``connect`` of a closed session after about 2 s, with a QR or none yet.
        A session already pairing by QR ignores ``number``, so a phone then restarts the pairing
        (only when a QR without a pairing code shows it is QR-only: polling never loops)."""
        number = pairing_number(phone) if phone else None
        try:
            state = self._ensure_instance()
            if state == "open":
                return self._connected()
            result = self.evolution.connect(self.instance, number=number)
            if number is not None and state == "connecting" and result.qr_code and not result.pairing_code:
                result = self._restart_pairing(number)
            if result.state == "open":
                return self._connected()
            state = "connecting" if result.qr_code else self.evolution.connection_state(self.instance)
        except evo.EvolutionError as exc:
            raise translate(exc) from exc
        if state == "open":
            return self._connected()
        state = "close" if state == "close" else "connecting"
        qr_status, reason = _qr_status(state, result.qr_code, number is not None, result.pairing_code)
        self._remember(
            state=state, qr_code=result.qr_code, pairing_code=result.pairing_code, code=result.code
        )
        return {
            "instance": self.instance,
            "state": state,
            "qr_code": result.qr_code,
            "pairing_code": result.pairing_code,
            "code": result.code,
            "attempt": result.attempt,
            "qr_status": qr_status,
            "reason": reason,
        }

    def _restart_pairing(self, number: str) -> ConnectResult:
        """A QR-only pairing is running (Evolution ignores ``number`` then): log it out and start
        again with the number, so Evolution makes a pairing code."""
        with contextlib.suppress(evo.EvolutionNotConnectedError):  # closed meanwhile: connect restarts it
            self.evolution.logout(self.instance)
        logger.info("pairing restarted for a pairing code", extra={"instance": self.instance})
        return self.evolution.connect(self.instance, number=number)

    def disconnect(self) -> dict[str, Any]:
        try:
            state = self.evolution.connection_state(self.instance)
            was_connected = state == "open"
            if state != "close":
                try:
                    self.evolution.logout(self.instance)
                except evo.EvolutionNotConnectedError:
                    was_connected = False
        except evo.EvolutionError as exc:
            raise translate(exc) from exc
        self._remember(state="close", qr_code=None, pairing_code=None, code=None)
        return {
            "instance": self.instance,
            "state": "close",
            "disconnected": True,
            "was_connected": was_connected,
        }

    def _ensure_instance(self) -> str:
        """Create the instance when missing (with our webhook), else make sure the webhook is set."""
        config = webhook_config(self.settings)
        try:
            state = self.evolution.connection_state(self.instance)
        except evo.EvolutionNotFoundError:
            try:
                # qrcode:false: created closed at once (with qrcode:true Evolution holds the answer 5 s);
                # the connect that follows starts the session
                self.evolution.create_instance(
                    self.instance, integration=BAILEYS, webhook=config, qrcode=False
                )
                logger.info("instance created", extra={"instance": self.instance})
                self._created(BAILEYS)
                return "close"
            except evo.EvolutionNameTakenError:
                state = self.evolution.connection_state(self.instance)  # created concurrently
        if config is not None:
            self.evolution.set_webhook(self.instance, config)
        return state

    def _created(self, integration: str) -> None:
        """A new instance may not be the one whose integration was learnt before (it was deleted
        and created again): this process forgets it, and the store keeps the new one."""
        if self.integrations is not None:
            self.integrations.forget(self.instance)
        self._remember(integration=integration)

    def _connected(self) -> dict[str, Any]:
        self._remember(state="open", qr_code=None, pairing_code=None, code=None)
        return {"instance": self.instance, "state": "open", "connected": True}

    def _remember(self, **fields: Any) -> None:
        """Keep the latest state and QR for the QR page; the store being down never fails a call."""
        if self.store is None:
            return
        try:
            self.store.update_instance_state(self.instance, updated_at=now_iso(), **fields)
        except errors.StoreUnavailableError:
            logger.warning("could not record the instance state", exc_info=True)
