"""`make run`: the service on its embedded defaults — the Evolution simulator plus `chalice local`.

With ``EVOLUTION_API_URL`` set (in the environment, e.g. ``make run EVOLUTION_API_URL=…``, or in
``.env``) no simulator is started and the service talks to that Evolution server instead.

Before starting anything it checks every setting, through the service's own settings class and with
exactly the environment `chalice local` will see, and that both ports are free; each problem is
one sentence on stderr, and the exit status is 2. Once running, SIGINT (Ctrl-C) or SIGTERM stops
both processes (each runs in its own process group); a process that stops by itself stops the other
and the runner exits with status 1.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".data"
HOST = "127.0.0.1"
STAGE = "dev"
DEFAULT_PORT = 8000
DEFAULT_SIMULATOR_PORT = 8081
DEFAULT_INSTANCE = "manpower-whatsapp"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
EXIT_CANNOT_START = 2
EXIT_FAILED = 1


class Stop(Exception):  # noqa: N818 - a request, not an error
    """SIGINT or SIGTERM arrived: stop both processes and exit."""


class Failed(Exception):  # noqa: N818 - carries the one sentence to print
    """A process failed to start or stopped by itself; the message is one sentence."""


@dataclass(frozen=True)
class Plan:
    """What to start: the ports, the children's environment and whether the simulator runs."""

    port: int
    simulator_port: int | None
    env: dict[str, str]
    api_key: str


def _dotenv() -> dict[str, str]:
    return {k: v for k, v in dotenv_values(ROOT / ".env").items() if v is not None}


def _persistent_secret(data: Path, name: str) -> str:
    """A random secret kept under .data/ so it stays the same from one run to the next."""
    data.mkdir(exist_ok=True)
    path = data / name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


def _port(name: str, raw: str | None, default: int, problems: list[str]) -> int:
    if raw is None or not raw.strip():
        return default
    value = raw.strip()
    if value.isdigit() and 1 <= int(value) <= 65535:
        return int(value)
    problems.append(f"{name} is not valid: it must be a whole number from 1 to 65535.")
    return default


def _stage_environment() -> dict[str, str]:
    """The variables `chalice local --stage dev` puts over the environment (.chalice/config.json)."""
    from chalice.config import Config  # noqa: PLC0415 - chalice's own reading of its config

    config_file = ROOT / ".chalice" / "config.json"
    config = Config(chalice_stage=STAGE, config_from_disk=json.loads(config_file.read_text()))
    return {name: str(value) for name, value in config.environment_variables.items()}


def plan(
    environ: Mapping[str, str], dotenv: Mapping[str, str], problems: list[str], *, data: Path = DATA
) -> Plan:
    """The ports and the children's environment; bad ports are added to ``problems``."""
    configured = {**dotenv, **environ}
    port = _port("PORT", configured.get("PORT"), DEFAULT_PORT, problems)
    use_simulator = not configured.get("EVOLUTION_API_URL")
    simulator_port = (
        _port("SIMULATOR_PORT", configured.get("SIMULATOR_PORT"), DEFAULT_SIMULATOR_PORT, problems)
        if use_simulator
        else None
    )
    if simulator_port is not None and simulator_port == port:
        problems.append(f"PORT and SIMULATOR_PORT are both {port}; give them different ports.")
    env = dict(environ)
    env["PYTHONUNBUFFERED"] = "1"
    # Defaults for what a laptop needs and the developer did not set (neither here nor in .env).
    defaults: dict[str, Callable[[], str]] = {
        "API_KEYS": lambda: _persistent_secret(data, "dev-api-key"),
        "WEBHOOK_SECRET": lambda: _persistent_secret(data, "dev-webhook-secret"),
        # derives each event destination's whsec_ secret (kept, so the secrets stay valid)
        "EVENTS_SIGNING_KEY": lambda: _persistent_secret(data, "dev-events-signing-key"),
        "INSTANCE_NAME": lambda: DEFAULT_INSTANCE,
        "PUBLIC_BASE_URL": lambda: f"http://{HOST}:{port}",
        "STORE_URL": lambda: "sqlite:///.data/service.db",
    }
    for name, default in defaults.items():
        if name not in configured:
            env[name] = default()
    if use_simulator:
        env["EVOLUTION_API_URL"] = f"http://{HOST}:{simulator_port}"
        env["EVOLUTION_API_KEY"] = _persistent_secret(data, "dev-evolution-key")
    keys = env.get("API_KEYS", configured.get("API_KEYS", ""))
    api_key = next((k.strip() for k in keys.split(",") if k.strip()), "")
    return Plan(port=port, simulator_port=simulator_port, env=env, api_key=api_key)


