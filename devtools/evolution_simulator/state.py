"""In-memory instances and their sessions, the not-on-WhatsApp set and the log of sends."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from devtools.evolution_simulator.numbers import jid_user
from devtools.evolution_simulator.payloads import iso_now_utc
from devtools.evolution_simulator.webhooks import WebhookRow

BAILEYS = "WHATSAPP-BAILEYS"
BUSINESS = "WHATSAPP-BUSINESS"
EVOLUTION = "EVOLUTION"
INTEGRATIONS = (BAILEYS, BUSINESS, EVOLUTION)


@dataclass
class QrState:
    """``instance.qrCode``: ``{"count":0}`` until the first QR, then the current one."""

    count: int = 0
    code: str | None = None
    base64: str | None = None
    pairing_code: str | None = None
    stale: bool = False  # the QR of a pairing that ended: Evolution keeps answering it until a new one

    def as_json(self) -> dict[str, Any]:
        if self.code is None:
            return {"count": self.count}
        return {
            "pairingCode": self.pairing_code,
            "code": self.code,
            "base64": self.base64,
            "count": self.count,
        }


@dataclass
class Instance:
    """One instance and its WhatsApp session."""

    name: str
    integration: str
    token: str
    instance_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    number: str | None = None
    business_id: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    settings_updated_at: str | None = None
    created_at: str = field(default_factory=iso_now_utc)
    updated_at: str = field(default_factory=iso_now_utc)
    webhook: WebhookRow | None = None
    state: str = "close"
    status_reason: int = 200
    qr: QrState = field(default_factory=QrState)
    pairing_number: str | None = None
    owner_jid: str | None = None
    profile_name: str | None = None
    client_created: bool = False
    deleting: bool = False
    generation: int = 0
    disconnection_code: int | None = None
    disconnection_at: str | None = None

    @property
    def is_baileys(self) -> bool:
        return self.integration == BAILEYS

    def fetch_row(self) -> dict[str, Any]:
        """One item of ``fetchInstances`` (Prisma Instance with its relations)."""
        return {
            "id": self.instance_id,
            "name": self.name,
            "connectionStatus": self.state,
            "ownerJid": self.owner_jid,
            "profileName": self.profile_name,
            "profilePicUrl": None,
            "integration": self.integration,
            "number": self.number or (jid_user(self.owner_jid) if self.owner_jid else None),
            "businessId": self.business_id,
            "token": self.token,
            "clientName": "evolution_exchange",
            "disconnectionReasonCode": self.disconnection_code,
            "disconnectionObject": None,
            "disconnectionAt": self.disconnection_at,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "Chatwoot": None,
            "Proxy": None,
            "Rabbitmq": None,
            "Nats": None,
            "Sqs": None,
            "Websocket": None,
            "Setting": {
                "id": "c" + self.instance_id.replace("-", "")[:24],
                **self.settings,
                "createdAt": self.created_at,
                "updatedAt": self.settings_updated_at or self.created_at,
                "instanceId": self.instance_id,
            },
            "_count": {"Message": 0, "Contact": 0, "Chat": 0},
        }


@dataclass
class SentRecord:
    """One ``message/send*`` request as received, for ``GET /_sim/sent``."""

    seq: int
    route: str
    instance: str
    body: Any
    at: str
    status: int | None = None
    message_id: str | None = None
    fault: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "route": self.route,
            "instance": self.instance,
            "body": self.body,
            "at": self.at,
            "status": self.status,
            "message_id": self.message_id,
            "fault": self.fault,
        }


def cache_variants(jid: str) -> set[str]:
    """The ``jidOptions`` Evolution's getAvailableNumbers gives a user JID (with and without the
    Brazilian 9th digit, the MX 1 / AR 9); empty for other countries, as its lookup never matches."""
    user, _, domain = jid.partition("@")
    if domain != "s.whatsapp.net":
        return {jid}
    prefix = {"55": (4, "9"), "52": (2, "1"), "54": (2, "9")}.get(user[:2])
    if prefix is None:
        return set()
    at, digit = prefix
    with_digit = user if user[at : at + 1] == digit and len(user) == 13 else user[:at] + digit + user[at:]
    without_digit = user if len(user) == 12 else user[:at] + user[at + 1 :]
    return {f"{with_digit}@{domain}", f"{without_digit}@{domain}"}


class Registry:
    """All mutable state behind one re-entrant lock (``registry.lock``)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.instances: dict[str, Instance] = {}
        self.not_on_whatsapp: set[str] = set()
        self.default_not_on_whatsapp_rule = True
        self.sent: list[SentRecord] = []
        self.on_whatsapp_cache: set[str] = set()  # IsOnWhatsapp rows (global, as in Evolution)

    def is_cached(self, jid: str) -> bool:
        """getOnWhatsappCache: only BR/MX/AR numbers are ever found (for the others Evolution 2.3.7
        looks up ``<jid>@s.whatsapp.net``, its domain doubled, which matches no row)."""
        with self.lock:
            return bool(cache_variants(jid) & self.on_whatsapp_cache)

    def cache_on_whatsapp(self, jid: str) -> None:
        with self.lock:
            self.on_whatsapp_cache.add(jid)
            self.on_whatsapp_cache |= cache_variants(jid)

    def reset(self) -> None:
        with self.lock:
            self.instances.clear()
            self.not_on_whatsapp.clear()
            self.default_not_on_whatsapp_rule = True
            self.sent.clear()
            self.on_whatsapp_cache.clear()

    def get(self, name: str) -> Instance | None:
        with self.lock:
            return self.instances.get(name)

    def by_token(self, token: str) -> list[Instance]:
        with self.lock:
            return [i for i in self.instances.values() if i.token == token]

    def on_whatsapp(self, jid: str, number: str | None = None) -> bool:
        """Groups, LIDs and broadcasts exist; a user JID exists unless configured otherwise
        (matched on the JID's user part and on the digits as the caller sent them)."""
        if not jid.endswith("@s.whatsapp.net"):
            return True
        candidates = {jid_user(jid)}
        if number:
            candidates.add("".join(ch for ch in number if ch.isdigit()))
        with self.lock:
            if candidates & self.not_on_whatsapp:
                return False
            rule = self.default_not_on_whatsapp_rule
            return not (rule and any(c.endswith("0000") for c in candidates))

    def record_send(self, route: str, instance: str, body: Any) -> SentRecord:
        with self.lock:
            record = SentRecord(len(self.sent) + 1, route, instance, body, iso_now_utc())
            self.sent.append(record)
            return record
