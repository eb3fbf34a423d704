"""Broadcasts, their recipients and suppressions on SQLite (tables ``broadcasts``,
``broadcast_recipients``, ``suppressions``); counts move with each recipient in one transaction."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from chalicelib.events.types import Event
from chalicelib.models.broadcasts import Broadcast, BroadcastRecipient, Suppression, counted
from chalicelib.store.rules import broadcast_fields, decode_cursor, encode_cursor, recipient_cursor
from chalicelib.store.sqlite.events import SQLiteOutbox

_CHUNK = 1000


class SQLiteBroadcasts(SQLiteOutbox):
    """:class:`chalicelib.store.base.BroadcastStore` and ``ConsentStore`` on SQLite."""

    DDL = """
    CREATE TABLE IF NOT EXISTS broadcasts (
        id TEXT PRIMARY KEY, instance TEXT NOT NULL, status TEXT NOT NULL, data TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS broadcasts_by_instance ON broadcasts (instance, id);
    CREATE TABLE IF NOT EXISTS broadcast_recipients (
        broadcast_id TEXT NOT NULL, idx INTEGER NOT NULL, status TEXT NOT NULL, data TEXT NOT NULL,
        PRIMARY KEY (broadcast_id, idx));
    CREATE TABLE IF NOT EXISTS suppressions (
        instance TEXT NOT NULL, number TEXT NOT NULL, created_at TEXT NOT NULL, data TEXT NOT NULL,
        PRIMARY KEY (instance, number));
    CREATE INDEX IF NOT EXISTS suppressions_by_time ON suppressions (instance, created_at, number);
    """

    # -- broadcasts ------------------------------------------------------------------------------

    def create_broadcast(self, broadcast: Broadcast, recipients: list[BroadcastRecipient]) -> None:
        rows = [
            (
                r.broadcast_id,
                r.index,
                r.status,
                r.model_dump_json(exclude={"broadcast_id", "index", "status"}),
            )
            for r in recipients
        ]
        with self._tx() as db:  # one transaction: all or nothing
            db.execute(
                "INSERT INTO broadcasts (id, instance, status, data) VALUES (?, ?, ?, ?)",
                (broadcast.id, broadcast.instance, broadcast.status, _dump(broadcast)),
            )
            for start in range(0, len(rows), _CHUNK):
                db.executemany(
                    "INSERT INTO broadcast_recipients (broadcast_id, idx, status, data) VALUES (?, ?, ?, ?)",
                    rows[start : start + _CHUNK],
                )

    def get_broadcast(self, instance: str, broadcast_id: str) -> Broadcast | None:
        rows = self._read(
            "SELECT status, data FROM broadcasts WHERE instance = ? AND id = ?", (instance, broadcast_id)
        )
        return _broadcast(rows[0]) if rows else None

    def list_broadcasts(
        self, instance: str, *, after: str | None = None, limit: int = 50
    ) -> tuple[list[Broadcast], str | None]:
        before = decode_cursor(after, prefix="bc_") if after else "\uffff"
        rows = self._read(
            "SELECT status, data FROM broadcasts WHERE instance = ? AND id < ? AND status != 'creating'"
            " ORDER BY id DESC LIMIT ?",
            (instance, before, limit + 1),
        )
        items = [_broadcast(r) for r in rows[:limit]]
        return items, encode_cursor(items[-1].id) if len(rows) > limit else None

    def update_broadcast(
        self,
        instance: str,
        broadcast_id: str,
        *,
        expect: tuple[str, ...],
        event: Event | None = None,
        **fields: Any,
    ) -> Broadcast | None:
        with self._tx() as db:
            current = self._broadcast_in(db, instance, broadcast_id)
            if current is None or current.status not in expect:
                return None
            updated = current.model_copy(update=broadcast_fields(fields))
            self._write_broadcast(db, updated)
            if event is not None:
                self._put_event(db, event)
            return updated

    def claim_slot(
        self,
        instance: str,
        broadcast_id: str,
        *,
        now: float,
        lease_until: float,
        token: str,
        next_send_at: float,
    ) -> Broadcast | None:
        with self._tx() as db:
            current = self._broadcast_in(db, instance, broadcast_id)
            if current is None or current.status != "running" or current.next_send_at > now:
                return None
            if current.lease_until is not None and current.lease_until > now:
                return None
            updated = current.model_copy(
                update={"lease_until": lease_until, "lease_token": token, "next_send_at": next_send_at}
            )
            self._write_broadcast(db, updated)
            return updated

    def release_slot(self, instance: str, broadcast_id: str, *, token: str, **fields: Any) -> bool:
        with self._tx() as db:
            current = self._broadcast_in(db, instance, broadcast_id)
            if current is None or current.lease_token != token:
                return False
            update = {**broadcast_fields(fields), "lease_until": None, "lease_token": None}
            self._write_broadcast(db, current.model_copy(update=update))
            return True

    def _broadcast_in(self, db: sqlite3.Connection, instance: str, broadcast_id: str) -> Broadcast | None:
        row = db.execute(
            "SELECT status, data FROM broadcasts WHERE instance = ? AND id = ?", (instance, broadcast_id)
        ).fetchone()
        return _broadcast(row) if row is not None else None

    def _write_broadcast(self, db: sqlite3.Connection, broadcast: Broadcast) -> None:
        db.execute(
            "UPDATE broadcasts SET status = ?, data = ? WHERE id = ?",
            (broadcast.status, _dump(broadcast), broadcast.id),
        )

    # -- recipients ------------------------------------------------------------------------------

    def get_recipient(self, broadcast_id: str, index: int) -> BroadcastRecipient | None:
        rows = self._read(
            "SELECT broadcast_id, idx, status, data FROM broadcast_recipients"
            " WHERE broadcast_id = ? AND idx = ?",
            (broadcast_id, index),
        )
        return _recipient(rows[0]) if rows else None

    def recipients_from(self, broadcast_id: str, index: int, *, limit: int) -> list[BroadcastRecipient]:
        rows = self._read(
            "SELECT broadcast_id, idx, status, data FROM broadcast_recipients"
            " WHERE broadcast_id = ? AND idx >= ? ORDER BY idx LIMIT ?",
            (broadcast_id, index, limit),
        )
        return [_recipient(r) for r in rows]

    def list_recipients(
        self, broadcast_id: str, *, status: str | None = None, after: str | None = None, limit: int = 50
    ) -> tuple[list[BroadcastRecipient], str | None]:
        start = recipient_cursor(after) if after else 0
        statuses = ("queued", "sending") if status == "queued" else (status,)
        where = "" if status is None else f" AND status IN ({','.join('?' * len(statuses))})"
        params: tuple[Any, ...] = (broadcast_id, start, *(statuses if status else ()), limit + 1)
        rows = self._read(
            "SELECT broadcast_id, idx, status, data FROM broadcast_recipients"  # noqa: S608 - placeholders only
            f" WHERE broadcast_id = ? AND idx >= ?{where} ORDER BY idx LIMIT ?",
            params,
        )
        items = [_recipient(r) for r in rows[:limit]]
        return items, encode_cursor(f"r_{items[-1].index + 1}") if len(rows) > limit else None

    def transition_recipient(
        self, instance: str, broadcast_id: str, index: int, *, old: str, new: str, **fields: Any
    ) -> bool:
        with self._tx() as db:
            row = db.execute(
                "SELECT broadcast_id, idx, status, data FROM broadcast_recipients"
                " WHERE broadcast_id = ? AND idx = ?",
                (broadcast_id, index),
            ).fetchone()
            if row is None or row["status"] != old:
                return False
            recipient = _recipient(row).model_copy(update={**fields, "status": new})
            db.execute(
                "UPDATE broadcast_recipients SET status = ?, data = ? WHERE broadcast_id = ? AND idx = ?",
                (
                    new,
                    recipient.model_dump_json(exclude={"broadcast_id", "index", "status"}),
                    broadcast_id,
                    index,
                ),
            )
            if counted(old) != counted(new):
                current = self._broadcast_in(db, instance, broadcast_id)
                if current is not None:
                    counts = dict(current.counts)
                    counts[counted(old)] = counts.get(counted(old), 0) - 1
                    counts[counted(new)] = counts.get(counted(new), 0) + 1
                    self._write_broadcast(db, current.model_copy(update={"counts": counts}))
            return True

    # -- suppressions ----------------------------------------------------------------------------

    def suppress(self, suppression: Suppression, *, event: Event | None) -> bool:
        with self._tx() as db:
            inserted = db.execute(
                "INSERT OR IGNORE INTO suppressions (instance, number, created_at, data) VALUES (?, ?, ?, ?)",
                (suppression.instance, suppression.to, suppression.created_at, suppression.model_dump_json()),
            )
            if inserted.rowcount != 1:
                return False
            if event is not None:
                self._put_event(db, event)
            return True

    def unsuppress(self, instance: str, to: str, *, event: Event | None) -> bool:
        with self._tx() as db:
            deleted = db.execute("DELETE FROM suppressions WHERE instance = ? AND number = ?", (instance, to))
            if deleted.rowcount != 1:
                return False
            if event is not None:
                self._put_event(db, event)
            return True

    def get_suppression(self, instance: str, to: str) -> Suppression | None:
        rows = self._read("SELECT data FROM suppressions WHERE instance = ? AND number = ?", (instance, to))
        return Suppression.model_validate_json(rows[0]["data"]) if rows else None

    def list_suppressions(
        self, instance: str, *, after: str | None = None, limit: int = 50
    ) -> tuple[list[Suppression], str | None]:
        before = decode_cursor(after, prefix="sup_").removeprefix("sup_") if after else "\uffff"
        rows = self._read(
            "SELECT data FROM suppressions WHERE instance = ? AND created_at || '|' || number < ?"
            " ORDER BY created_at DESC, number DESC LIMIT ?",
            (instance, before, limit + 1),
        )
        items = [Suppression.model_validate_json(r["data"]) for r in rows[:limit]]
        cursor = encode_cursor(f"sup_{items[-1].created_at}|{items[-1].to}") if len(rows) > limit else None
        return items, cursor

    def note_inbound(self, instance: str, to: str, *, at: str) -> None:
        if not self._read("SELECT 1 FROM suppressions WHERE instance = ? AND number = ?", (instance, to)):
            return  # the usual case, without taking the write lock
        with self._tx() as db:
            row = db.execute(
                "SELECT data FROM suppressions WHERE instance = ? AND number = ?", (instance, to)
            ).fetchone()
            if row is None:
                return
            suppression = Suppression.model_validate_json(row["data"])
            if suppression.last_inbound_at is not None and suppression.last_inbound_at >= at:
                return
            db.execute(
                "UPDATE suppressions SET data = ? WHERE instance = ? AND number = ?",
                (suppression.model_copy(update={"last_inbound_at": at}).model_dump_json(), instance, to),
            )


def _dump(broadcast: Broadcast) -> str:
    return broadcast.model_dump_json(exclude={"status"})


def _broadcast(row: sqlite3.Row) -> Broadcast:
    return Broadcast.model_validate({**json.loads(row["data"]), "status": row["status"]})


def _recipient(row: sqlite3.Row) -> BroadcastRecipient:
    return BroadcastRecipient.model_validate(
        {
            **json.loads(row["data"]),
            "broadcast_id": row["broadcast_id"],
            "index": row["idx"],
            "status": row["status"],
        }
    )
