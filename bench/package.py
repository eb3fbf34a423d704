"""The deployment package: ``chalice package --stage prod`` of a copy of the project, then the bytecode
``make package`` adds (scripts/compile_package.py); its size, and its dependencies' share."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from bench.report import Row, Section, ratio

GOAL_BYTES = 8 * 1024 * 1024
PROJECT_FILES = ("app.py", "requirements.txt", "chalicelib", "vendor", ".chalice/config.json")
OWN_CODE = ("app.py", "chalicelib/", "__pycache__/app.")


@dataclass(frozen=True)
class Built:
    """The package as chalice ships it (sources only) and as ``make package`` ships it (with bytecode)."""

    sources_only: Path
    compiled: Path


def mib(size: int) -> str:
    return f"{size / 1024 / 1024:.2f} MiB"


def _copy_project(root: Path, into: Path) -> None:
    """A copy to package, so chalice's zip cache does not land in the working tree."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in PROJECT_FILES:
        source = root / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=ignore)
        elif source.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
    for policy in (root / ".chalice").glob("policy-*.json"):
        shutil.copy2(policy, into / ".chalice" / policy.name)


def _run(argv: list[str], cwd: Path, what: str) -> None:
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{done.stdout[-1000:]}{done.stderr[-2000:]}")


def build(root: Path, work: Path) -> Built:
    """Package a copy of ``root`` under ``work``, keep the sources-only zip, then compile it."""
    chalice = Path(sys.executable).with_name("chalice")
    project, out = work / "project", work / "out"
    _copy_project(root, project)
    _run(
        [str(chalice), "--project-dir", str(project), "package", "--stage", "prod", str(out)],
        project,
        "chalice",
    )
    sources_only = work / "sources-only.zip"
    shutil.copyfile(out / "deployment.zip", sources_only)
    _run(
        [
            sys.executable,
            str(root.resolve() / "scripts" / "compile_package.py"),
            str(out),
            "--chalice-cache",
            str(project),
        ],
        project,
        "compile_package.py",
    )
    return Built(sources_only=sources_only, compiled=out / "deployment.zip")


def _own_and_stored(archive: Path) -> tuple[int, int]:
    with zipfile.ZipFile(archive) as zf:
        own = sum(i.compress_size for i in zf.infolist() if i.filename.startswith(OWN_CODE))
        stored = sum(i.compress_size for i in zf.infolist())
    return own, stored


def run(built: Built) -> Section:
    size = built.compiled.stat().st_size
    own, stored = _own_and_stored(built.compiled)
    deps = stored - own
    plain = built.sources_only.stat().st_size
    rows = [
        Row(
            "deployment.zip (prod, with bytecode), vs its dependencies",
            mib(size),
            mib(deps),
            ratio(size, deps),
            "<= 8 MiB",
        ),
        Row("deployment.zip as chalice ships it (sources only)", mib(plain), "-", "-", "info"),
    ]
    notes = [
        "deployment.zip: `chalice package --stage prod` of a copy of the project, then "
        "scripts/compile_package.py (as `make package` and scripts/deploy.sh do); baseline = the "
        f"compressed bytes of everything but app.py and chalicelib/ and their bytecode ({own / 1024:.0f} KiB "
        "of own code)",
    ]
    return Section(rows, notes)
