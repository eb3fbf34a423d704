"""Cold import of the *packaged* app, as Lambda runs it: the deployment.zip unpacked into a folder
nothing may write to, imported by fresh interpreters that write no bytecode, with the package's
bytecode and without it (as chalice ships it), against its eager dependencies alone."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from bench import importtime
from bench.cold_import import _code
from bench.package import Built
from bench.report import Row, Section, ms, ratio

GOAL = 1.3
ROUNDS = 11


@dataclass
class Timing:
    """Per round: wall time, the child's CPU time (user + system) and its -X importtime total."""

    wall_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    importtime_us: list[int] = field(default_factory=list)

    def median(self, what: str) -> float:
        if what == "importtime":
            return statistics.median(self.importtime_us) / 1e6
        return statistics.median(self.wall_s if what == "wall" else self.cpu_s)


def _env() -> dict[str, str]:
    """No cache prefix, no writing: only the bytecode the folder holds (and the stdlib's) is used."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPYCACHEPREFIX", "PYTHONPATH")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _run(code: str, folder: Path, *, trace: bool) -> tuple[float, float, str]:
    """Wall seconds, the child's CPU seconds and its stderr."""
    # -S: no site-packages, so every third-party module comes from the package, as in /var/task
    args = [sys.executable, "-S", *(["-X", "importtime"] if trace else []), "-c", code]
    started = time.perf_counter()
    child = subprocess.Popen(  # noqa: S603
        args, cwd=folder, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    stderr = child.stderr.read() if child.stderr else ""
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.stderr:
        child.stderr.close()
    if child.returncode != 0:
        raise RuntimeError(f"{code!r} in {folder} failed:\n{stderr[-2000:]}")
    return elapsed, usage.ru_utime + usage.ru_stime, stderr


def _unpack(archive: Path, folder: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(folder)
    for path in [folder, *folder.rglob("*")]:
        path.chmod(path.stat().st_mode & 0o555)  # read-only, as /var/task


def _files(folder: Path) -> int:
    return sum(1 for _ in folder.rglob("*"))


def _measure(programs: dict[str, tuple[str, Path]]) -> dict[str, Timing]:
    """Interleave the programs round by round so drift (and other load) hits them all alike."""
    timings = {name: Timing() for name in programs}
    for _ in range(ROUNDS):
        for name, (code, folder) in programs.items():
            wall, cpu, _ = _run(code, folder, trace=False)
            timings[name].wall_s.append(wall)
            timings[name].cpu_s.append(cpu)
            timings[name].importtime_us.append(importtime.top_level_us(_run(code, folder, trace=True)[2]))
    return timings


def _rows(label: str, value: Timing, baseline: Timing, goal: str, measures: tuple[str, ...]) -> list[Row]:
    rows = []
    for what in measures:
        v, b = value.median(what), baseline.median(what)
        rows.append(Row(f"{label}, {what}", ms(v), ms(b), ratio(v, b), goal))
    return rows


def run(built: Built) -> Section:
    with tempfile.TemporaryDirectory(prefix="bench-packaged-") as tmp:
        compiled, plain = Path(tmp) / "compiled", Path(tmp) / "sources-only"
        _unpack(built.compiled, compiled)
        _unpack(built.sources_only, plain)
        before = {folder: _files(folder) for folder in (compiled, plain)}
        _, _, trace = _run(_code(["app"]), compiled, trace=True)
        eager = importtime.eager_third_party(trace)
        programs = {
            "app": (_code(["app"]), compiled),
            "eager": (_code(eager), compiled),
            "app, no bytecode": (_code(["app"]), plain),
            "eager, no bytecode": (_code(eager), plain),
        }
        t = _measure(programs)
        written = {folder.name: _files(folder) - count for folder, count in before.items()}
        if any(written.values()):
            raise RuntimeError(f"importing wrote files into the read-only package folders: {written}")
        for folder in (compiled, plain):  # let the temporary folder be removed
            for path in [folder, *folder.rglob("*")]:
                path.chmod(path.stat().st_mode | 0o200)
    goal = f"<= {GOAL}x"
    every = ("wall", "cpu", "importtime")
    rows: list[Row] = [
        *_rows("cold import of the packaged app (bytecode) vs eager deps", t["app"], t["eager"], goal, every),
        *_rows("same, as chalice ships it (no bytecode)", t["app, no bytecode"], t["eager"], "info", every),
        *_rows("eager deps, no bytecode vs with", t["eager, no bytecode"], t["eager"], "info", ("cpu",)),
    ]
    notes = [
        "packaged app: the deployment.zip above unpacked into a read-only folder and imported by fresh "
        "`python -S` interpreters (no site-packages: every third-party module from the package) with "
        f"PYTHONDONTWRITEBYTECODE=1, median of {ROUNDS}, interleaved; cpu = the child's user + system "
        "time (less moved by other load than wall); no file was written into the folders",
        "bytecode: the unchecked-hash pycs scripts/compile_package.py adds; no bytecode: the zip as "
        "`chalice package` ships it, so every module is compiled at import (the stdlib is precompiled, as "
        "in Lambda's runtime)",
        "eager deps (the baseline, from the package with its bytecode): `import " + ", ".join(eager) + "`",
    ]
    return Section(rows, notes)
