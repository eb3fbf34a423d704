"""scripts/compile_package.py: bytecode in the deployment package, used from a read-only folder."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.scripts.conftest import REPO, _load

compile_package = _load("compile_package")
SCRIPT = REPO / "scripts" / "compile_package.py"
HERE = f"python{sys.version_info.major}.{sys.version_info.minor}"
TAG = sys.implementation.cache_tag
SOURCES = {
    "app.py": "import lib\nfrom lib import helper\nVALUE = helper.answer()\n",
    "lib/__init__.py": "",
    "lib/helper.py": "def answer():\n    return 42\n\ndef fail():\n    raise ValueError('from the package')\n",
    "pydantic/__init__.py": "",
    "pydantic/v1/__init__.py": "",
    "pydantic/v1/old.py": "OLD = 1\n",
    "py2only.py": "print 'python 2'\n",
    "data/readme.txt": "not python\n",
}


def _sam(*runtimes: str) -> dict[str, object]:
    return {
        "Resources": {
            f"Fn{i}": {"Type": "AWS::Serverless::Function", "Properties": {"Runtime": runtime}}
            for i, runtime in enumerate(runtimes)
        }
    }


def _package(folder: Path, *runtimes: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sam.json").write_text(json.dumps(_sam(*(runtimes or (HERE, HERE)))))
    with zipfile.ZipFile(folder / "deployment.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in SOURCES.items():
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = 0o100644 << 16
            zf.writestr(info, text)
    return folder


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False
    )


def _names(archive: Path) -> set[str]:
    with zipfile.ZipFile(archive) as zf:
        return set(zf.namelist())


def _unpack_read_only(archive: Path, folder: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(folder)
    for path in [folder, *folder.rglob("*")]:
        path.chmod(path.stat().st_mode & 0o555)


def test_every_module_gets_an_unchecked_hash_pyc_beside_its_source(tmp_path: Path) -> None:
    package = _package(tmp_path / "pkg")
    done = _run(str(package))
    assert done.returncode == 0, done.stderr
    names = _names(package / "deployment.zip")
    assert {f"__pycache__/app.{TAG}.pyc", f"lib/__pycache__/__init__.{TAG}.pyc"} <= names
    assert f"lib/__pycache__/helper.{TAG}.pyc" in names
    assert set(SOURCES) <= names, "the sources stay"
    with zipfile.ZipFile(package / "deployment.zip") as zf:
        flags = int.from_bytes(zf.read(f"__pycache__/app.{TAG}.pyc")[4:8], "little")
        mode = zf.getinfo(f"__pycache__/app.{TAG}.pyc").external_attr >> 16
    assert flags == 0b01, "hash-based and unchecked: used without looking at the source's timestamp"
    assert mode & 0o444 == 0o444
    assert "modules compiled for " + HERE in done.stdout


def test_unused_dependency_subtrees_stay_sources_but_their_package_inits_are_compiled(tmp_path: Path) -> None:
    package = _package(tmp_path / "pkg")
    assert _run(str(package)).returncode == 0
    names = _names(package / "deployment.zip")
    assert f"pydantic/v1/__pycache__/__init__.{TAG}.pyc" in names
    assert f"pydantic/v1/__pycache__/old.{TAG}.pyc" not in names


def test_a_file_that_is_not_valid_python_here_is_left_as_source(tmp_path: Path) -> None:
    package = _package(tmp_path / "pkg")
    done = _run(str(package))
    assert done.returncode == 0
    assert "1 left as source" in done.stdout
    assert not any(name.startswith("__pycache__/py2only") for name in _names(package / "deployment.zip"))


def test_the_packaged_modules_load_from_their_pycs_in_a_read_only_folder(tmp_path: Path) -> None:
    package = _package(tmp_path / "pkg")
    assert _run(str(package)).returncode == 0
    task = tmp_path / "task"
    _unpack_read_only(package / "deployment.zip", task)
    before = sorted(str(p) for p in task.rglob("*"))
    code = (
        "import app, lib.helper, traceback\n"
        "try:\n    lib.helper.fail()\n"
        "except ValueError:\n    print(traceback.format_exc())\n"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter, fixed code
        [sys.executable, "-S", "-v", "-c", code],
        cwd=task,
        env={"PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    loaded = [line for line in done.stderr.splitlines() if line.startswith("# code object from")]
    for module in (f"__pycache__/app.{TAG}.pyc", f"lib/__pycache__/helper.{TAG}.pyc"):
        assert any(line.endswith(f"{module}'") or line.endswith(module) for line in loaded), (module, loaded)
    assert f'"{task}/lib/helper.py", line 5' in done.stdout, "tracebacks name the real file and line"
    assert sorted(str(p) for p in task.rglob("*")) == before, "nothing was written"


def test_a_second_run_changes_nothing(tmp_path: Path) -> None:
    package = _package(tmp_path / "pkg")
    assert _run(str(package)).returncode == 0
    first = (package / "deployment.zip").read_bytes()
    assert _run(str(package)).returncode == 0
    assert (package / "deployment.zip").read_bytes() == first


@pytest.mark.parametrize("runtimes", [("python3.9",), (HERE, "python3.12")])
def test_a_runtime_other_than_this_python_is_refused_and_the_zip_left_alone(
    tmp_path: Path, runtimes: tuple[str, ...]
) -> None:
    package = _package(tmp_path / "pkg", *runtimes)
    before = (package / "deployment.zip").read_bytes()
    done = _run(str(package))
    assert done.returncode == 2
    assert done.stderr.startswith("compile_package: sam.json's functions run ")
    assert f"but this is {HERE}" in done.stderr
    assert (package / "deployment.zip").read_bytes() == before


def test_the_runtime_check_reads_globals_and_every_function() -> None:
    template = {
        "Globals": {"Function": {"Runtime": "python3.11"}},
        "Resources": {
            "A": {"Type": "AWS::Serverless::Function", "Properties": {}},
            "B": {"Type": "AWS::Lambda::Function", "Properties": {"Runtime": "python3.12"}},
            "T": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
        },
    }
    assert compile_package.runtimes(template) == {"python3.11", "python3.12"}
    with pytest.raises(compile_package.PackageError):
        compile_package.check_runtimes(template, (3, 11))
    with pytest.raises(compile_package.PackageError, match="no Lambda function"):
        compile_package.check_runtimes({"Resources": {}}, (3, 11))


def test_a_missing_package_is_one_sentence_and_exit_2(tmp_path: Path) -> None:
    done = _run(str(tmp_path))
    assert done.returncode == 2
    assert "sam.json is missing" in done.stderr


def test_the_cached_package_chalice_deploy_reuses_is_compiled_too(tmp_path: Path) -> None:
    package = _package(tmp_path / "pkg")
    cache = tmp_path / "project" / ".chalice" / "deployments"
    cache.mkdir(parents=True)
    (cache / "0123-other.zip").write_bytes(b"not it")
    cached = cache / "abcd-python3.11.zip"
    cached.write_bytes((package / "deployment.zip").read_bytes())
    done = _run(str(package), "--chalice-cache", str(tmp_path / "project"))
    assert done.returncode == 0, done.stderr
    assert cached.read_bytes() == (package / "deployment.zip").read_bytes()
    assert f"__pycache__/app.{TAG}.pyc" in _names(cached)
    assert (cache / "0123-other.zip").read_bytes() == b"not it"


def test_without_the_cached_package_nothing_is_compiled(tmp_path: Path) -> None:
    package = _package(tmp_path / "pkg")
    before = (package / "deployment.zip").read_bytes()
    done = _run(str(package), "--chalice-cache", str(tmp_path / "nowhere"))
    assert done.returncode == 2
    assert "is the one deployment.zip was copied from" in done.stderr
    assert (package / "deployment.zip").read_bytes() == before


def test_nothing_the_service_imports_is_left_uncompiled() -> None:
    """The app, every chalicelib module, the logger, the job's metrics, the jobs worker's SQS batch
    processing and phone parsing: every module they load from the dependencies would get its pyc
    (NOT_COMPILED leaves none of them out), but a country's phone metadata, compiled on first use."""
    code = """
import importlib, json, pkgutil, sys, sysconfig
import app, chalicelib
for found in pkgutil.walk_packages(chalicelib.__path__, "chalicelib."):
    importlib.import_module(found.name)
from chalicelib.logs import get_logger
get_logger()
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
import phonenumbers
for number in ("+5511999999999", "+491701234567", "+14155552671"):
    phonenumbers.is_valid_number(phonenumbers.parse(number))
root = sysconfig.get_paths()["purelib"] + "/"
print(json.dumps(sorted(
    m.__file__[len(root):] for m in list(sys.modules.values())
    if getattr(m, "__file__", None) and m.__file__.startswith(root) and m.__file__.endswith(".py")
)))
"""
    done = subprocess.run(  # noqa: S603 - our own interpreter, fixed code
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.splitlines()[-1])
    assert any(name.startswith("pydantic/") for name in loaded)
    regions = [name for name in loaded if name.startswith("phonenumbers/data/region_")]
    assert regions and not any(compile_package.compiled(name) for name in regions)
    assert [name for name in loaded if not compile_package.compiled(name) and name not in regions] == []
