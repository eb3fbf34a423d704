"""Message records on SQLite: records, orphan statuses and parked ``send.message`` events."""

from __future__ import annotations

import json
import sqlite3
from typing import Any, ClassVar

from chalicelib.models.records import MessageRecord
from chalicelib.store.base import MessagePage, StatusResult
from chalicelib.store.rules import (
    OrphanStatus,
    advance,
    attached_status,
    check_query,
    check_status,
    decode_cursor,
    duplicate,
    encode_cursor,
    expires_at,
    fold,
    inbound_message_id,
    is_live,
    is_unresolved_send,
    ttl_expiry,
    waits_for_media,
)
from chalicelib.store.sqlite.media import SQLiteMediaWaits


class SQLiteMessages(SQLiteMediaWaits):
    """:class:`chalicelib.store.base.MessageStore` on SQLite."""

    DDL = """
    CREATE TABLE IF NOT EXISTS messages (
        id TEXT PRIMARY KEY, instance TEXT NOT NULL, direction TEXT NOT NULL, status TEXT NOT NULL,
        message_id TEXT, jid TEXT, fingerprint TEXT, expires_at REAL NOT NULL, data TEXT NOT NULL);
    CREATE UNIQUE INDEX IF NOT EXISTS messages_by_message_id
        ON messages (instance, message_id) WHERE message_id IS NOT NULL;
    CREATE INDEX IF NOT EXISTS messages_by_direction ON messages (instance, direction, id);
    CREATE INDEX IF NOT EXISTS messages_by_instance ON messages (instance, id);
    CREATE INDEX IF NOT EXISTS messages_unknown ON messages (instance, jid) WHERE status = 'unknown';
    CREATE INDEX IF NOT EXISTS messages_unresolved ON messages (instance, jid) WHERE message_id IS NULL;
    CREATE INDEX IF NOT EXISTS messages_expiry ON messages (expires_at);
    CREATE TABLE IF NOT EXISTS orphans (
        instance TEXT NOT NULL, message_id TEXT NOT NULL, status TEXT NOT NULL, at TEXT NOT NULL,
        error TEXT, expires_at REAL NOT NULL, PRIMARY KEY (instance, message_id, status));
    CREATE TABLE IF NOT EXISTS parked_sends (
        instance TEXT NOT NULL, jid TEXT NOT NULL, fingerprint TEXT NOT NULL, message_id TEXT NOT NULL,
        status TEXT NOT NULL, expires_at REAL NOT NULL, PRIMARY KEY (instance, jid, fingerprint));
    """
    EXPIRING: ClassVar[tuple[str, ...]] = ("messages", "orphans", "parked_sends")

    def create_message(self, record: MessageRecord) -> MessageRecord:
        with self._tx() as db:
            created = record
            if record.message_id is not None:
                record = self._fold_orphans(db, record, record.message_id)
            self._insert(db, record)
            if record.status != created.status:  # statuses that arrived first moved it on
                self._message_event(db, "message.status", record)
            return record

    def attach_message_id(
        self, id: str, message_id: str, *, at: str, status: str | None = None
    ) -> MessageRecord | None:
        extra = attached_status(status, at)
        with self._tx() as db:
            row = db.execute("SELECT data FROM messages WHERE id = ?", (id,)).fetchone()
            if row is None:
                return None
            record = MessageRecord.model_validate_json(row["data"])
            if record.message_id is not None or self._by_message_id(db, record.instance, message_id):
                return None
            before = record.status
            record = record.model_copy(update={"message_id": message_id, "updated_at": at})
            record = self._fold_orphans(db, record, message_id, extra)
            self._save(db, record)
            if record.status != before:  # e.g. a timed-out send settled
                self._message_event(db, "message.status", record)
            return record

    def insert_inbound(self, record: MessageRecord) -> bool:
        message_id = inbound_message_id(record)
        with self._tx() as db:
            if self._by_message_id(db, record.instance, message_id) is not None:
                return False
            stored = self._fold_orphans(db, record, message_id)
            self._insert(db, stored)
            if waits_for_media(stored):  # message.received waits until the file is fetched
                self._wait_for_media(db, stored)
            elif stored.direction == "inbound":
                self._message_event(db, "message.received", stored)
            return True

    def apply_status(
        self,
        instance: str,
        message_id: str,
        status: str,
        *,
        at: str,
        error: dict[str, Any] | None = None,
    ) -> StatusResult:
        new = check_status(status)
        with self._tx() as db:
            record = self._by_message_id(db, instance, message_id)
            if record is None:
                inserted = db.execute(
                    "INSERT OR IGNORE INTO orphans"
                    " (instance, message_id, status, at, error, expires_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        instance,
                        message_id,
                        new,
                        at,
                        json.dumps(error) if error is not None else None,
                        expires_at(at, self._retention_days),
                    ),
                )
                return StatusResult(found=False, applied=False, kept=inserted.rowcount == 1)
            moved = advance(record, new, at, error)
            if moved is None:
                return StatusResult(found=True, applied=False, record=record)
            self._save(db, moved)
            self._message_event(db, "message.status", moved)
            return StatusResult(found=True, applied=True, record=moved)

    def get_message(self, instance: str, id_or_message_id: str) -> MessageRecord | None:
        rows: list[sqlite3.Row] = []
        if id_or_message_id.startswith("msg_"):
            rows = self._read(
                "SELECT data FROM messages WHERE instance = ? AND id = ?",
                (instance, id_or_message_id),
            )
        if not rows:
            rows = self._read(
                "SELECT data FROM messages WHERE instance = ? AND message_id = ?",
                (instance, id_or_message_id),
            )
        return MessageRecord.model_validate_json(rows[0]["data"]) if rows else None

    def list_messages(
        self,
        instance: str,
        *,
        direction: str | None = None,
        status: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> MessagePage:
        check_query(direction, status, limit)
        where, params = ["instance = ?"], [instance]
        for column, value in (("direction", direction), ("status", status)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if after is not None:
            where.append("id < ?")
            params.append(decode_cursor(after))
        rows = self._read(
            f"SELECT data FROM messages WHERE {' AND '.join(where)}"  # noqa: S608
            " ORDER BY id DESC LIMIT ?",
            (*params, limit + 1),
        )
        items = [MessageRecord.model_validate_json(r["data"]) for r in rows[:limit]]
        more = len(rows) > limit
        return MessagePage(items=items, next=encode_cursor(items[-1].id) if more else None)

    def find_unknown_sends(
        self, instance: str, *, jid: str, fingerprint: str, since: str
    ) -> list[MessageRecord]:
        rows = self._read(
            "SELECT data FROM messages WHERE instance = ? AND jid = ? AND message_id IS NULL"
            " AND direction = 'outbound' AND fingerprint = ? ORDER BY id",
            (instance, jid, fingerprint),
        )
        found = [MessageRecord.model_validate_json(r["data"]) for r in rows]
        return [r for r in found if is_unresolved_send(r, jid=jid, fingerprint=fingerprint, since=since)]

    # -- parked send.message events ------------------------------------------------------------

    def park_send(
        self,
        instance: str,
        *,
        jid: str,
        fingerprint: str,
        message_id: str,
        status: str,
        now: float,
        ttl_s: int,
    ) -> bool:
        check_status(status)
        with self._tx() as db:
            parked = db.execute(
                "INSERT INTO parked_sends (instance, jid, fingerprint, message_id, status, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (instance, jid, fingerprint) DO UPDATE SET"
                " message_id = excluded.message_id, status = excluded.status,"
                " expires_at = excluded.expires_at"
                " WHERE parked_sends.expires_at <= ?",
                (instance, jid, fingerprint, message_id, status, ttl_expiry(now, ttl_s), now),
            )
            return parked.rowcount == 1

    def take_parked_send(
        self, instance: str, *, jid: str, fingerprint: str, now: float
    ) -> tuple[str, str] | None:
        where = "FROM parked_sends WHERE instance = ? AND jid = ? AND fingerprint = ?"
        with self._tx() as db:  # one write transaction: select and delete are atomic together
            row = db.execute(
                f"SELECT message_id, status, expires_at {where}", (instance, jid, fingerprint)
            ).fetchone()  # noqa: S608
            db.execute(f"DELETE {where}", (instance, jid, fingerprint))  # noqa: S608
        if row is None or not is_live(row["expires_at"], now):
            return None
        return str(row["message_id"]), str(row["status"])

    # -- helpers -------------------------------------------------------------------------------

    def _by_message_id(self, db: sqlite3.Connection, instance: str, message_id: str) -> MessageRecord | None:
        row = db.execute(
            "SELECT data FROM messages WHERE instance = ? AND message_id = ?",
            (instance, message_id),
        ).fetchone()
        return MessageRecord.model_validate_json(row["data"]) if row is not None else None

    def _fold_orphans(
        self,
        db: sqlite3.Connection,
        record: MessageRecord,
        message_id: str,
        extra: list[OrphanStatus] | None = None,
    ) -> MessageRecord:
        key = (record.instance, message_id)
        rows = db.execute(
            "SELECT status, at, error FROM orphans WHERE instance = ? AND message_id = ?", key
        ).fetchall()
        orphans = [
            OrphanStatus(check_status(r["status"]), r["at"], json.loads(r["error"]) if r["error"] else None)
            for r in rows
        ]
        if rows:
            db.execute("DELETE FROM orphans WHERE instance = ? AND message_id = ?", key)
        record, _ = fold(record, orphans + (extra or []))
        return record

    def _insert(self, db: sqlite3.Connection, record: MessageRecord) -> None:
        try:
            db.execute(
                "INSERT INTO messages (id, instance, direction, status, message_id, jid,"
                " fingerprint, expires_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.id,
                    record.instance,
                    record.direction,
                    record.status,
                    record.message_id,
                    record.jid,
                    record.fingerprint,
                    expires_at(record.created_at, self._retention_days),
                    record.model_dump_json(),
                ),
            )
        except sqlite3.IntegrityError as e:
            raise duplicate(record) from e

    def _save(self, db: sqlite3.Connection, record: MessageRecord) -> None:
        db.execute(
            "UPDATE messages SET status = ?, message_id = ?, data = ? WHERE id = ?",
            (record.status, record.message_id, record.model_dump_json(), record.id),
        )
