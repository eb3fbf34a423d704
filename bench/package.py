"""The size of the deployment.zip ``chalice package --stage prod`` builds, and its dependencies' share."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from bench.report import Row, Section, ratio

GOAL_BYTES = 8 * 1024 * 1024
PROJECT_FILES = ("app.py", "requirements.txt", "chalicelib", "vendor", ".chalice/config.json")
OWN_CODE = ("app.py", "chalicelib/")


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


def run(root: Path) -> Section:
    chalice = Path(sys.executable).with_name("chalice")
    with tempfile.TemporaryDirectory(prefix="bench-package-") as tmp:
        project, out = Path(tmp) / "project", Path(tmp) / "out"
        _copy_project(root, project)
        env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
        done = subprocess.run(  # noqa: S603
            [str(chalice), "--project-dir", str(project), "package", "--stage", "prod", str(out)],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"chalice package failed:\n{done.stdout[-1000:]}{done.stderr[-2000:]}")
        archive = out / "deployment.zip"
        size = archive.stat().st_size
        with zipfile.ZipFile(archive) as zf:
            own = sum(i.compress_size for i in zf.infolist() if i.filename.startswith(OWN_CODE))
            stored = sum(i.compress_size for i in zf.infolist())
    deps = stored - own
    rows = [
        Row(
            "deployment.zip (prod), vs its dependencies", mib(size), mib(deps), ratio(size, deps), "<= 8 MiB"
        ),
    ]
    notes = [
        "deployment.zip: `chalice package --stage prod` of a copy of the project; baseline = the compressed "
        f"bytes of everything but app.py and chalicelib/ ({own / 1024:.0f} KiB of own code)",
    ]
    return Section(rows, notes)
