"""Instance state on SQLite: one JSON row per instance, merged inside a write transaction."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.clock import now_iso
from chalicelib.events.types import session_event
from chalicelib.models.records import InstanceState
from chalicelib.store.rules import check_instance_fields
from chalicelib.store.sqlite.events import SQLiteOutbox


class SQLiteInstances(SQLiteOutbox):
    """:class:`chalicelib.store.base.InstanceStore` on SQLite (no TTL: the health job's memory
    must survive quiet months)."""

    DDL = "CREATE TABLE IF NOT EXISTS instances (instance TEXT PRIMARY KEY, data TEXT NOT NULL);"

    def get_instance_state(self, instance: str) -> InstanceState | None:
        rows = self._read("SELECT data FROM instances WHERE instance = ?", (instance,))
        return InstanceState.model_validate_json(rows[0]["data"]) if rows else None

    def update_instance_state(self, instance: str, **fields: Any) -> InstanceState:
        check_instance_fields(instance, fields)
        with self._tx() as db:
            row = db.execute("SELECT data FROM instances WHERE instance = ?", (instance,)).fetchone()
            current = json.loads(row["data"]) if row is not None else {"instance": instance}
            state = InstanceState.model_validate({**current, **fields})
            db.execute(
                "INSERT OR REPLACE INTO instances (instance, data) VALUES (?, ?)",
                (instance, state.model_dump_json()),
            )
            previous = current.get("state")
            if "state" in fields and state.state != (previous or "unknown"):
                self._put_event(db, session_event(instance, state.state, previous, at=now_iso()))
            return state
