"""Pushed events on SQLite: the outbox (``events``), destinations and per-destination deliveries.

:class:`SQLiteOutbox` is the part other concerns' writes use: ``_put_event`` inside their own
transaction, so a change and the event reporting it are committed together or not at all.
"""

from __future__ import annotations

import json
import sqlite3
from typing import ClassVar

from chalicelib.clock import now_iso
from chalicelib.events.types import Event, EventType, message_event
from chalicelib.models.events import Delivery, Destination
from chalicelib.models.records import MessageRecord
from chalicelib.store.rules import decode_cursor, encode_cursor, expires_at
from chalicelib.store.sqlite.core import SQLiteCore


class SQLiteOutbox(SQLiteCore):
    """The ``events`` table, written inside other concerns' transactions."""

    DDL = """
    CREATE TABLE IF NOT EXISTS events (
        id TEXT PRIMARY KEY, instance TEXT NOT NULL, type TEXT NOT NULL, created_at TEXT NOT NULL,
        dispatched INTEGER NOT NULL DEFAULT 0, expires_at REAL NOT NULL, data TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS events_outbox ON events (instance, id) WHERE dispatched = 0;
    CREATE INDEX IF NOT EXISTS events_by_instance ON events (instance, id);
    """
    EXPIRING: ClassVar[tuple[str, ...]] = ("events",)

    def _put_event(self, db: sqlite3.Connection, event: Event, *, dispatched: bool = False) -> None:
        db.execute(
            "INSERT INTO events (id, instance, type, created_at, dispatched, expires_at, data)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                event.id,
                event.instance,
                event.type,
                event.created_at,
                int(dispatched),
                expires_at(event.created_at, self._retention_days),
                json.dumps(event.data),
            ),
        )

    def _message_event(self, db: sqlite3.Connection, type_: EventType, record: MessageRecord) -> None:
        self._put_event(db, message_event(type_, record, at=now_iso()))


