"""`make run`'s runner (devtools/run_local.py) as a newcomer meets it: in a fresh copy of the checkout
(its own `.env`, `.data/` and store), on free loopback ports, with only what the developer sets."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.conftest import REPO
from tests.procs import free_port

START_TIMEOUT_S = 60.0
SERVICE_SETTINGS = (
    "EVOLUTION_API_URL",
    "EVOLUTION_API_KEY",
    "INSTANCE_NAME",
    "API_KEYS",
    "WEBHOOK_SECRET",
    "PUBLIC_BASE_URL",
    "STORE_URL",
    "DEFAULT_COUNTRY",
    "STAGE",
    "LOG_LEVEL",
    "ALERT_TOPIC_ARN",
    "AUTO_RESTART",
    "SSM_PARAMETER_PREFIX",
    "PORT",
    "SIMULATOR_PORT",
)


def copy_checkout(dest: Path) -> Path:
    """The checkout's files (tracked, and new ones not ignored) copied under ``dest``: a fresh clone."""
    listed = subprocess.run(  # noqa: S603 - fixed arguments
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],  # noqa: S607
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if not source.is_file() or source.is_symlink():
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    return dest


def two_free_ports() -> tuple[int, int]:
    port, simulator_port = free_port(), free_port()
    while simulator_port == port:
        simulator_port = free_port()
    return port, simulator_port


def clean_env(**values: str) -> dict[str, str]:
    """This process's environment without any service setting, plus ``values``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in SERVICE_SETTINGS and not k.startswith(("EVOLUTION_SIM_", "PYTEST_"))
    }
    # the runner finds chalice beside its interpreter, as `make run` does with .venv/bin
    return {**env, "PYTHONUNBUFFERED": "1", **values}


@dataclass
class Runner:
    """A running `python -m devtools.run_local` and where its output goes."""

    process: subprocess.Popen[bytes]
    checkout: Path
    port: int
    simulator_port: int
    out: Path
    err: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.out.read_text(errors="replace") + self.err.read_text(errors="replace")

    def wait_until_serving(self) -> float:
        """Seconds until ``GET /health`` answers (any status); fails if the runner exits first."""
        started = time.monotonic()
        while time.monotonic() - started < START_TIMEOUT_S:
            if self.process.poll() is not None:
                raise AssertionError(f"the runner exited with {self.process.returncode}:\n{self.output()}")
            try:
                requests.get(self.base_url + "/health", timeout=5)
                return time.monotonic() - started
            except requests.ConnectionError:
                time.sleep(0.1)
        raise AssertionError(f"nothing answered /health within {START_TIMEOUT_S} s:\n{self.output()}")

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise


def start_runner(checkout: Path, env: dict[str, str], port: int, simulator_port: int) -> Runner:
    out, err = checkout / "runner.out", checkout / "runner.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(  # noqa: S603 - our own runner, fixed arguments
            [sys.executable, "-m", "devtools.run_local"],
            cwd=checkout,
            env={**env, "PORT": str(port), "SIMULATOR_PORT": str(simulator_port)},
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
        )
    return Runner(process, checkout, port, simulator_port, out, err)


def run_to_exit(checkout: Path, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The runner run to its end (for the cases where it must refuse to start)."""
    return subprocess.run(  # noqa: S603 - our own runner, fixed arguments
        [sys.executable, "-m", "devtools.run_local"],
        cwd=checkout,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def processes_with(*needles: str) -> list[int]:
    """Process ids whose command line holds every one of ``needles`` as a separate argument."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if all(needle in argv for needle in needles):
            found.append(int(entry.name))
    return found


def processes_on_port(port: int) -> list[int]:
    """Process ids started with ``--port N`` or ``--port=N`` (chalice local, the simulator)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        pairs = zip(argv, argv[1:], strict=False)
        if f"--port={port}" in argv or any(a == "--port" and b == str(port) for a, b in pairs):
            found.append(int(entry.name))
    return found


def children_of(pid: int) -> list[int]:
    """Every live descendant of ``pid``."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: list[int] = []
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        kids = [child for child, parent in parents.items() if parent == current]
        found += kids
        frontier += kids
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