def settings_problems(env: Mapping[str, str]) -> list[str]:
    """One sentence per bad setting, from the service's own settings class, as `chalice local` will
    load them: ``env`` with the stage's variables over it, and ``.env`` under both."""
    from chalicelib.settings import SettingsError, load_settings  # noqa: PLC0415

    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update({**env, **_stage_environment()})
    try:
        load_settings()
    except SettingsError as exc:
        return [problem.sentence() for problem in exc.problems]
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return []


def port_problem(name: str, port: int) -> str | None:
    """A sentence when something already listens on ``port`` (checked by binding it, as the server will)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return (
                f"Port {port} ({name}) is already in use on {HOST}; "
                f"stop what holds it or set {name} to a free port."
            )
    return None


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM if the runner dies without stopping us (Linux)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _start(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own tools, fixed arguments
        argv,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        process_group=0,  # its own group: Ctrl-C reaches the runner only, which stops the whole group
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - the runner has no threads
    )


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        code = process.poll()
        if code is not None:
            raise Failed(
                f"{what} exited with code {code} before listening on port {port}; see its output above."
            )
        with socket.socket() as probe:
            if probe.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.1)
    raise Failed(f"{what} did not listen on port {port} within {START_TIMEOUT_S:.0f} s.")


def _stop(processes: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
    """SIGTERM to each process group, then SIGKILL to whatever is left after STOP_TIMEOUT_S."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the stopping short
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for _, process in reversed(processes):
        if process.poll() is None:
            _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for _, process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()
        _signal_group(process, signal.SIGKILL)  # anything the process left behind in its group


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise Stop(signal.Signals(signum).name)


def _banner(running: Plan, upstream: str) -> str:
    base = f"http://{HOST}:{running.port}"
    lines = [
        "",
        f"  Service:   {base}  (Evolution: {upstream})",
        f"  API key:   {running.api_key}",
        f"  QR page:   {base}/connect/qr",
    ]
    if running.simulator_port is not None:
        instance = running.env.get("INSTANCE_NAME", DEFAULT_INSTANCE)
        lines.append(
            f"  Simulator: http://{HOST}:{running.simulator_port}/_sim/  "
            f"(scan: POST /_sim/instances/{instance}/scan)"
        )
    lines.append("  Ctrl-C stops everything.\n")
    return "\n".join(lines)


def simulator_argv(port: int, env: Mapping[str, str]) -> list[str]:
    """The simulator's command line (``--flag=value``: a generated key may start with a dash)."""
    return [
        sys.executable,
        "-m",
        "devtools.evolution_simulator",
        f"--host={HOST}",
        f"--port={port}",
        f"--api-key={env['EVOLUTION_API_KEY']}",
    ]


def run(running: Plan) -> None:
    """Start the simulator (if any) and `chalice local`; return when asked to stop, raise Failed otherwise."""
    processes: list[tuple[str, subprocess.Popen[bytes]]] = []
    try:
        if running.simulator_port is not None:
            simulator = _start(simulator_argv(running.simulator_port, running.env), running.env)
            processes.append(("the Evolution simulator", simulator))
            _wait_for_port(running.simulator_port, simulator, "the Evolution simulator")
        chalice = Path(sys.executable).with_name("chalice")
        service = _start(
            [
                str(chalice) if chalice.exists() else "chalice",
                "local",
                "--stage",
                STAGE,
                "--host",
                HOST,
                "--port",
                str(running.port),
                "--no-autoreload",
            ],
            running.env,
        )
        processes.append(("chalice local", service))
        _wait_for_port(running.port, service, "chalice local")
        upstream = (
            "the local Evolution simulator" if running.simulator_port else running.env["EVOLUTION_API_URL"]
        )
        print(_banner(running, upstream), flush=True)
        while True:
            for what, process in processes:
                code = process.poll()
                if code is not None:
                    raise Failed(f"{what} stopped by itself with code {code}; stopping everything.")
            time.sleep(0.2)
    finally:
        _stop(processes)


def main() -> int:
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    os.chdir(ROOT)  # where `chalice local` runs, and where `.env` and `.data/` are
    try:
        problems: list[str] = []
        running = plan(dict(os.environ), _dotenv(), problems)
        problems += settings_problems(running.env)
        ports = [("PORT", running.port)]
        if running.simulator_port is not None:
            ports.insert(0, ("SIMULATOR_PORT", running.simulator_port))
        problems += [p for p in (port_problem(name, port) for name, port in ports) if p]
        if problems:
            print("make run: cannot start.", *problems, sep="\n  ", file=sys.stderr)
            return EXIT_CANNOT_START
        run(running)
    except Stop:
        return 0
    except Failed as exc:
        print(f"make run: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
