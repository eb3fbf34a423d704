"""Event destinations for the API: create (the secret shown once), list, get, delete, test ping,
the deliveries log and replay."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chalicelib import errors
from chalicelib.clock import now_iso
from chalicelib.events.signing import destination_secret, new_salt
from chalicelib.events.types import Event, id_floor, new_event_id
from chalicelib.models.events import (
    MAX_DESTINATIONS,
    MAX_REPLAY_EVENTS,
    CreateDestination,
    Destination,
    ReplayRequest,
)
from chalicelib.store.rules import epoch
from chalicelib.urlguard import UnsafeURLError, URLPolicy, check_url

if TYPE_CHECKING:
    from chalicelib.events.dispatch import Dispatcher
    from chalicelib.settings import Settings
    from chalicelib.store.base import EventStore
    from chalicelib.urlguard import Resolver

DELIVERY_STATUSES = ("pending", "delivered", "failed")


def destination_policy(settings: Settings) -> URLPolicy:
    """https; http to loopback in dev only; private and link-local targets only in dev or when
    allowlisted (``URL_ALLOWLIST``)."""
    dev = settings.STAGE == "dev"
    return URLPolicy(
        allow_http=False,
        allow_loopback=dev,
        allow_private=dev,
        loopback_http_only=dev,
        allowlist=settings.url_allowlist,
    )


def _instant(text: str) -> float:
    """Epoch seconds of an ISO 8601 time; one without an offset is taken as UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).timestamp()


def new_destination_id() -> str:
    from ulid import ULID  # noqa: PLC0415

    return f"dst_{ULID()}"


class EventService:
    """What the ``/event-destinations`` routes do."""

    def __init__(
        self,
        *,
        store: EventStore,
        dispatcher: Dispatcher,
        settings: Settings,
        resolve: Resolver | None = None,
    ) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.settings = settings
        self.instance = settings.INSTANCE_NAME
        self._resolve = resolve

    def create(self, request: CreateDestination) -> dict[str, Any]:
        if request.url is not None:
            try:
                check_url(request.url, destination_policy(self.settings), resolve=self._resolve)
            except UnsafeURLError as e:
                raise errors.ValidationError(
                    f"url: {e.reason}.", details=[{"loc": ["url"], "msg": e.reason}]
                ) from None
        signing_key = self.settings.events_signing_key()
        now = now_iso()
        destination = Destination(
            id=new_destination_id(),
            instance=self.instance,
            url=request.url,
            eventbridge_bus=request.eventbridge_bus,
            events=request.events,
            description=request.description,
            salt=new_salt(),
            created_at=now,
            updated_at=now,
        )
        if not self.store.put_destination(destination, limit=MAX_DESTINATIONS):
            raise errors.ValidationError(
                f"An instance may have at most {MAX_DESTINATIONS} event destinations; delete one first.",
                details=[{"loc": [], "msg": f"at most {MAX_DESTINATIONS} destinations"}],
            )
        body = destination.public()
        if destination.url is not None:
            body["secret"] = destination_secret(signing_key, destination.id, destination.salt)
        return body

    def list(self) -> dict[str, Any]:
        return {"items": [d.public() for d in self.store.list_destinations(self.instance)]}

    def get(self, destination_id: str) -> dict[str, Any]:
        return self._destination(destination_id).public()

    def delete(self, destination_id: str) -> None:
        if not self.store.delete_destination(self.instance, destination_id):
            raise errors.NotFoundError("No event destination with this id.")

    def test(self, destination_id: str) -> dict[str, Any]:
        """Deliver a ``ping`` to this destination only (whatever its filter)."""
        destination = self._destination(destination_id)
        event = Event(
            id=new_event_id(),
            type="ping",
            created_at=now_iso(),
            instance=self.instance,
            data={"destination_id": destination.id},
        )
        self.store.add_event(event, dispatched=True)
        self.dispatcher.open(destination, event)
        return {"queued": 1, "event_id": event.id}

    def deliveries(
        self, destination_id: str, *, status: str | None, after: str | None, limit: int
    ) -> dict[str, Any]:
        self._destination(destination_id)
        try:
            items, next_ = self.store.list_deliveries(destination_id, status=status, after=after, limit=limit)
        except ValueError:
            raise errors.ValidationError(
                "The query parameters are not valid.",
                details=[{"loc": ["query", "after"], "msg": "invalid cursor"}],
            ) from None
        return {"items": [d.public() for d in items], "next": next_}

    def replay(self, destination_id: str, request: ReplayRequest) -> dict[str, Any]:
        destination = self._destination(destination_id)
        if request.event_ids is not None:
            events = [self.store.get_event(self.instance, i) for i in dict.fromkeys(request.event_ids)]
            missing = [i for i, e in zip(dict.fromkeys(request.event_ids), events, strict=True) if e is None]
            if missing:
                raise errors.NotFoundError(
                    "No event with some of these ids.", details=[{"event_ids": missing}]
                )
            chosen = [e for e in events if e is not None]
        else:
            assert request.since is not None  # noqa: S101 - the model requires one of the two
            try:
                since = _instant(request.since)
            except ValueError:
                raise errors.ValidationError(
                    "since must be an ISO 8601 time, e.g. 2026-12-01T10:00:00Z.",
                    details=[{"loc": ["since"], "msg": "not an ISO 8601 time"}],
                ) from None
            chosen = self.store.events_since(self.instance, id_floor("evt_", since), limit=MAX_REPLAY_EVENTS)
            chosen = [e for e in chosen if epoch(e.created_at) >= since]
        # a ping belongs to the destination it tested; a filtered-out type is not replayed to it
        from chalicelib.events.types import wants  # noqa: PLC0415

        chosen = [
            e
            for e in chosen
            if (e.type != "ping" or e.data.get("destination_id") == destination.id)
            and wants(destination.events, e.type)
        ]
        return {"queued": self.dispatcher.replay(destination, chosen)}

    def _destination(self, destination_id: str) -> Destination:
        destination = None
        if destination_id.startswith("dst_") and len(destination_id) <= 64:
            destination = self.store.get_destination(self.instance, destination_id)
        if destination is None:
            raise errors.NotFoundError("No event destination with this id.")
        return destination
