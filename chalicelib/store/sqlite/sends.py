"""Write-ahead sends on SQLite: the record and its claim change in one transaction each time."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.models.records import MessageRecord
from chalicelib.store.base import ClaimLostError
from chalicelib.store.rules import is_written_ahead, settle
from chalicelib.store.sqlite.idempotency import release_claim
from chalicelib.store.sqlite.messages import SQLiteMessages


class SQLiteSends(SQLiteMessages):
    """:class:`chalicelib.store.base.SendStore` on SQLite (over the messages and idempotency tables)."""

    def begin_send(self, record: MessageRecord, *, key: str | None = None, writer: str | None = None) -> None:
        with self._tx() as db:
            if key is not None:
                pointed = db.execute(
                    "UPDATE idempotency SET record_id = ?"
                    " WHERE key = ? AND writer = ? AND state = 'in_progress'",
                    (record.id, key, writer),
                )
                if pointed.rowcount != 1:
                    raise ClaimLostError(f"the claim of {key!r} is no longer this request's")
            self._insert(db, record)

    def finish_send(
        self,
        id: str,
        status: str,
        *,
        at: str,
        message_id: str | None = None,
        jid: str | None = None,
        error: dict[str, Any] | None = None,
        key: str | None = None,
        response: tuple[int, dict[str, Any], dict[str, str]] | None = None,
    ) -> MessageRecord | None:
        with self._tx() as db:
            settled: MessageRecord | None = None
            row = db.execute("SELECT data FROM messages WHERE id = ?", (id,)).fetchone()
            if row is not None:
                record = MessageRecord.model_validate_json(row["data"])
                if message_id is not None:
                    holder = self._by_message_id(db, record.instance, message_id)
                    if holder is not None and holder.id != id:
                        message_id = None  # a webhook gave it to a twin (same chat and content)
                settled = settle(record, status, at, message_id=message_id, jid=jid, error=error)
                # the send's own outcome is its answer, not a change to report; a webhook's was
                unchanged = settled.status if is_written_ahead(record) else record.status
                if settled.message_id is not None and record.message_id is None:
                    settled = self._fold_orphans(db, settled, settled.message_id)
                self._save(db, settled)
                if settled.status != unchanged:
                    self._message_event(db, "message.status", settled)
                db.execute("UPDATE messages SET jid = ? WHERE id = ?", (settled.jid, id))
            if key is not None and response is not None:
                code, body, headers = response
                db.execute(  # whatever state it is in: the answer is the truth either way
                    "UPDATE idempotency SET state = 'done', status_code = ?, body = ?, headers = ?"
                    " WHERE key = ?",
                    (code, json.dumps(body), json.dumps(headers), key),
                )
            return settled

    def abandon_send(self, id: str, *, key: str | None = None, writer: str | None = None) -> None:
        with self._tx() as db:
            db.execute(
                "DELETE FROM messages WHERE id = ? AND status = 'pending' AND message_id IS NULL", (id,)
            )
            if key is not None:
                release_claim(db, key, writer)
