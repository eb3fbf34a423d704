"""`make run`'s runner: settings checked before anything starts, busy ports, a child that fails,
and SIGINT/SIGTERM stopping both children. The e2e tests run the real runner in a copy of the
checkout on free ports; the others call its functions."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devtools import run_local
from tests.procs import free_port
from tests.runner import (
    Runner,
    alive,
    children_of,
    clean_env,
    copy_checkout,
    listening,
    processes_on_port,
    processes_with,
    run_to_exit,
    start_runner,
    two_free_ports,
)

CANNOT_START = "make run: cannot start."


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_checkout(tmp_path_factory.mktemp("checkout"))


def _problems(stderr: str) -> list[str]:
    lines = stderr.strip().splitlines()
    assert lines[0] == CANNOT_START, stderr
    return [line.strip() for line in lines[1:]]


@pytest.fixture
def listener() -> Iterator[int]:
    """A port something already listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


# -- refusing to start ----------------------------------------------------------------------------


@pytest.mark.e2e
def test_a_missing_setting_is_one_sentence_and_exit_2_before_anything_starts(checkout: Path) -> None:
    port = free_port()
    evolution = f"http://127.0.0.1:{free_port()}"
    done = run_to_exit(checkout, clean_env(EVOLUTION_API_URL=evolution, PORT=str(port)))
    assert done.returncode == 2
    assert _problems(done.stderr) == ["EVOLUTION_API_KEY is not set; it is required."]
    assert done.stdout == "", "no banner, no process output: nothing was started"
    assert not processes_on_port(port)


@pytest.mark.e2e
def test_every_invalid_setting_gets_its_own_sentence(checkout: Path) -> None:
    port, simulator_port = two_free_ports()
    env = clean_env(
        PORT="70000",
        SIMULATOR_PORT=str(simulator_port),
        INSTANCE_NAME="bad name!",
        EVOLUTION_SEND_TIMEOUT="99",
        ALERT_TOPIC_ARN="my-topic",
    )
    done = run_to_exit(checkout, env)
    assert done.returncode == 2
    problems = _problems(done.stderr)
    assert [p.split(" ")[0] for p in problems] == [
        "PORT",
        "INSTANCE_NAME",
        "ALERT_TOPIC_ARN",
        "EVOLUTION_SEND_TIMEOUT",
    ]
    assert all(p.endswith(".") for p in problems)
    assert not listening(simulator_port)
    assert done.stdout == ""


@pytest.mark.e2e
@pytest.mark.parametrize("busy", ["PORT", "SIMULATOR_PORT"])
def test_a_busy_port_is_one_sentence_and_a_non_zero_exit(checkout: Path, listener: int, busy: str) -> None:
    other = free_port()  # not the listener's: that one is taken
    ports = {"PORT": other, "SIMULATOR_PORT": other, busy: listener}
    done = run_to_exit(checkout, clean_env(**{k: str(v) for k, v in ports.items()}))
    assert done.returncode == 2
    assert _problems(done.stderr) == [
        f"Port {listener} ({busy}) is already in use on 127.0.0.1; stop what holds it or set {busy} to a free port."
    ]
    assert done.stdout == ""
    assert not processes_on_port(other)


@pytest.mark.e2e
def test_a_child_that_dies_at_startup_stops_the_other_and_exits_1(tmp_path: Path) -> None:
    broken = copy_checkout(tmp_path / "broken")
    (broken / "app.py").write_text("raise SystemExit('this app does not load')\n")
    port, simulator_port = two_free_ports()
    done = run_to_exit(broken, clean_env(PORT=str(port), SIMULATOR_PORT=str(simulator_port)))
    assert done.returncode == 1
    assert f"make run: chalice local exited with code 1 before listening on port {port}" in done.stderr
    assert not listening(simulator_port), "the simulator was stopped too"
    assert not processes_on_port(simulator_port)
    assert "Service:" not in done.stdout


# -- stopping ---------------------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_runner_alone_stops_both_children_and_frees_the_ports(
    checkout: Path, signum: int
) -> None:
    port, simulator_port = two_free_ports()
    runner: Runner = start_runner(checkout, clean_env(), port, simulator_port)
    try:
        runner.wait_until_serving()
        assert requests.get(f"http://127.0.0.1:{simulator_port}/_sim/", timeout=5).status_code == 200
        children = children_of(runner.process.pid)
        assert len(children) >= 2, children
        assert processes_on_port(port) and processes_on_port(simulator_port), "both found while running"
        assert runner.stop(signum) == 0
    finally:
        runner.stop(signal.SIGKILL)
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in children if alive(pid)], runner.output()
    assert not listening(port)
    assert not listening(simulator_port)
    assert not processes_on_port(port) and not processes_on_port(simulator_port)
    assert "Ctrl-C stops everything." in runner.output()


