"""Prepare a stage for `chalice deploy`: its DynamoDB table, its STORE_URL, a check of its secrets.

Usage: python scripts/provision.py ensure|check|delete-table <stage>      (stage: dev or prod)

  ensure        create the table `whatsapp-evolution-<stage>` if missing (idempotent; TTL on
                `expires_at`; prod: point-in-time recovery and deletion protection), and, for a stage
                whose `.chalice/config.json` sets no STORE_URL, the String parameter
                `<prefix>/STORE_URL` naming it
  check         exit 1 listing the required SSM parameters missing under the stage's prefix (never
                reading their values)
  delete-table  delete the dev table (refused for prod: do that by hand)
  after-deploy  switch partial batch failures on for the jobs worker's SQS mapping

`ensure` also creates the job queues and writes `<prefix>/JOBS_QUEUE_URL` (scripts/provision_queues.py),
and the media bucket with `<prefix>/MEDIA_BUCKET` (scripts/provision_media.py; its objects expire after
`MEDIA_RETENTION_DAYS` from the environment, default 90).

Each function takes its boto3 client keyword-only, so the tests pass moto's.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chalicelib.settings import SECRET_FIELDS  # noqa: E402
from chalicelib.store.dynamodb.table import TABLE_DEFINITION, TTL_ATTRIBUTE  # noqa: E402
from scripts import provision_media, provision_queues  # noqa: E402

APP_NAME = "whatsapp-evolution"
STAGES = ("dev", "prod")
PROTECTED_STAGES = ("prod",)  # point-in-time recovery, deletion protection, never deleted by script
REQUIRED_PARAMETERS = (
    "EVOLUTION_API_URL",
    "EVOLUTION_API_KEY",
    "INSTANCE_NAME",
    "API_KEYS",
    "WEBHOOK_SECRET",
    "EVENTS_SIGNING_KEY",
)
SECRETS = (*SECRET_FIELDS, "EVENTS_SIGNING_KEY")
CONFIG_FILE = ROOT / ".chalice" / "config.json"
WAIT = {"Delay": 2, "MaxAttempts": 90}  # up to 3 minutes for a table to become ACTIVE
BACKUP_ATTEMPTS = 10  # PITR cannot be switched on for a few seconds after a table is created


class ProvisionError(Exception):
    """The stage cannot be prepared as asked; the message says why and what to do."""


def table_name(stage: str) -> str:
    """The stage's table (the name its `.chalice/policy-<stage>.json` grants access to)."""
    _check_stage(stage)
    return f"{APP_NAME}-{stage}"


def store_url(stage: str) -> str:
    return f"dynamodb://{table_name(stage)}"


def stage_environment(stage: str, config_file: Path = CONFIG_FILE) -> dict[str, str]:
    """The environment variables `.chalice/config.json` gives the stage (top level, then stage)."""
    _check_stage(stage)
    config = json.loads(config_file.read_text())
    stage_config = config.get("stages", {}).get(stage, {})
    return {**config.get("environment_variables", {}), **stage_config.get("environment_variables", {})}


def parameter_prefix(stage: str, config_file: Path = CONFIG_FILE) -> str:
    """The stage's SSM_PARAMETER_PREFIX from `.chalice/config.json`, as `/a/b` (no trailing slash)."""
    prefix = stage_environment(stage, config_file).get("SSM_PARAMETER_PREFIX", "")
    if not prefix.strip("/"):
        raise ProvisionError(f"stage {stage!r} has no SSM_PARAMETER_PREFIX in {config_file}")
    return "/" + prefix.strip("/")


# -- the table -------------------------------------------------------------------------------


