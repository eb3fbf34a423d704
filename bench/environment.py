"""The service's environment for in-process runs, and the Evolution stub process it talks to."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

API_KEY = "bench-api-key-0123456789abcdef"
EVOLUTION_API_KEY = "bench-evolution-key-0123456789"
WEBHOOK_SECRET = "bench-webhook-secret-0123456789"  # noqa: S105 - a bench fixture
INSTANCE = "bench"


@contextmanager
def evolution_stub() -> Iterator[str]:
    """Start ``bench.stub`` in its own process; yield its base URL; stop it."""
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "bench.stub"],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def configure(evolution_url: str, data_dir: Path) -> None:
    """Set the service's settings; must run before ``app`` (and its settings) are imported."""
    os.environ.update(
        {
            "EVOLUTION_API_URL": evolution_url,
            "EVOLUTION_API_KEY": EVOLUTION_API_KEY,
            "INSTANCE_NAME": INSTANCE,
            "API_KEYS": API_KEY,
            "WEBHOOK_SECRET": WEBHOOK_SECRET,
            "STORE_URL": f"sqlite:///{data_dir / 'bench.db'}",
            "STAGE": "dev",
            "LOG_LEVEL": "WARNING",
            "EVENTS_SIGNING_KEY": "bench-events-signing-key-0123456789abcdef",
        }
    )
    for name in (
        "PUBLIC_BASE_URL",
        "SSM_PARAMETER_PREFIX",
        "DEFAULT_COUNTRY",
        "AWS_LAMBDA_FUNCTION_NAME",
        "JOBS_QUEUE_URL",
        "LOCAL_WORKER",
    ):
        os.environ.pop(name, None)
