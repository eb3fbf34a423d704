"""Time and identifiers: ISO 8601 UTC timestamps with ``Z``, time-ordered message ids."""

from __future__ import annotations

from datetime import UTC, datetime


def now_iso() -> str:
    """The current time as the API writes timestamps: ISO 8601, UTC, milliseconds, ``Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_message_id() -> str:
    """``msg_<ULID>``: unique, and sortable by creation time."""
    from ulid import ULID  # noqa: PLC0415 - imported by the first request that needs an id

    return f"msg_{ULID()}"
