"""GET /messages pages bounded in bytes: cut after the last record that fits, cursor included."""

from __future__ import annotations

from chalicelib import limits
from chalicelib.models.records import MessageRecord
from chalicelib.services.paging import page_body
from chalicelib.store.base import MessagePage
from chalicelib.store.rules import decode_cursor


def _record(n: int, text: str) -> MessageRecord:
    return MessageRecord.model_validate(
        {
            "id": f"msg_01JDQ4Z9W6M8E3V7K2B5N1P{n:03d}",
            "instance": "acme",
            "direction": "inbound",
            "message_id": f"3EB0{n:04d}",
            "type": "text",
            "status": "delivered",
            "text": text,
            "created_at": "2026-12-01T12:00:00Z",
            "updated_at": "2026-12-01T12:00:00Z",
        }
    )


def test_a_page_within_the_budget_is_unchanged() -> None:
    records = [_record(n, "hola") for n in (3, 2, 1)]
    body = page_body(MessagePage(items=records, next="cursor-from-the-store"))
    assert [i["id"] for i in body["items"]] == [r.id for r in records]
    assert body["next"] == "cursor-from-the-store"


def test_a_page_over_the_budget_is_cut_and_the_cursor_points_after_the_last_kept_record() -> None:
    records = [_record(n, "x" * 400) for n in range(9, 0, -1)]
    budget = 256 + 3 * (limits.compact_size(records[0].public()) + 1)
    body = page_body(MessagePage(items=records, next=None), budget=budget)
    assert [i["id"] for i in body["items"]] == [r.id for r in records[:3]]
    assert decode_cursor(body["next"]) == records[2].id
    assert limits.compact_size(body) <= budget


def test_one_record_larger_than_the_budget_still_makes_a_page_of_one() -> None:
    records = [_record(2, "😀" * 1000), _record(1, "small")]
    body = page_body(MessagePage(items=records, next=None), budget=1024)
    assert [i["id"] for i in body["items"]] == [records[0].id]
    assert decode_cursor(body["next"]) == records[0].id


def test_the_budget_counts_json_escapes_as_the_response_does() -> None:
    ascii_record, emoji_record = _record(1, "a" * 1000), _record(2, "😀" * 1000)
    assert limits.compact_size(emoji_record.public()) > limits.compact_size(ascii_record.public()) + 10_000
