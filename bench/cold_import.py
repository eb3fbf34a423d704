"""Cold import: ``import app`` in fresh interpreters, against importing only its eager third-party imports."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import importtime
from bench.report import Row, Section, ms, ratio

ROUNDS = 7
GOAL = 1.3
# requirements.txt, by import name
# Imports the stdlib modules the app uses (some names in the tree are failed, platform-specific tries).
WARM_STDLIB = """
import importlib
for name in {modules!r}:
    try:
        importlib.import_module(name)
    except ImportError:
        pass
"""
RUNTIME_REQUIREMENTS = (
    "pydantic",
    "pydantic_settings",
    "requests",
    "phonenumbers",
    "jwt",
    "aws_lambda_powertools",
    "ulid",
)


@dataclass
class Timing:
    wall_s: list[float]
    importtime_us: list[int]

    @property
    def wall(self) -> float:
        return statistics.median(self.wall_s)

    @property
    def cumulative(self) -> float:
        return statistics.median(self.importtime_us) / 1e6


def _code(modules: list[str] | tuple[str, ...]) -> str:
    imports = f"import {', '.join(modules)}" if modules else "pass"
    return f"import sys; sys.stderr.write({importtime.MARKER!r} + '\\n'); {imports}"


def _env(cache_dir: str, *, write: bool) -> dict[str, str]:
    """Bytecode read from (and, if ``write``, written to) a private cache, the same for every program."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = cache_dir
    if not write:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _run(code: str, root: Path, env: dict[str, str], *, trace: bool) -> tuple[float, str]:
    args = [sys.executable, *(["-X", "importtime"] if trace else []), "-c", code]
    started = time.perf_counter()
    done = subprocess.run(args, cwd=root, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{code!r} failed:\n{done.stderr[-2000:]}")
    return elapsed, done.stderr


def _measure(programs: dict[str, str], root: Path, env: dict[str, str]) -> dict[str, Timing]:
    """Interleave the programs round by round so drift (and other load) hits them all alike."""
    timings = {name: Timing([], []) for name in programs}
    for _ in range(ROUNDS):
        for name, code in programs.items():
            timings[name].wall_s.append(_run(code, root, env, trace=False)[0])
            timings[name].importtime_us.append(importtime.top_level_us(_run(code, root, env, trace=True)[1]))
    return timings


def _pair(label: str, value: Timing, baseline: Timing, goal: str) -> list[Row]:
    return [
        Row(f"{label}, wall", ms(value.wall), ms(baseline.wall), ratio(value.wall, baseline.wall), goal),
        Row(
            f"{label}, importtime",
            ms(value.cumulative),
            ms(baseline.cumulative),
            ratio(value.cumulative, baseline.cumulative),
            goal,
        ),
    ]


def run(root: Path) -> Section:
    with tempfile.TemporaryDirectory(prefix="bench-pyc-") as warm, tempfile.TemporaryDirectory() as cold:
        warm_env, cold_env = _env(warm, write=True), _env(cold, write=False)
        _, trace = _run(_code(["app"]), root, warm_env, trace=True)  # also fills the warm cache
        eager = importtime.eager_third_party(trace)
        programs = {
            "app": _code(["app"]),
            "eager": _code(eager),
            "requirements": _code(RUNTIME_REQUIREMENTS),
            "empty": _code([]),
        }
        for code in programs.values():
            _run(code, root, warm_env, trace=False)
        t = _measure(programs, root, warm_env)
        # Lambda's runtime ships the standard library compiled, and nothing else: cache only stdlib.
        stdlib = importtime.stdlib_modules(trace)
        _run(WARM_STDLIB.format(modules=stdlib), root, _env(cold, write=True), trace=False)
        compiled = _measure({"app": programs["app"], "eager": programs["eager"]}, root, cold_env)
    goal = f"<= {GOAL}x"
    rows = [
        *_pair("cold import app vs eager deps", t["app"], t["eager"], goal),
        *_pair("cold import requirements.txt vs eager deps", t["requirements"], t["eager"], "info"),
        *_pair("cold import app vs eager deps, no .pyc", compiled["app"], compiled["eager"], "info"),
        Row("interpreter start (python -c pass), wall", ms(t["empty"].wall), "-", "-", "info"),
    ]
    notes = [
        f"cold import: median of {ROUNDS} fresh interpreters each, interleaved; wall = perf_counter around "
        "subprocess.run (includes interpreter start), importtime = -X importtime cumulative of the "
        "top imports; bytecode from a private warm PYTHONPYCACHEPREFIX",
        "eager deps (the baseline): `import " + ", ".join(eager) + "`, the third-party modules that app.py's "
        "import tree imports directly",
        "requirements.txt: `import " + ", ".join(RUNTIME_REQUIREMENTS) + "`",
        "no .pyc: every non-stdlib module compiled from source at import, as on Lambda (chalice "
        "package ships sources, /var/task is read-only; the runtime's stdlib is precompiled)",
    ]
    return Section(rows, notes)
