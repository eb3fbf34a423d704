"""A webhook stream like Evolution's on a busy day, and the checks every backend must pass on it.

``build_stream`` makes, for ``outbound`` known messages, their ``messages.update`` acks (SERVER_ACK,
DELIVERY_ACK, READ, every fourth one PLAYED too) plus ``messages.upsert`` inbound messages with
unique ids, duplicates a fifth of the deliveries exactly, and shuffles everything (so statuses
arrive out of order, and a copy may race its original).
"""

from __future__ import annotations

import copy
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chalicelib.models.records import STATUS_RANK, MessageRecord
from tests.conftest import load_webhook

DUPLICATE_SHARE = 0.2
SENDERS = 8
ACKS = ("SERVER_ACK", "DELIVERY_ACK", "READ")
FINAL = {"READ": "read", "PLAYED": "played"}
REPORT = Path(__file__).resolve().parents[2] / "build" / "load-report.txt"


def outbound_id(n: int) -> str:
    return f"3EB0LOAD{n:014X}"


def inbound_id(n: int) -> str:
    return f"A5LOADIN{n:024X}"


def jid(n: int) -> str:
    return f"55119{n % 100_000_000:08d}@s.whatsapp.net"


@dataclass(frozen=True)
class Delivery:
    """One POST: the unique event it carries (``uid``), and whether it is a re-delivery."""

    uid: str
    kind: str  # "status" or "inbound"
    body: bytes
    copy: bool


@dataclass
class Stream:
    deliveries: list[Delivery]
    outbound: int
    inbound_ids: set[str]
    final_status: dict[str, str]  # outbound message id -> the highest status it must end at

    @property
    def duplicates(self) -> int:
        return sum(d.copy for d in self.deliveries)


def build_stream(total: int, *, outbound: int, instance: str, seed: int = 20261125) -> Stream:
    rng = random.Random(seed)
    unique_total = round(total * (1 - DUPLICATE_SHARE))
    update = load_webhook("messages.update.read")
    upsert = load_webhook("messages.upsert.text")
    uniques: list[Delivery] = []
    final: dict[str, str] = {}
    for n in range(outbound):
        statuses = (*ACKS, "PLAYED") if n % 4 == 0 else ACKS
        final[outbound_id(n)] = FINAL[statuses[-1]]
        for status in statuses:
            body = copy.deepcopy(update)
            body["instance"] = instance
            body["data"] |= {"keyId": outbound_id(n), "remoteJid": jid(n), "status": status}
            body["apikey"] = None
            uniques.append(Delivery(f"{outbound_id(n)}/{status}", "status", json.dumps(body).encode(), False))
    if len(uniques) > unique_total:
        raise ValueError(f"{total} deliveries cannot hold the acks of {outbound} messages")
    inbound_ids: set[str] = set()
    for n in range(unique_total - len(uniques)):
        body = copy.deepcopy(upsert)
        body["instance"] = instance
        body["data"]["key"] |= {"id": inbound_id(n), "remoteJid": jid(10_000 + n)}
        body["data"]["key"].pop("remoteJidAlt", None)
        body["data"]["message"] = {"conversation": f"reply {n}"}
        body["data"]["messageTimestamp"] = 1_765_377_125 + n
        body["apikey"] = None
        inbound_ids.add(inbound_id(n))
        uniques.append(Delivery(inbound_id(n), "inbound", json.dumps(body).encode(), False))
    copies = [Delivery(d.uid, d.kind, d.body, True) for d in rng.sample(uniques, total - unique_total)]
    deliveries = uniques + copies
    rng.shuffle(deliveries)
    return Stream(deliveries, outbound, inbound_ids, final)


@dataclass
class Answers:
    """What the service answered, per delivery."""

    status: Counter[int] = field(default_factory=Counter)
    fresh: Counter[str] = field(default_factory=Counter)  # uid -> answers with duplicate: false
    duplicate_true: Counter[str] = field(default_factory=Counter)  # kind -> duplicate: true answers
    other: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, delivery: Delivery, status: int, body: Any) -> None:
        with self.lock:
            self.status[status] += 1
            if status != 200 or not isinstance(body, dict) or "duplicate" not in body:
                self.other.append(f"{status} {str(body)[:200]}")
                return
            if body["duplicate"] is True:
                self.duplicate_true[delivery.kind] += 1
            else:
                self.fresh[delivery.uid] += 1


def deliver_all(
    stream: Stream, post: Callable[[Delivery], tuple[int, Any]], *, senders: int = SENDERS
) -> tuple[Answers, float]:
    """POST every delivery from ``senders`` threads; (answers, seconds)."""
    answers = Answers()

    def one(delivery: Delivery) -> None:
        status, body = post(delivery)
        answers.add(delivery, status, body)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=senders, thread_name_prefix="load") as pool:
        for future in [pool.submit(one, d) for d in stream.deliveries]:
            future.result()
    return answers, time.monotonic() - started


