"""Event types, the event record the outbox keeps, and the JSON body every destination receives."""

from __future__ import annotations

import json
import re
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict

EventType = Literal[
    "message.received",
    "message.status",
    "session.state",
    "broadcast.completed",
    "recipient.opted_out",
    "recipient.opted_in",
    "ping",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
BUS_ARN = re.compile(r"^arn:aws[\w-]*:events:[a-z0-9-]+:\d{12}:event-bus/[A-Za-z0-9._/-]{1,256}$")
UNFILTERED: frozenset[str] = frozenset({"ping"})  # delivered whatever a destination's filter says


def new_event_id() -> str:
    """``evt_<ULID>``: unique, and sortable by creation time."""
    from ulid import ULID  # noqa: PLC0415

    return f"evt_{ULID()}"


def id_floor(prefix: str, at_epoch: float) -> str:
    """The smallest ``<prefix><ULID>`` created at or after ``at_epoch`` (for time-range queries)."""
    from ulid import ULID  # noqa: PLC0415

    ms = max(0, int(at_epoch * 1000))
    return prefix + str(ULID.from_timestamp(ms / 1000))[:10] + "0" * 16


class Event(BaseModel):
    """One thing that happened, as kept in the outbox; ``id`` doubles as the ``webhook-id``."""

    model_config = ConfigDict(frozen=True)

    id: str
    type: EventType
    created_at: str
    instance: str
    data: dict[str, Any]

    def body(self) -> str:
        """The exact bytes delivered (and signed): compact JSON, keys in a stable order."""
        return json.dumps(
            {
                "id": self.id,
                "type": self.type,
                "created_at": self.created_at,
                "instance": self.instance,
                "data": self.data,
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )


def wants(filter_: list[str] | None, event_type: str) -> bool:
    """Whether a destination with this filter (None: every type) receives ``event_type``."""
    return filter_ is None or event_type in UNFILTERED or event_type in filter_


def message_event(type_: EventType, record: Any, *, at: str) -> Event:
    """A ``message.*`` event: ``data`` is the record as ``GET /messages/{id}`` returns it."""
    return Event(id=new_event_id(), type=type_, created_at=at, instance=record.instance, data=record.public())


def session_event(instance: str, state: str, previous: str | None, *, at: str) -> Event:
    """A ``session.state`` event: the session's new state and the one before."""
    return Event(
        id=new_event_id(),
        type="session.state",
        created_at=at,
        instance=instance,
        data={"instance": instance, "state": state, "previous": previous, "at": at},
    )
