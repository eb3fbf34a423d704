"""Inbound media on SQLite: the ``media_waiting`` table (records whose file is still to fetch).

:class:`SQLiteMediaWaits` is what ``insert_inbound`` uses, inside its own transaction;
:class:`SQLiteMedia` is :class:`chalicelib.store.base.MediaStore`.
"""

from __future__ import annotations

import sqlite3
from typing import Any, ClassVar

from chalicelib.models.records import MessageRecord
from chalicelib.store.rules import expires_at, merge_media
from chalicelib.store.sqlite.events import SQLiteOutbox


class SQLiteMediaWaits(SQLiteOutbox):
    """The waiting marks, written inside other concerns' transactions."""

    DDL = """
    CREATE TABLE IF NOT EXISTS media_waiting (
        instance TEXT NOT NULL, id TEXT NOT NULL, created_at TEXT NOT NULL, expires_at REAL NOT NULL,
        PRIMARY KEY (instance, id));
    CREATE INDEX IF NOT EXISTS media_waiting_by_age ON media_waiting (instance, created_at);
    """
    EXPIRING: ClassVar[tuple[str, ...]] = ("media_waiting",)

    def _wait_for_media(self, db: sqlite3.Connection, record: MessageRecord) -> None:
        db.execute(
            "INSERT OR IGNORE INTO media_waiting (instance, id, created_at, expires_at) VALUES (?, ?, ?, ?)",
            (
                record.instance,
                record.id,
                record.created_at,
                expires_at(record.created_at, self._retention_days),
            ),
        )


class SQLiteMedia(SQLiteMediaWaits):
    """:class:`chalicelib.store.base.MediaStore` on SQLite."""

    def settle_media(self, instance: str, id: str, media: dict[str, Any], *, at: str) -> MessageRecord | None:
        with self._tx() as db:
            row = db.execute(
                "SELECT data FROM messages WHERE instance = ? AND id = ?", (instance, id)
            ).fetchone()
            if row is None:
                return None
            record = MessageRecord.model_validate_json(row["data"])
            merged = merge_media(record.media, media)
            if merged is None:
                return record if record.media is not None else None
            record = record.model_copy(update={"media": merged, "updated_at": at})
            db.execute("UPDATE messages SET data = ? WHERE id = ?", (record.model_dump_json(), id))
            waited = db.execute("DELETE FROM media_waiting WHERE instance = ? AND id = ?", (instance, id))
            if waited.rowcount == 1 and record.direction == "inbound":
                self._message_event(db, "message.received", record)
            return record

    def media_waiting(self, instance: str, *, before: str, limit: int) -> list[str]:
        rows = self._read(
            "SELECT id FROM media_waiting WHERE instance = ? AND created_at < ?"
            " ORDER BY created_at, id LIMIT ?",
            (instance, before, limit),
        )
        return [str(r["id"]) for r in rows]
