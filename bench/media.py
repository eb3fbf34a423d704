"""Inbound media: storing a 10 MB document end to end (Evolution's getBase64FromMediaMessage from the
loopback stub, type sniffing, SHA-256, the local blob store with fsync, the record settled in
SQLite) beside the bare getBase64 call to the same stub (POST, JSON, base64 decode); and the peak
memory of a fetch relative to the file size, in child processes, beside that bare call's."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.report import Row, Section, ms, ratio
from bench.stats import p50

ROOT = Path(__file__).resolve().parent.parent
SIZE = 10 * 1024 * 1024
PEAK_SIZES = (10 * 1024 * 1024, 64 * 1024 * 1024)
RUNS = 7
MB = 1024 * 1024


def bare_call(url: str, session: Any, size: int) -> bytes:
    """What any client does to get the bytes: POST, parse the JSON, decode the base64."""
    response = session.post(
        f"{url}/chat/getBase64FromMediaMessage/bytes-{size}",
        json={"message": {"key": {"id": "3EB0BENCH"}}, "convertToMp4": False},
        headers={"apikey": "bench"},
        timeout=(2, 60),
    )
    response.raise_for_status()
    return base64.b64decode(response.json()["base64"])


def stored_end_to_end(url: str, data_dir: Path, size: int) -> tuple[Any, Any]:
    """A media service over a fresh SQLite store and local blobs, and a record waiting for a
    ``size``-byte document."""
    from chalicelib.evolution import EvolutionClient  # noqa: PLC0415
    from chalicelib.media.blobs import LocalBlobs  # noqa: PLC0415
    from chalicelib.models.records import MessageRecord  # noqa: PLC0415
    from chalicelib.services.media import MediaService  # noqa: PLC0415
    from chalicelib.store.sqlite import SQLiteStore  # noqa: PLC0415

    store = SQLiteStore(str(data_dir / "media-bench.db"))
    service = MediaService(
        store=store,
        evolution=EvolutionClient(url, "bench", read_timeout=20, max_read_timeout=22),
        blobs=LocalBlobs(str(data_dir / "media"), signing_key=b"b" * 32),
        instance=f"bytes-{size}",
        max_bytes=max(size, 64 * MB),
    )
    return service, (store, MessageRecord)


def new_record(store_and_model: tuple[Any, Any], n: int, size: int) -> Any:
    store, model = store_and_model
    now = "2026-12-02T00:00:00.000Z"
    record = model.model_validate(
        {
            "id": f"msg_01KBBENCH{n:017d}",
            "instance": f"bytes-{size}",
            "direction": "inbound",
            "message_id": f"3EB0BENCH{n:08d}",
            "type": "document",
            "status": "delivered",
            "media": {"mimetype": "application/pdf", "file_name": "bench.pdf", "stored": False},
            "created_at": now,
            "updated_at": now,
        }
    )
    store.insert_inbound(record)
    return record


def peak(url: str, size: int, mode: str) -> dict[str, float]:
    """Run one fetch in a fresh interpreter; its peak RSS above the RSS before the fetch."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "bench.media", "--peak", url, str(size), mode],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run(url: str) -> Section:
    import requests  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="bench-media-") as tmp, requests.Session() as session:
        bare_call(url, session, SIZE)  # the stub builds its answer once; connections warm up
        service, store = stored_end_to_end(url, Path(tmp), SIZE)
        bare, stored = [], []
        for n in range(RUNS):
            started = time.perf_counter()
            data = bare_call(url, session, SIZE)
            bare.append(time.perf_counter() - started)
            assert len(data) == SIZE
            record = new_record(store, n, SIZE)
            started = time.perf_counter()
            settled = service.fetch(record)
            stored.append(time.perf_counter() - started)
            assert settled.media["stored"] is True and settled.media["size"] == SIZE
    goal = p50(stored) / p50(bare)
    rows = [
        Row(
            "store a 10 MB document end to end vs the bare getBase64 call, p50",
            ms(p50(stored)),
            ms(p50(bare)),
            ratio(p50(stored), p50(bare)),
            f"<= 1.5x ({'met' if goal <= 1.5 else 'missed'})",
        )
    ]
    for size in PEAK_SIZES:
        ours, naive = peak(url, size, "service"), peak(url, size, "bare")
        rows.append(
            Row(
                f"peak memory of one fetch, {size // MB} MB file (RSS above before; x file size)",
                f"{ours['rss'] / MB:.0f} MB = {ours['rss'] / size:.2f}x",
                f"bare call {naive['rss'] / MB:.0f} MB = {naive['rss'] / size:.2f}x",
                ratio(ours["rss"], naive["rss"]),
                f"<= 3x file ({'met' if ours['rss'] / size <= 3 else 'missed'})",
            )
        )
        rows.append(
            Row(
                f"same, Python allocations (tracemalloc peak), {size // MB} MB file",
                f"{ours['traced'] / MB:.0f} MB = {ours['traced'] / size:.2f}x",
                f"bare call {naive['traced'] / MB:.0f} MB = {naive['traced'] / size:.2f}x",
                ratio(ours["traced"], naive["traced"]),
                "info",
            )
        )
    notes = [
        f"media: p50 of {RUNS} runs each, alternating; the stub answers from a prebuilt body in its own "
        "process; end to end includes fsync of the file and the SQLite settle",
        "media peak: a fresh interpreter per figure, the RSS high-water mark (VmHWM, reset just before the "
        "fetch) less the RSS then; tracemalloc runs in the same fetch",
    ]
    return Section(rows=rows, notes=notes)


def _status(field: str) -> int:
    """``VmRSS`` / ``VmHWM`` of this process, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise LookupError(field)


def _reset_high_water_mark() -> None:
    """Start ``VmHWM`` afresh (Linux: ``5`` in clear_refs); the mark a fork inherits from its
    parent would otherwise hide this process's own peak."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _peak_child(url: str, size: int, mode: str) -> None:
    import tracemalloc  # noqa: PLC0415

    import requests  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="bench-media-") as tmp, requests.Session() as session:
        service, store = stored_end_to_end(url, Path(tmp), size)
        record = new_record(store, 0, size)
        _reset_high_water_mark()
        before = _status("VmRSS")
        tracemalloc.start()
        if mode == "service":
            settled = service.fetch(record)
            assert settled.media["size"] == size
        else:
            assert len(bare_call(url, session, size)) == size
        traced = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        high = _status("VmHWM")
    print(json.dumps({"rss": max(0, high - before), "traced": traced}))  # noqa: T201


if __name__ == "__main__":
    if sys.argv[1:2] == ["--peak"]:
        _peak_child(sys.argv[2], int(sys.argv[3]), sys.argv[4])