def ensure_table(stage: str, *, client: Any, sleep: Callable[[float], None] = time.sleep) -> str:
    """Create the stage's table unless it exists, wait for it to be ACTIVE, switch TTL on and, for
    prod, point-in-time recovery. Safe to run again; returns the table name."""
    name = table_name(stage)
    protected = stage in PROTECTED_STAGES
    created = False
    try:
        client.create_table(TableName=name, DeletionProtectionEnabled=protected, **TABLE_DEFINITION)
        created = True
    except client.exceptions.ResourceInUseException:
        pass  # it exists (or is being created by someone else): the waiter below settles it
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig=WAIT)
    table = client.describe_table(TableName=name)["Table"]
    _check_shape(table)
    print(f"table {name}: {'created' if created else 'exists'}")
    _ensure_ttl(name, client=client)
    if protected:
        if not table.get("DeletionProtectionEnabled"):
            client.update_table(TableName=name, DeletionProtectionEnabled=True)
            print(f"table {name}: deletion protection switched on")
        _ensure_point_in_time_recovery(name, client=client, sleep=sleep)
    return name


def _check_shape(table: dict[str, Any]) -> None:
    """Refuse an existing table whose keys or index differ from TABLE_DEFINITION: the store would
    fail on it at run time."""
    name = table["TableName"]
    if _keys(table["KeySchema"]) != _keys(TABLE_DEFINITION["KeySchema"]):
        raise ProvisionError(f"table {name} exists with another key schema: {table['KeySchema']}")
    existing = {i["IndexName"]: _keys(i["KeySchema"]) for i in table.get("GlobalSecondaryIndexes", [])}
    for index in TABLE_DEFINITION["GlobalSecondaryIndexes"]:
        if existing.get(index["IndexName"]) != _keys(index["KeySchema"]):
            raise ProvisionError(
                f"table {name} lacks the index {index['IndexName']} with keys {index['KeySchema']}"
            )


def _keys(schema: list[dict[str, str]]) -> list[tuple[str, str]]:
    return sorted((k["AttributeName"], k["KeyType"]) for k in schema)


def _ensure_ttl(name: str, *, client: Any) -> None:
    ttl = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    status, attribute = ttl.get("TimeToLiveStatus"), ttl.get("AttributeName")
    if status in ("ENABLED", "ENABLING") and attribute == TTL_ATTRIBUTE:
        print(f"table {name}: TTL on {TTL_ATTRIBUTE}")
        return
    if status in ("ENABLED", "ENABLING", "DISABLING"):
        raise ProvisionError(
            f"table {name} has TTL {status} on {attribute!r}, not on {TTL_ATTRIBUTE!r}; "
            "fix it by hand (TTL changes take up to an hour)"
        )
    client.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
    )
    print(f"table {name}: TTL switched on for {TTL_ATTRIBUTE}")


def _ensure_point_in_time_recovery(name: str, *, client: Any, sleep: Callable[[float], None]) -> None:
    for attempt in range(1, BACKUP_ATTEMPTS + 1):
        try:
            backups = client.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
            pitr = backups.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus")
            if pitr == "ENABLED":
                print(f"table {name}: point-in-time recovery on")
                return
            client.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            )
            print(f"table {name}: point-in-time recovery switched on")
            return
        except client.exceptions.ContinuousBackupsUnavailableException:
            if attempt == BACKUP_ATTEMPTS:
                raise
            sleep(2.0 * attempt)


def delete_table(stage: str, *, client: Any) -> None:
    """Delete the stage's table and its data; refused for prod."""
    name = table_name(stage)
    if stage in PROTECTED_STAGES:
        raise ProvisionError(f"refusing to delete {name}: the {stage} table is deleted by hand only")
    try:
        client.delete_table(TableName=name)
    except client.exceptions.ResourceNotFoundException:
        print(f"table {name}: already gone")
        return
    client.get_waiter("table_not_exists").wait(TableName=name, WaiterConfig=WAIT)
    print(f"table {name}: deleted")


# -- SSM parameters --------------------------------------------------------------------------


def ensure_store_url(stage: str, *, ssm: Any, config_file: Path = CONFIG_FILE) -> str | None:
    """Write `<prefix>/STORE_URL` (a String: it is no secret) naming the stage's table, unless the
    stage's config already sets STORE_URL (prod). Returns the parameter name written, or None."""
    wanted = store_url(stage)
    configured = stage_environment(stage, config_file).get("STORE_URL")
    if configured is not None:
        if configured != wanted:
            raise ProvisionError(f"{config_file} sets STORE_URL={configured} for {stage}; expected {wanted}")
        print(f"STORE_URL for {stage} comes from {config_file.name}")
        return None
    name = f"{parameter_prefix(stage, config_file)}/STORE_URL"
    try:
        current = ssm.get_parameter(Name=name)["Parameter"]
    except ssm.exceptions.ParameterNotFound:
        current = None
    if current is not None and current["Value"] == wanted and current["Type"] == "String":
        print(f"{name} already names the table")
        return name
    ssm.put_parameter(Name=name, Value=wanted, Type="String", Overwrite=True)
    print(f"{name} written")
    return name


