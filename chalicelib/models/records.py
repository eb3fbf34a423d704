"""What the store keeps: message records (both directions), status history, instance state."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Direction = Literal["inbound", "outbound"]

# Message statuses and their rank. A status may only replace one of lower rank, so a late
# "delivered" never overwrites "read". ``unknown`` (a send timed out) is settled by anything;
# ``failed`` outranks pending/sent, but a later delivered/read proves the message went out.
STATUS_RANK: dict[str, int] = {
    "unknown": 0,
    "pending": 10,
    "sent": 20,
    "failed": 25,
    "delivered": 30,
    "read": 40,
    "played": 50,
}
Status = Literal["unknown", "pending", "sent", "failed", "delivered", "read", "played"]


class StatusEntry(BaseModel):
    """One step of a message's status history."""

    status: Status
    at: str


class MessageRecord(BaseModel):
    """A message the service sent or received; ``id`` is ``msg_<ULID>`` (time-ordered)."""

    model_config = ConfigDict(populate_by_name=True)

    id: str
    instance: str
    direction: Direction
    message_id: str | None = None  # WhatsApp's key.id
    type: str
    status: Status
    status_history: list[StatusEntry] = Field(default_factory=list)
    to: str | None = None  # outbound: E.164 or JID as the client gave it, normalised
    jid: str | None = None  # the chat JID (remoteJid)
    from_: str | None = Field(default=None, alias="from")  # inbound: sender in E.164 when known
    from_lid: str | None = None
    push_name: str | None = None
    origin: Literal["api", "phone", "contact"] = "api"  # who wrote it: this API, the linked phone, a contact
    text: str | None = None
    caption: str | None = None
    media: dict[str, Any] | None = None  # metadata only, never content
    location: dict[str, Any] | None = None
    reaction: dict[str, Any] | None = None  # {"message_id", "emoji"}
    template: dict[str, Any] | None = None  # {"name", "language"}
    reference: str | None = None
    fingerprint: str | None = None  # content fingerprint used to reconcile timed-out sends
    timestamp: str | None = None  # when WhatsApp says it was sent (inbound)
    created_at: str
    updated_at: str
    error: dict[str, Any] | None = None  # {"code", "message"} when failed
    broadcast_id: str | None = None  # outbound: the broadcast this send belongs to
    broadcast_index: int | None = None  # and the recipient's index in it (internal)

    def public(self) -> dict[str, Any]:
        """The API's view: no internal fields, ``from`` as the API spells it, no empty extras."""
        body = self.model_dump(by_alias=True, exclude={"fingerprint", "instance", "broadcast_index"})
        if self.broadcast_id is None:
            body.pop("broadcast_id")
        if self.direction == "outbound":
            for name in ("from", "from_lid", "push_name"):
                body.pop(name, None)
        else:
            body.pop("to", None)
        for name in ("media", "location", "reaction", "template", "caption", "text"):
            if body.get(name) is None:
                body.pop(name, None)
        return body


class InstanceState(BaseModel):
    """The last known state of the WhatsApp session, with the latest QR while pairing."""

    instance: str
    state: str = "unknown"  # open | connecting | close | refused | unknown
    qr_code: str | None = None  # data:image/png;base64,...
    pairing_code: str | None = None
    code: str | None = None
    integration: str | None = None  # WHATSAPP-BAILEYS | WHATSAPP-BUSINESS, learned from fetchInstances
    checked_state: str | None = None  # the state the scheduled health job saw last time
    restart_attempts: int = 0  # auto-restarts tried since the session was last open
    next_restart_at: float | None = None  # epoch seconds before which no auto-restart is tried
    updated_at: str | None = None
