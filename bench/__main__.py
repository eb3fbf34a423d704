"""``python -m bench``: one table of figures and same-run baselines, also written to build/bench.md."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from bench import (
    broadcasts,
    cold_import,
    environment,
    events,
    limits,
    media,
    package,
    packaged_import,
    send_message,
    sends,
    webhooks,
)
from bench.report import Section, publish

ROOT = Path(__file__).resolve().parent.parent
WEBHOOK_FIXTURES = ROOT / "contract" / "evolution" / "webhooks"


def main() -> None:
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    os.chdir(ROOT)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    sections: list[Section] = [cold_import.run(ROOT)]  # fresh interpreters, before this one imports app
    with tempfile.TemporaryDirectory(prefix="bench-") as data_dir, environment.evolution_stub() as url:
        environment.configure(url, Path(data_dir))
        sent, sent_ids = send_message.run(url)
        sections.append(sent)
        sections.append(webhooks.run(WEBHOOK_FIXTURES, sent_ids))
        sections.append(sends.run(Path(data_dir)))
        sections.append(events.run(WEBHOOK_FIXTURES))
        sections.append(media.run(url))
        sections.append(broadcasts.run())
    sections.append(limits.run(WEBHOOK_FIXTURES))
    with tempfile.TemporaryDirectory(prefix="bench-package-") as package_dir:
        built = package.build(ROOT, Path(package_dir))
        sections.append(package.run(built))
        sections.append(packaged_import.run(built))
    load_after = os.getloadavg()[0]
    sections.append(
        Section(
            notes=[
                f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, 1-min load {load_before:.1f} -> "
                f"{load_after:.1f}, {time.perf_counter() - started:.0f} s"
            ]
        )
    )
    publish(sections, ROOT / "build" / "bench.md")


if __name__ == "__main__":
    main()
