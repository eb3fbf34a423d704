"""The real Evolution API 2.3.7 for the contract tier: started from the shared kit when needed.

The kit is ``../shared/evolution/real`` beside the repository (``EVOLUTION_REAL_KIT`` overrides it).
Without it the tier is skipped with one line, except under ``CI=true``, where that is a failure.
A server this session started is stopped at its end; one already running is left running.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.procs import REPO

KIT_DEFAULT = REPO.parent / "shared" / "evolution" / "real"
START_TIMEOUT_S = 900  # a first start builds Evolution (about 80 s, plus apt-get on a bare machine)
REPORT = REPO / "build" / "contract-report.txt"
summary_lines: list[str] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if summary_lines:
        terminalreporter.section("contract")
        for line in summary_lines:
            terminalreporter.write_line(line)


def kit_dir() -> Path:
    return Path(os.environ.get("EVOLUTION_REAL_KIT") or KIT_DEFAULT)


@dataclass(frozen=True)
class RealEvolution:
    """A running real server: its URL, global key, and the kit's environment for psql."""

    url: str
    api_key: str
    workdir: Path

    def database_uri(self) -> str:
        """Evolution's own connection string, as the kit recorded it for the server."""
        for line in (self.workdir / "run" / "evolution.env").read_text().splitlines():
            if line.startswith("DATABASE_CONNECTION_URI="):
                return line.split("=", 1)[1]
        raise RuntimeError("the kit recorded no DATABASE_CONNECTION_URI")

    def sql(self, statement: str, **values: str) -> str:
        """Run SQL in Evolution's database (to seed what only WhatsApp would put there); ``values``
        are psql variables, quoted by psql where the statement says ``:'name'``."""
        variables = [arg for name, value in values.items() for arg in ("-v", f"{name}={value}")]
        done = subprocess.run(  # noqa: S603 - psql reading our own statement from stdin
            ["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", *variables, self.database_uri()],  # noqa: S607
            input=statement,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr.strip()}")
        return done.stdout


def _kit_env() -> dict[str, str]:
    env = dict(os.environ)
    env["EVOLUTION_API_KEY"] = os.environ.get("EVOLUTION_REAL_API_KEY", "evolution-test-key")
    env["EVOLUTION_PORT"] = os.environ.get("EVOLUTION_REAL_PORT", "8090")
    return env


def _workdir(env: dict[str, str]) -> Path:
    if env.get("EVOLUTION_WORKDIR"):
        return Path(env["EVOLUTION_WORKDIR"])
    cache = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "evolution-real-2.3.7"


@pytest.fixture(scope="session")
def real_evolution() -> Iterator[RealEvolution]:
    kit = kit_dir()
    script = kit / "start.sh"
    if not script.is_file():
        message = f"contract tier: no real Evolution kit at {kit} (set EVOLUTION_REAL_KIT)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + "; CI needs it", pytrace=False)
        pytest.skip(message)
    env = _kit_env()
    running = subprocess.run(  # noqa: S603 - the kit's own script
        ["bash", str(script), "status"],  # noqa: S607
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    started = running.returncode != 0
    done = subprocess.run(  # noqa: S603 - idempotent: prints the URL again when already running
        ["bash", str(script), "start"],  # noqa: S607
        env=env,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"the real Evolution did not start:\n{done.stderr[-3000:]}", pytrace=False)
    url = done.stdout.strip().splitlines()[-1]
    requests.get(url + "/", timeout=10).raise_for_status()
    try:
        yield RealEvolution(url=url, api_key=env["EVOLUTION_API_KEY"], workdir=_workdir(env))
    finally:
        if started:
            subprocess.run(  # noqa: S603
                ["bash", str(script), "stop"],  # noqa: S607
                env=env,
                capture_output=True,
                timeout=120,
                check=False,
            )
        if summary_lines:
            REPORT.parent.mkdir(parents=True, exist_ok=True)
            REPORT.write_text("\n".join(summary_lines) + "\n")
