"""scripts/deploy.sh with stand-ins for python and chalice that record how they were called."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.scripts.conftest import REPO

SCRIPT = REPO / "scripts" / "deploy.sh"
BASH = shutil.which("bash") or "/bin/bash"
# A stand-in: appends "<tool> <args>" to $CALLS; fails when its arguments are listed in $FAIL.
STAND_IN = """#!/usr/bin/env bash
echo "$(basename "$0") $*" >> "$CALLS"
if [[ -n "${FAIL:-}" && "$*" == *"$FAIL"* ]]; then echo "stand-in failing: $*" >&2; exit 1; fi
"""


@dataclass
class Run:
    code: int
    out: str
    err: str
    calls: list[str]


Deploy = Callable[..., Run]


@pytest.fixture
def deploy(tmp_path: Path) -> Deploy:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("python", "chalice"):
        (bin_dir / tool).write_text(STAND_IN)
        (bin_dir / tool).chmod(0o755)
    calls = tmp_path / "calls"

    def run(*args: str, fail: str = "") -> Run:
        calls.write_text("")
        env = {
            "PATH": os.environ["PATH"],
            "CALLS": str(calls),
            "FAIL": fail,
            "PYTHON": str(bin_dir / "python"),
            "CHALICE": str(bin_dir / "chalice"),
        }
        done = subprocess.run(  # noqa: S603 - our own script, fixed arguments
            [BASH, str(SCRIPT), *args], env=env, capture_output=True, text=True, check=False
        )
        return Run(done.returncode, done.stdout, done.stderr, calls.read_text().splitlines())

    return run


PROVISION = f"python {REPO}/scripts/provision.py"


def test_deploy_sh_parses() -> None:
    subprocess.run([BASH, "-n", str(SCRIPT)], check=True)  # noqa: S603


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_deploy_sh_is_shellcheck_clean() -> None:
    done = subprocess.run(  # noqa: S603
        [str(shutil.which("shellcheck")), str(SCRIPT)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout


def test_deploy_sh_is_executable() -> None:
    assert os.access(SCRIPT, os.X_OK)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "deploy <stage>"),
        (("deploy",), "deploy needs a stage"),
        (("deploy", "staging"), "stage must be dev or prod, not 'staging'"),
        (("publish", "dev"), "unknown command 'publish'"),
        (("deploy", "dev", "--force"), "deploy takes no options"),
        (("logs", "dev", "--name", "nope"), "unknown function 'nope'"),
        (("logs", "dev", "--follow"), "--follow watches one function"),
        (("remove", "dev", "--yes"), "unknown remove option: --yes"),
        (("remove", "prod", "--delete-table"), "the prod table is never deleted by this script"),
    ],
)
def test_a_wrong_call_runs_nothing_and_exits_2(deploy: Deploy, args: tuple[str, ...], message: str) -> None:
    run = deploy(*args)

    assert run.code == 2
    assert message in run.err
    assert run.calls == []


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_deploy_checks_the_secrets_ensures_the_table_then_deploys(deploy: Deploy, stage: str) -> None:
    run = deploy("deploy", stage)

    assert run.code == 0, run.err
    assert run.calls[:2] == [f"{PROVISION} check {stage}", f"{PROVISION} ensure {stage}"]
    package, compile_it, deploy_it, after = run.calls[2:]
    built = re.fullmatch(rf"chalice package --stage {stage} (\S+/deploy-package\.\w+/package)", package)
    assert built, package
    assert compile_it == f"python {REPO}/scripts/compile_package.py {built.group(1)} --chalice-cache {REPO}"
    assert deploy_it == f"chalice deploy --stage {stage}"
    assert after == f"{PROVISION} after-deploy {stage}"  # partial batch failures on the worker's mapping
    assert not Path(built.group(1)).parent.exists(), "the temporary package folder is removed"


@pytest.mark.parametrize("failing", ["package --stage dev", "compile_package.py"])
def test_deploy_stops_when_the_package_or_its_bytecode_cannot_be_built(deploy: Deploy, failing: str) -> None:
    run = deploy("deploy", "dev", fail=failing)

    assert run.code == 1
    assert not any(call.startswith("chalice deploy") for call in run.calls)


def test_deploy_stops_when_a_secret_is_missing(deploy: Deploy) -> None:
    run = deploy("deploy", "prod", fail="check prod")

    assert run.code == 1
    assert run.calls == [f"{PROVISION} check prod"]


def test_deploy_stops_when_the_table_cannot_be_ensured(deploy: Deploy) -> None:
    run = deploy("deploy", "dev", fail="ensure dev")

    assert run.code == 1
    assert run.calls[-1] == f"{PROVISION} ensure dev"


def test_logs_shows_the_api_handler_and_the_health_job(deploy: Deploy) -> None:
    run = deploy("logs", "prod", "--since", "1h")

    assert run.code == 0, run.err
    assert run.calls == [
        "chalice logs --stage prod --name api_handler --since 1h",
        "chalice logs --stage prod --name health_check --since 1h",
    ]
    assert "== api_handler ==" in run.out


def test_logs_follows_one_named_function(deploy: Deploy) -> None:
    run = deploy("logs", "dev", "--name", "health_check", "--follow")

    assert run.code == 0, run.err
    assert run.calls == ["chalice logs --stage dev --name health_check --follow"]


def test_remove_prod_keeps_the_table_and_says_how_to_delete_it(deploy: Deploy) -> None:
    run = deploy("remove", "prod")

    assert run.code == 0, run.err
    assert run.calls == ["chalice delete --stage prod"]
    assert "whatsapp-evolution-prod" in run.out
    assert "aws dynamodb delete-table --table-name whatsapp-evolution-prod" in run.out
    assert "--no-deletion-protection-enabled" in run.out


def test_remove_dev_keeps_the_table_unless_asked(deploy: Deploy) -> None:
    kept = deploy("remove", "dev")
    deleted = deploy("remove", "dev", "--delete-table")

    assert kept.calls == ["chalice delete --stage dev"]
    assert "--delete-table" in kept.out
    assert deleted.code == 0, deleted.err
    assert deleted.calls == ["chalice delete --stage dev", f"{PROVISION} delete-table dev"]


def test_remove_keeps_the_table_when_chalice_delete_fails(deploy: Deploy) -> None:
    run = deploy("remove", "dev", "--delete-table", fail="delete --stage dev")

    assert run.code == 1
    assert run.calls == ["chalice delete --stage dev"]