@dataclass
class Figures:
    """The counts a run is judged by (printed, and written to build/load-report.txt)."""

    backend: str
    deliveries: int
    duplicates_sent: int
    answered_2xx: int
    duplicate_answers: int
    duplicate_inbound_answers: int
    duplicate_inbound_sent: int
    inbound_unique: int
    inbound_stored: int
    inbound_distinct: int
    outbound: int
    outbound_final_ok: int
    histories_monotonic: int
    seconds: float

    def lines(self) -> list[str]:
        rate = self.deliveries / self.seconds if self.seconds else 0.0
        return [
            f"[{self.backend}] {self.deliveries} deliveries ({self.duplicates_sent} exact duplicates) "
            f"from {SENDERS} senders in {self.seconds:.1f} s ({rate:.0f}/s)",
            f"[{self.backend}] 2xx answers: {self.answered_2xx}/{self.deliveries}; "
            f"answered duplicate=true: {self.duplicate_answers} "
            f"(inbound {self.duplicate_inbound_answers} of {self.duplicate_inbound_sent} inbound copies)",
            f"[{self.backend}] inbound stored: {self.inbound_stored} rows, {self.inbound_distinct} distinct ids, "
            f"{self.inbound_unique} unique ids sent (lost {self.inbound_unique - self.inbound_distinct}, "
            f"stored twice {self.inbound_stored - self.inbound_distinct})",
            f"[{self.backend}] outbound at their highest status: {self.outbound_final_ok}/{self.outbound}; "
            f"histories never backward: {self.histories_monotonic}/{self.outbound}",
        ]


def judge(
    backend: str,
    stream: Stream,
    answers: Answers,
    seconds: float,
    *,
    inbound_rows: list[str],
    outbound_records: list[MessageRecord],
) -> Figures:
    """Compute the figures and assert every promise; report them first so a failure still shows them."""
    inbound_copies = sum(d.copy and d.kind == "inbound" for d in stream.deliveries)
    by_id = {r.message_id: r for r in outbound_records}
    final_ok = sum(
        1 for mid, status in stream.final_status.items() if mid in by_id and by_id[mid].status == status
    )
    monotonic = sum(1 for r in outbound_records if _never_backward(r))
    figures = Figures(
        backend=backend,
        deliveries=len(stream.deliveries),
        duplicates_sent=stream.duplicates,
        answered_2xx=sum(n for status, n in answers.status.items() if 200 <= status < 300),
        duplicate_answers=sum(answers.duplicate_true.values()),
        duplicate_inbound_answers=answers.duplicate_true["inbound"],
        duplicate_inbound_sent=inbound_copies,
        inbound_unique=len(stream.inbound_ids),
        inbound_stored=len(inbound_rows),
        inbound_distinct=len(set(inbound_rows)),
        outbound=stream.outbound,
        outbound_final_ok=final_ok,
        histories_monotonic=monotonic,
        seconds=seconds,
    )
    report(figures.lines())

    assert answers.other == [], answers.other[:5]
    assert figures.answered_2xx == figures.deliveries
    assert set(inbound_rows) == stream.inbound_ids, "no inbound message lost or invented"
    assert figures.inbound_stored == figures.inbound_unique, "no inbound message stored twice"
    assert figures.duplicate_inbound_answers == inbound_copies, "every inbound re-delivery said duplicate"
    assert all(answers.fresh[i] == 1 for i in stream.inbound_ids), "each inbound id was new exactly once"
    assert max(answers.fresh.values()) == 1, "no event was applied twice"
    assert figures.duplicate_answers >= figures.duplicates_sent, "every exact copy answered duplicate"
    assert final_ok == stream.outbound, {
        mid: (by_id[mid].status if mid in by_id else None, want)
        for mid, want in stream.final_status.items()
        if mid not in by_id or by_id[mid].status != want
    }
    assert monotonic == stream.outbound
    return figures


def _never_backward(record: MessageRecord) -> bool:
    ranks = [STATUS_RANK[h.status] for h in record.status_history]
    return ranks == sorted(ranks) and len(set(ranks)) == len(ranks)


_report_lock = threading.Lock()
_reported: set[Path] = set()


def report(lines: list[str]) -> None:
    """Print the figures (visible with -s and in a failure's captured output) and append them to
    build/load-report.txt, which the first report of a pytest run starts afresh."""
    for line in lines:
        print(line)  # noqa: T201
    with _report_lock:
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        mode = "a" if REPORT in _reported else "w"
        _reported.add(REPORT)
        with REPORT.open(mode, encoding="utf-8") as out:
            out.write(time.strftime("%Y-%m-%dT%H:%M:%SZ ", time.gmtime()) + lines[0] + "\n")
            out.writelines(line + "\n" for line in lines[1:])
