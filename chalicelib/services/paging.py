"""A page of ``GET /messages`` bounded in bytes as well as in count.

Lambda answers at most 6 MB, and one inbound record may hold a 65,536-character text (up to
~800 KB once JSON escapes every character outside ASCII). A page keeps the records, newest first,
while their compact JSON fits :data:`limits.PAGE_BYTES`; the first record always goes in (it is
bounded by the stored field limits), and when the page is cut the ``next`` cursor points after the
last record that fit, so paging on returns every record exactly once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib import limits
from chalicelib.store.rules import encode_cursor

if TYPE_CHECKING:
    from chalicelib.store.base import MessagePage

_ENVELOPE_BYTES = 256  # {"items":[],"next":"<cursor>"} around the records


def page_body(page: MessagePage, *, budget: int = limits.PAGE_BYTES) -> dict[str, Any]:
    """``{"items": [...], "next": cursor | None}`` for ``page``, at most ``budget`` bytes of JSON."""
    items: list[dict[str, Any]] = []
    used = _ENVELOPE_BYTES
    for record in page.items:
        public = record.public()
        size = limits.compact_size(public) + 1  # the comma
        if items and used + size > budget:
            return {"items": items, "next": encode_cursor(items[-1]["id"])}
        items.append(public)
        used += size
    return {"items": items, "next": page.next}