class SQLiteEvents(SQLiteOutbox):
    """:class:`chalicelib.store.base.EventStore` on SQLite."""

    DDL = """
    CREATE TABLE IF NOT EXISTS destinations (
        id TEXT PRIMARY KEY, instance TEXT NOT NULL, data TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS destinations_by_instance ON destinations (instance, id);
    CREATE TABLE IF NOT EXISTS deliveries (
        destination_id TEXT NOT NULL, event_id TEXT NOT NULL, instance TEXT NOT NULL,
        status TEXT NOT NULL, token INTEGER NOT NULL, next_attempt_at TEXT, expires_at REAL NOT NULL,
        data TEXT NOT NULL, PRIMARY KEY (destination_id, event_id));
    CREATE INDEX IF NOT EXISTS deliveries_overdue
        ON deliveries (instance, next_attempt_at) WHERE status = 'pending';
    """
    EXPIRING: ClassVar[tuple[str, ...]] = ("deliveries",)

    # -- events --------------------------------------------------------------------------------

    def add_event(self, event: Event, *, dispatched: bool = False) -> None:
        with self._tx() as db:
            self._put_event(db, event, dispatched=dispatched)

    def get_event(self, instance: str, event_id: str) -> Event | None:
        rows = self._read("SELECT * FROM events WHERE instance = ? AND id = ?", (instance, event_id))
        return _event(rows[0]) if rows else None

    def events_since(self, instance: str, since_id: str, *, limit: int) -> list[Event]:
        rows = self._read(
            "SELECT * FROM events WHERE instance = ? AND id >= ? ORDER BY id LIMIT ?",
            (instance, since_id, limit),
        )
        return [_event(r) for r in rows]

    def undispatched_events(self, instance: str, *, limit: int) -> list[Event]:
        rows = self._read(
            "SELECT * FROM events WHERE instance = ? AND dispatched = 0 ORDER BY id LIMIT ?",
            (instance, limit),
        )
        return [_event(r) for r in rows]

    def mark_dispatched(self, instance: str, *event_ids: str) -> None:
        if not event_ids:
            return
        with self._tx() as db:
            db.executemany(
                "UPDATE events SET dispatched = 1 WHERE instance = ? AND id = ?",
                [(instance, event_id) for event_id in event_ids],
            )

    # -- destinations --------------------------------------------------------------------------

    def put_destination(self, destination: Destination, *, limit: int) -> bool:
        with self._tx() as db:
            (count,) = db.execute(
                "SELECT count(*) FROM destinations WHERE instance = ?", (destination.instance,)
            ).fetchone()
            if count >= limit:
                return False
            db.execute(
                "INSERT INTO destinations (id, instance, data) VALUES (?, ?, ?)",
                (destination.id, destination.instance, destination.model_dump_json()),
            )
            return True

    def get_destination(self, instance: str, destination_id: str) -> Destination | None:
        rows = self._read(
            "SELECT data FROM destinations WHERE instance = ? AND id = ?", (instance, destination_id)
        )
        return Destination.model_validate_json(rows[0]["data"]) if rows else None

    def list_destinations(self, instance: str) -> list[Destination]:
        rows = self._read("SELECT data FROM destinations WHERE instance = ? ORDER BY id", (instance,))
        return [Destination.model_validate_json(r["data"]) for r in rows]

    def delete_destination(self, instance: str, destination_id: str) -> bool:
        with self._tx() as db:
            gone = db.execute(
                "DELETE FROM destinations WHERE instance = ? AND id = ?", (instance, destination_id)
            ).rowcount
            db.execute("DELETE FROM deliveries WHERE destination_id = ?", (destination_id,))
            return gone == 1

    def disable_destination(self, instance: str, destination_id: str, *, reason: str) -> None:
        with self._tx() as db:
            row = db.execute(
                "SELECT data FROM destinations WHERE instance = ? AND id = ?", (instance, destination_id)
            ).fetchone()
            if row is None:
                return
            current = Destination.model_validate_json(row["data"])
            disabled = current.model_copy(
                update={"enabled": False, "disabled_reason": reason, "updated_at": now_iso()}
            )
            db.execute(
                "UPDATE destinations SET data = ? WHERE id = ?", (disabled.model_dump_json(), destination_id)
            )

    # -- deliveries ----------------------------------------------------------------------------

    def open_delivery(self, delivery: Delivery) -> bool:
        with self._tx() as db:
            inserted = db.execute(
                "INSERT OR IGNORE INTO deliveries (destination_id, event_id, instance, status, token,"
                " next_attempt_at, expires_at, data)"
                " SELECT ?, ?, instance, ?, ?, ?, ?, ? FROM destinations WHERE id = ?",
                (
                    delivery.destination_id,
                    delivery.event_id,
                    delivery.status,
                    delivery.token,
                    delivery.next_attempt_at,
                    expires_at(delivery.created_at, self._retention_days),
                    delivery.model_dump_json(),
                    delivery.destination_id,
                ),
            )
            return inserted.rowcount == 1

    def get_delivery(self, destination_id: str, event_id: str) -> Delivery | None:
        rows = self._read(
            "SELECT data FROM deliveries WHERE destination_id = ? AND event_id = ?",
            (destination_id, event_id),
        )
        return Delivery.model_validate_json(rows[0]["data"]) if rows else None

    def record_attempt(self, delivery: Delivery, *, token: int, any_status: bool = False) -> bool:
        sql = _RECORD_ANY if any_status else _RECORD_PENDING
        with self._tx() as db:
            updated = db.execute(
                sql,
                (
                    delivery.status,
                    delivery.token,
                    delivery.next_attempt_at,
                    delivery.model_dump_json(),
                    delivery.destination_id,
                    delivery.event_id,
                    token,
                ),
            )
            return updated.rowcount == 1

    def list_deliveries(
        self, destination_id: str, *, status: str | None = None, after: str | None = None, limit: int = 50
    ) -> tuple[list[Delivery], str | None]:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        where, params = ["destination_id = ?"], [destination_id]
        if status is not None:
            where.append("status = ?")
            params.append(status)
        if after is not None:
            where.append("event_id < ?")
            params.append(decode_cursor(after, prefix="evt_"))
        rows = self._read(
            f"SELECT data FROM deliveries WHERE {' AND '.join(where)}"  # noqa: S608
            " ORDER BY event_id DESC LIMIT ?",
            (*params, limit + 1),
        )
        items = [Delivery.model_validate_json(r["data"]) for r in rows[:limit]]
        more = len(rows) > limit
        return items, encode_cursor(items[-1].event_id) if more else None

    def overdue_deliveries(self, instance: str, *, before: str, limit: int) -> list[Delivery]:
        rows = self._read(
            "SELECT data FROM deliveries WHERE instance = ? AND status = 'pending'"
            " AND next_attempt_at < ? ORDER BY next_attempt_at LIMIT ?",
            (instance, before, limit),
        )
        return [Delivery.model_validate_json(r["data"]) for r in rows]


_RECORD_ANY = (
    "UPDATE deliveries SET status = ?, token = ?, next_attempt_at = ?, data = ?"
    " WHERE destination_id = ? AND event_id = ? AND token = ?"
)
_RECORD_PENDING = _RECORD_ANY + " AND status = 'pending'"


def _event(row: sqlite3.Row) -> Event:
    return Event(
        id=row["id"],
        type=row["type"],
        created_at=row["created_at"],
        instance=row["instance"],
        data=json.loads(row["data"]),
    )
