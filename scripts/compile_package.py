"""Ship compiled bytecode in chalice's deployment package, so a cold start does not compile every module.

    python scripts/compile_package.py PACKAGE_DIR [--chalice-cache PROJECT_DIR]

PACKAGE_DIR is what ``chalice package`` wrote (``sam.json`` + ``deployment.zip``). Lambda unpacks the
zip into ``/var/task``, which is read-only, and ``chalice package``/``deploy`` ship sources only, so
without this every cold start compiles every module it imports and can cache none of them. This adds,
beside each ``.py`` in the zip, ``__pycache__/<name>.<cache tag>.pyc`` compiled as *unchecked-hash*
pycs: Python uses them without comparing them with the source's timestamp (which a zip does not keep
faithfully) and never tries to rewrite them. (Tracebacks still name the file where it is found.)

A pyc is only good for the Python minor version that wrote it, so the script refuses (exit 2) unless
every function in ``sam.json`` runs on this interpreter's version (chalice picks the runtime from the
Python that runs it: run both with the same one, as ``make package`` does).

With ``--chalice-cache``, the zip in ``PROJECT_DIR/.chalice/deployments/`` that ``deployment.zip`` was
copied from is replaced by the compiled one too. ``chalice deploy`` reuses that cached package (it is
named after a hash of the sources and requirements, which compiling does not change), so the next
``chalice deploy`` ships the bytecode as well; ``scripts/deploy.sh`` relies on this.

Subtrees of the dependencies that the service never imports are left as sources (``NOT_COMPILED``;
their package ``__init__`` modules are compiled all the same): the pycs would only make the zip
larger. ``tests/scripts/test_compile_package.py`` imports the app, every chalicelib module and
what the routes and the job load, and fails if any of them would be left uncompiled.

Running it again on a compiled package changes nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import py_compile
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

LAMBDA_TASK_ROOT = "/var/task"
FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
PYC_DATE = (1980, 1, 1, 0, 0, 0)  # fixed, so the same sources give the same zip
PYC_MODE = 0o100644 << 16  # a regular file, readable by the runtime's user
NOT_COMPILED = (
    "pydantic/v1/",  # pydantic 1's compatibility copy: pydantic 2 loads it only when asked to
    "aws_lambda_powertools/event_handler/",  # the service routes with chalice, not Powertools
    "aws_lambda_powertools/utilities/",  # parser, idempotency, parameters...: unused (but COMPILED_ANYWAY)
    "phonenumbers/shortdata/",  # short-number metadata: the service parses full numbers only
    # One metadata module per country, imported the first time a number of that country is parsed:
    # compiled then, once per container (about a millisecond each); keeps the zip under 8 MiB.
    "phonenumbers/data/region_",
)
COMPILED_ANYWAY = (  # inside a NOT_COMPILED subtree, but loaded: the jobs worker's SQS batches
    "aws_lambda_powertools/utilities/batch/",
    "aws_lambda_powertools/utilities/data_classes/",
    "aws_lambda_powertools/utilities/jmespath_utils/",
    *(  # what the batch processor imports of the parser when pydantic is installed
        f"aws_lambda_powertools/utilities/parser/{name}.py" for name in ("exceptions", "functions", "parser")
    ),
    *(
        f"aws_lambda_powertools/utilities/parser/models/{name}.py"
        for name in ("dynamodb", "sqs", "cloudwatch", "kinesis", "kafka")
    ),
)


class PackageError(Exception):
    """The package cannot be compiled; the message is one sentence."""


@dataclass(frozen=True)
class Compiled:
    modules: int
    failed: list[str]


def runtimes(template: dict[str, Any]) -> set[str]:
    """The Lambda runtime of every function in a SAM/CloudFormation template."""
    default = template.get("Globals", {}).get("Function", {}).get("Runtime")
    found = set()
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") in FUNCTION_TYPES:
            runtime = resource.get("Properties", {}).get("Runtime", default)
            found.add(str(runtime))
    return found


def expected_runtime(version: tuple[int, int] | None = None) -> str:
    major, minor = version or sys.version_info[:2]
    return f"python{major}.{minor}"


def check_runtimes(template: dict[str, Any], version: tuple[int, int] | None = None) -> None:
    """Raise unless every function runs on the Python this interpreter compiles for."""
    wanted = expected_runtime(version)
    found = runtimes(template)
    if not found:
        raise PackageError("sam.json declares no Lambda function, so there is nothing to compile for.")
    if found != {wanted}:
        raise PackageError(
            f"sam.json's functions run {', '.join(sorted(found))} but this is {wanted}, and bytecode is "
            f"only good for the Python that wrote it; package and compile with the same Python."
        )


def pyc_name(source: str, cache_tag: str | None = None) -> str:
    """``chalicelib/settings.py`` → ``chalicelib/__pycache__/settings.cpython-311.pyc``."""
    path = PurePosixPath(source)
    tag = cache_tag or sys.implementation.cache_tag
    return str(path.parent / "__pycache__" / f"{path.stem}.{tag}.pyc")


def compiled(name: str) -> bool:
    """Whether the module at ``name`` (a path in the zip) gets a pyc."""
    path = PurePosixPath(name)
    if path.suffix != ".py" or "__pycache__" in path.parts:
        return False
    return path.name == "__init__.py" or name.startswith(COMPILED_ANYWAY) or not name.startswith(NOT_COMPILED)


def _sources(archive: zipfile.ZipFile) -> list[str]:
    return [name for name in archive.namelist() if compiled(name)]


def compile_zip(source: Path, target: Path) -> Compiled:
    """Write ``target``: every entry of ``source`` (earlier pycs dropped) plus a fresh pyc per module."""
    failed: list[str] = []
    compiled: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="compile-package-") as tmp, zipfile.ZipFile(source) as archive:
        work = Path(tmp)
        for name in _sources(archive):
            path = work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(archive.read(name))
            out = work / "pyc" / pyc_name(name)
            try:
                py_compile.compile(
                    str(path),
                    cfile=str(out),
                    dfile=f"{LAMBDA_TASK_ROOT}/{name}",
                    doraise=True,
                    invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
                )
            except py_compile.PyCompileError:
                failed.append(name)  # e.g. a file a dependency ships for another Python; imported never
                continue
            compiled[pyc_name(name)] = out
        partial = target.with_name(target.name + ".partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as out_zip:
            for info in archive.infolist():
                if info.filename.endswith(".pyc"):
                    continue  # replaced by the ones compiled now
                out_zip.writestr(info, archive.read(info.filename))
            for name, path in sorted(compiled.items()):
                info = zipfile.ZipInfo(name, date_time=PYC_DATE)
                info.external_attr = PYC_MODE
                info.compress_type = zipfile.ZIP_DEFLATED
                out_zip.writestr(info, path.read_bytes(), compresslevel=9)
        partial.replace(target)
    return Compiled(modules=len(compiled), failed=failed)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def chalice_cache_entry(project_dir: Path, package: Path) -> Path:
    """The zip in chalice's package cache that ``package`` is a copy of."""
    digest = _sha256(package)
    cache = project_dir / ".chalice" / "deployments"
    for candidate in sorted(cache.glob("*.zip")) if cache.is_dir() else []:
        if candidate.stat().st_size == package.stat().st_size and _sha256(candidate) == digest:
            return candidate
    raise PackageError(
        f"No zip in {cache} is the one deployment.zip was copied from; "
        "run chalice package from that project first."
    )


