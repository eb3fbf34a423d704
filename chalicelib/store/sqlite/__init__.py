"""SQLite backend of the store: one mixin per concern, composed over :class:`SQLiteCore`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.store.sqlite.broadcasts import SQLiteBroadcasts
from chalicelib.store.sqlite.core import SQLiteCore
from chalicelib.store.sqlite.events import SQLiteEvents
from chalicelib.store.sqlite.idempotency import SQLiteIdempotency
from chalicelib.store.sqlite.instances import SQLiteInstances
from chalicelib.store.sqlite.media import SQLiteMedia
from chalicelib.store.sqlite.messages import SQLiteMessages
from chalicelib.store.sqlite.sends import SQLiteSends

if TYPE_CHECKING:
    from chalicelib.store.base import Store

__all__ = ["SQLiteCore", "SQLiteStore"]


class SQLiteStore(
    SQLiteIdempotency,
    SQLiteSends,
    SQLiteMessages,
    SQLiteInstances,
    SQLiteEvents,
    SQLiteMedia,
    SQLiteBroadcasts,
):
    """The store on one SQLite file; safe across threads and processes sharing that file.

    A new concern adds its mixin (its DDL and expiring tables included) to this list.
    """


if TYPE_CHECKING:  # mypy proves the composition is a whole Store

    def _is_a_store(store: SQLiteStore) -> Store:
        return store