@pytest.mark.e2e
def test_a_child_that_stops_later_stops_the_runner_with_exit_1(checkout: Path) -> None:
    port, simulator_port = two_free_ports()
    runner = start_runner(checkout, clean_env(), port, simulator_port)
    try:
        runner.wait_until_serving()
        [simulator] = processes_with("devtools.evolution_simulator", f"--port={simulator_port}")
        os.kill(simulator, signal.SIGKILL)
        assert runner.process.wait(timeout=20) == 1
    finally:
        runner.stop(signal.SIGKILL)
    assert "the Evolution simulator stopped by itself" in runner.err.read_text()
    assert not listening(port)


# -- the checks, without processes ----------------------------------------------------------------


def test_the_settings_are_checked_as_chalice_local_will_load_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stage's LOG_LEVEL (.chalice/config.json) wins over the shell's, as in `chalice local`."""
    monkeypatch.chdir(run_local.ROOT)
    before = dict(os.environ)
    env = {
        "EVOLUTION_API_URL": "http://127.0.0.1:9",
        "EVOLUTION_API_KEY": "k",
        "INSTANCE_NAME": "x",
        "API_KEYS": "k",
        "WEBHOOK_SECRET": "s",
        "LOG_LEVEL": "LOUD",
    }
    assert run_local.settings_problems(env) == []
    assert run_local.settings_problems({**env, "INSTANCE_NAME": "bad name!"})[0].startswith(
        "INSTANCE_NAME is not valid"
    )
    assert dict(os.environ) == before, "the runner's own environment is left as it was"


def test_values_from_dotenv_are_kept_and_only_missing_ones_get_defaults(tmp_path: Path) -> None:
    problems: list[str] = []
    planned = run_local.plan(
        {"PORT": "9000"},
        {"API_KEYS": "first-key,second-key", "INSTANCE_NAME": "acme"},
        problems,
        data=tmp_path,
    )
    assert problems == []
    assert "API_KEYS" not in planned.env, "left for `chalice local` to read from .env, both keys"
    assert "INSTANCE_NAME" not in planned.env
    assert planned.api_key == "first-key"
    assert planned.env["PUBLIC_BASE_URL"] == "http://127.0.0.1:9000"
    assert planned.env["EVOLUTION_API_URL"] == "http://127.0.0.1:8081"
    assert planned.simulator_port == 8081
    assert planned.env["WEBHOOK_SECRET"] == (tmp_path / "dev-webhook-secret").read_text()
    again = run_local.plan({"PORT": "9000"}, {}, [], data=tmp_path)
    assert again.env["WEBHOOK_SECRET"] == planned.env["WEBHOOK_SECRET"], "kept from one run to the next"
    assert again.api_key == (tmp_path / "dev-api-key").read_text()


def test_a_real_evolution_server_means_no_simulator_and_no_simulator_port(tmp_path: Path) -> None:
    problems: list[str] = []
    planned = run_local.plan(
        {"EVOLUTION_API_URL": "https://evolution.example.com"}, {}, problems, data=tmp_path
    )
    assert planned.simulator_port is None
    assert "EVOLUTION_API_KEY" not in planned.env
    assert problems == []


@pytest.mark.parametrize("value", ["0", "65536", "http", "-1"])
def test_a_bad_port_is_a_problem_naming_it(tmp_path: Path, value: str) -> None:
    problems: list[str] = []
    run_local.plan({"SIMULATOR_PORT": value}, {}, problems, data=tmp_path)
    assert problems == ["SIMULATOR_PORT is not valid: it must be a whole number from 1 to 65535."]


def test_the_same_port_twice_is_a_problem(tmp_path: Path) -> None:
    problems: list[str] = []
    run_local.plan({"PORT": "9000", "SIMULATOR_PORT": "9000"}, {}, problems, data=tmp_path)
    assert problems == ["PORT and SIMULATOR_PORT are both 9000; give them different ports."]


def test_a_generated_key_that_starts_with_a_dash_reaches_the_simulator_intact() -> None:
    from devtools.evolution_simulator.__main__ import parse_args

    argv = run_local.simulator_argv(9081, {"EVOLUTION_API_KEY": "-starts-with-a-dash"})
    assert argv[:3] == [sys.executable, "-m", "devtools.evolution_simulator"]
    parsed = parse_args(argv[3:])
    assert parsed.api_key == "-starts-with-a-dash"
    assert parsed.port == 9081


def test_a_port_someone_listens_on_is_a_problem_and_a_free_one_is_not(listener: int) -> None:
    assert run_local.port_problem("PORT", listener) is not None
    assert run_local.port_problem("PORT", free_port()) is None