def compile_package(package_dir: Path, chalice_project: Path | None = None) -> Compiled:
    """Check the runtime, compile ``deployment.zip`` in place and, if asked, chalice's cached copy."""
    sam = package_dir / "sam.json"
    archive = package_dir / "deployment.zip"
    for needed in (sam, archive):
        if not needed.is_file():
            raise PackageError(f"{needed} is missing; give the folder chalice package wrote.")
    check_runtimes(json.loads(sam.read_text()))
    cached = chalice_cache_entry(chalice_project, archive) if chalice_project is not None else None
    result = compile_zip(archive, archive)
    if cached is not None:
        shutil.copyfile(archive, cached)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("package_dir", type=Path, help="the folder chalice package wrote")
    parser.add_argument(
        "--chalice-cache",
        type=Path,
        metavar="PROJECT_DIR",
        help="also compile the cached package chalice deploy reuses, in PROJECT_DIR/.chalice/deployments",
    )
    args = parser.parse_args(argv)
    try:
        result = compile_package(args.package_dir, args.chalice_cache)
    except PackageError as exc:
        print(f"compile_package: {exc}", file=sys.stderr)
        return 2
    skipped = (
        f", {len(result.failed)} left as source (not valid {expected_runtime()})" if result.failed else ""
    )
    print(
        f"compile_package: {result.modules} modules compiled for {expected_runtime()} into "
        f"{args.package_dir / 'deployment.zip'}{skipped}"
        + (" and chalice's cached package" if args.chalice_cache else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
