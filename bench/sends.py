"""The write-ahead's cost on a send's store writes (SQLite, the file ``make run`` uses): claim,
write-ahead and settle beside what v1 wrote for the same send (claim, record, completed key)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path
from typing import Any

from bench.report import Row, Section, duration, ratio
from bench.stats import p50, timed

N = 500
WARMUP = 50
REPLY = (201, {"id": "msg_x", "message_id": "3EB0", "status": "pending"}, {})


def _record(n: int) -> Any:
    from chalicelib.clock import new_message_id, now_iso
    from chalicelib.models.records import MessageRecord

    now = now_iso()
    return MessageRecord.model_validate(
        {
            "id": new_message_id(),
            "instance": "bench",
            "direction": "outbound",
            "type": "text",
            "status": "pending",
            "status_history": [{"status": "pending", "at": now}],
            "to": "+5511999999999",
            "jid": "5511999999999@s.whatsapp.net",
            "text": f"bench {n}",
            "fingerprint": f"fp-{n}",
            "created_at": now,
            "updated_at": now,
        }
    )


def _each(call: Callable[[int], None], numbers: Iterator[int]) -> Callable[[int], float]:
    def measure(_: int) -> float:
        n = next(numbers)
        started = time.perf_counter()
        call(n)
        return time.perf_counter() - started

    return measure


def run(data_dir: Path) -> Section:
    from chalicelib.clock import now_iso
    from chalicelib.store.sqlite import SQLiteStore

    store = SQLiteStore(str(data_dir / "sends.db"))
    numbers = count()  # every send of every loop its own ids and keys

    def write_ahead(n: int, key: str | None) -> None:
        record = _record(n)
        writer = None
        if key is not None:
            writer = store.claim_idempotency(key, "fp", now=time.time(), ttl_s=86_400).record.writer
        store.begin_send(record, key=key, writer=writer)
        store.finish_send(
            record.id, "pending", at=now_iso(), message_id=f"3EB0A{n:08d}", key=key, response=REPLY
        )

    def v1(n: int, key: str | None) -> None:
        if key is not None:
            store.claim_idempotency(key, "fp", now=time.time(), ttl_s=86_400)
        record = _record(n).model_copy(update={"message_id": f"3EB0B{n:08d}"})
        store.create_message(record)
        if key is not None:
            store.complete_idempotency(key, status_code=REPLY[0], body=REPLY[1], headers=REPLY[2])

    rows = []
    for label, keyed in (("with an Idempotency-Key", True), ("without a key", False)):
        value = p50(
            timed(_each(lambda n, k=keyed: write_ahead(n, f"wa-{n}" if k else None), numbers), N, WARMUP)[0]
        )
        baseline = p50(
            timed(_each(lambda n, k=keyed: v1(n, f"v1-{n}" if k else None), numbers), N, WARMUP)[0]
        )
        rows.append(
            Row(
                f"send store writes {label}: write-ahead + settle vs v1's record write",
                duration(value),
                duration(baseline),
                ratio(value, baseline),
                "info",
            )
        )
    store.close()
    return Section(
        rows=rows,
        notes=[
            f"send store writes: {N} sends after {WARMUP} warm-up on one SQLite file (WAL); with a key: "
            "claim + begin_send + finish_send vs claim + create_message + complete_idempotency; "
            "without: begin_send + finish_send vs create_message"
        ],
    )
