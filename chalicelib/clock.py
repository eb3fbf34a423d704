"""Time and identifiers: ISO 8601 UTC timestamps with ``Z``, time-ordered message ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def now_iso(ago: timedelta | None = None) -> str:
    """The current time (less ``ago``) as the API writes timestamps: ISO 8601, UTC, ms, ``Z``."""
    moment = datetime.now(UTC) - (ago or timedelta())
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_message_id() -> str:
    """``msg_<ULID>``: unique, and sortable by creation time."""
    from ulid import ULID  # noqa: PLC0415 - imported by the first request that needs an id

    return f"msg_{ULID()}"