def parameter_problems(stage: str, *, ssm: Any, config_file: Path = CONFIG_FILE) -> list[str]:
    """What is wrong with the stage's SSM parameters: each required one missing, each secret not
    stored as SecureString. Only names and types are read (DescribeParameters), never values."""
    prefix = parameter_prefix(stage, config_file)
    found: dict[str, str] = {}
    paginator = ssm.get_paginator("describe_parameters")
    path_filter = {"Key": "Path", "Option": "OneLevel", "Values": [prefix]}
    for page in paginator.paginate(ParameterFilters=[path_filter]):
        for parameter in page["Parameters"]:
            found[parameter["Name"].rsplit("/", 1)[-1]] = parameter["Type"]
    problems = [f"missing: {prefix}/{name}" for name in REQUIRED_PARAMETERS if name not in found]
    problems += [
        f"not a SecureString: {prefix}/{name} ({found[name]})"
        for name in SECRETS
        if name in found and found[name] != "SecureString"
    ]
    return problems


def check_secrets(stage: str, *, ssm: Any, config_file: Path = CONFIG_FILE) -> None:
    """Exit 1 (SystemExit) naming every problem of :func:`parameter_problems`; print one line if
    all is well."""
    problems = parameter_problems(stage, ssm=ssm, config_file=config_file)
    if problems:
        print(f"stage {stage}: the SSM parameters are not ready", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        prefix = parameter_prefix(stage, config_file)
        print(
            f"  set each with: aws ssm put-parameter --type SecureString --name {prefix}/<NAME> --value …",
            file=sys.stderr,
        )
        raise SystemExit(1)
    print(f"stage {stage}: the required SSM parameters are present")


# -- command line ----------------------------------------------------------------------------


def _check_stage(stage: str) -> None:
    if stage not in STAGES:
        raise ProvisionError(f"unknown stage {stage!r}: use one of {', '.join(STAGES)}")


def main(argv: list[str]) -> int:
    commands = ("ensure", "check", "delete-table", "after-deploy")
    if len(argv) != 2 or argv[0] not in commands or argv[1] not in STAGES:
        print(f"usage: provision.py {'|'.join(commands)} {'|'.join(STAGES)}", file=sys.stderr)
        return 2
    command, stage = argv
    import boto3  # noqa: PLC0415 -- the usage message needs no AWS
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    try:
        if command == "ensure":
            ensure_table(stage, client=boto3.client("dynamodb"))
            ensure_store_url(stage, ssm=boto3.client("ssm"))
            queue_url = provision_queues.ensure_queues(stage, sqs=boto3.client("sqs"))
            provision_queues.ensure_queue_url(
                stage, queue_url, ssm=boto3.client("ssm"), prefix=parameter_prefix(stage)
            )
            session = boto3.session.Session()
            bucket = provision_media.ensure_bucket(
                stage,
                s3=boto3.client("s3"),
                account=boto3.client("sts").get_caller_identity()["Account"],
                region=session.region_name or "us-east-1",
                days=provision_media.retention_days(dict(os.environ)),
            )
            provision_media.ensure_bucket_parameter(
                bucket, ssm=boto3.client("ssm"), prefix=parameter_prefix(stage)
            )
        elif command == "after-deploy":
            provision_queues.ensure_batch_failures(stage, lambda_client=boto3.client("lambda"))
        elif command == "check":
            check_secrets(stage, ssm=boto3.client("ssm"))
        else:
            delete_table(stage, client=boto3.client("dynamodb"))
    except (ProvisionError, BotoCoreError, ClientError, ValueError) as e:
        print(f"provision {command} {stage}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
