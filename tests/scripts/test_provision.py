"""scripts/provision.py on moto: the stage's table, its STORE_URL parameter, the check of its secrets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.store.dynamodb import DynamoDBStore
from chalicelib.store.dynamodb.table import LIST_INDEX, TABLE_DEFINITION, TTL_ATTRIBUTE
from tests.scripts.conftest import provision
from tests.store.conftest import inbound, outbound

SECRET_VALUES = {
    "EVOLUTION_API_URL": "https://evolution.example.internal",
    "EVOLUTION_API_KEY": "evolution-key-value-that-must-not-print",
    "INSTANCE_NAME": "manpower-whatsapp",
    "API_KEYS": "api-key-value-that-must-not-print",
    "WEBHOOK_SECRET": "webhook-secret-value-that-must-not-print",
    "EVENTS_SIGNING_KEY": "events-signing-key-value-that-must-not-print",
}
PLAIN = ("EVOLUTION_API_URL", "INSTANCE_NAME")


def put_parameters(ssm: Any, stage: str, names: tuple[str, ...] | list[str]) -> None:
    for name in names:
        ssm.put_parameter(
            Name=f"/whatsapp-evolution/{stage}/{name}",
            Value=SECRET_VALUES[name],
            Type="String" if name in PLAIN else "SecureString",
        )


def ttl(dynamodb: Any, table: str) -> dict[str, Any]:
    description: dict[str, Any] = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    return description


def pitr_status(dynamodb: Any, table: str) -> str:
    backups = dynamodb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    return str(backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"])


# -- ensure_table ----------------------------------------------------------------------------


def test_ensure_table_creates_the_dev_table_from_the_definition_with_ttl_but_no_pitr(
    aws: dict[str, Any],
) -> None:
    dynamodb = aws["dynamodb"]

    assert provision.ensure_table("dev", client=dynamodb) == "whatsapp-evolution-dev"

    table = dynamodb.describe_table(TableName="whatsapp-evolution-dev")["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == TABLE_DEFINITION["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(
        TABLE_DEFINITION["AttributeDefinitions"], key=str
    )
    (index,) = table["GlobalSecondaryIndexes"]
    (wanted,) = TABLE_DEFINITION["GlobalSecondaryIndexes"]
    assert index["IndexName"] == LIST_INDEX
    assert index["KeySchema"] == wanted["KeySchema"]
    assert index["Projection"] == wanted["Projection"]
    assert ttl(dynamodb, "whatsapp-evolution-dev") == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": TTL_ATTRIBUTE,
    }
    assert pitr_status(dynamodb, "whatsapp-evolution-dev") == "DISABLED"
    assert not table.get("DeletionProtectionEnabled")


def test_ensure_table_for_prod_switches_on_point_in_time_recovery_and_deletion_protection(
    aws: dict[str, Any],
) -> None:
    dynamodb = aws["dynamodb"]

    provision.ensure_table("prod", client=dynamodb)

    assert pitr_status(dynamodb, "whatsapp-evolution-prod") == "ENABLED"
    assert ttl(dynamodb, "whatsapp-evolution-prod")["TimeToLiveStatus"] == "ENABLED"
    table = dynamodb.describe_table(TableName="whatsapp-evolution-prod")["Table"]
    assert table["DeletionProtectionEnabled"] is True


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_ensure_table_twice_is_harmless(
    aws: dict[str, Any], stage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    dynamodb = aws["dynamodb"]

    provision.ensure_table(stage, client=dynamodb)
    provision.ensure_table(stage, client=dynamodb)

    assert dynamodb.list_tables()["TableNames"] == [f"whatsapp-evolution-{stage}"]
    out = capsys.readouterr().out
    assert f"table whatsapp-evolution-{stage}: created" in out
    assert f"table whatsapp-evolution-{stage}: exists" in out


def test_ensure_table_completes_a_bare_existing_prod_table(aws: dict[str, Any]) -> None:
    dynamodb = aws["dynamodb"]
    dynamodb.create_table(TableName="whatsapp-evolution-prod", **TABLE_DEFINITION)

    provision.ensure_table("prod", client=dynamodb)

    assert ttl(dynamodb, "whatsapp-evolution-prod")["AttributeName"] == TTL_ATTRIBUTE
    assert pitr_status(dynamodb, "whatsapp-evolution-prod") == "ENABLED"
    table = dynamodb.describe_table(TableName="whatsapp-evolution-prod")["Table"]
    assert table["DeletionProtectionEnabled"] is True


def test_ensure_table_refuses_an_existing_table_without_the_list_index(aws: dict[str, Any]) -> None:
    dynamodb = aws["dynamodb"]
    definition = {k: v for k, v in TABLE_DEFINITION.items() if k != "GlobalSecondaryIndexes"}
    definition["AttributeDefinitions"] = definition["AttributeDefinitions"][:2]
    dynamodb.create_table(TableName="whatsapp-evolution-dev", **definition)

    with pytest.raises(provision.ProvisionError, match="lacks the index gsi1"):
        provision.ensure_table("dev", client=dynamodb)


def test_ensure_table_refuses_ttl_on_another_attribute(aws: dict[str, Any]) -> None:
    dynamodb = aws["dynamodb"]
    dynamodb.create_table(TableName="whatsapp-evolution-dev", **TABLE_DEFINITION)
    dynamodb.update_time_to_live(
        TableName="whatsapp-evolution-dev",
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"},
    )

    with pytest.raises(provision.ProvisionError, match="TTL ENABLED on 'ttl'"):
        provision.ensure_table("dev", client=dynamodb)


class BackupsNotReadyYet:
    """The moto client, except that PITR is refused ``refusals`` times, as right after a creation."""

    def __init__(self, client: Any, refusals: int) -> None:
        self._client = client
        self.refusals = refusals

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def update_continuous_backups(self, **kwargs: Any) -> Any:
        if self.refusals:
            self.refusals -= 1
            error = {"Error": {"Code": "ContinuousBackupsUnavailableException", "Message": "not yet"}}
            raise self._client.exceptions.ContinuousBackupsUnavailableException(
                error, "UpdateContinuousBackups"
            )
        return self._client.update_continuous_backups(**kwargs)


def test_ensure_table_waits_until_point_in_time_recovery_can_be_switched_on(aws: dict[str, Any]) -> None:
    client = BackupsNotReadyYet(aws["dynamodb"], refusals=2)
    sleeps: list[float] = []

    provision.ensure_table("prod", client=client, sleep=sleeps.append)

    assert sleeps == [2.0, 4.0]
    assert pitr_status(aws["dynamodb"], "whatsapp-evolution-prod") == "ENABLED"


def test_the_store_works_on_the_table_ensure_table_made(aws: dict[str, Any]) -> None:
    name = provision.ensure_table("dev", client=aws["dynamodb"])
    store = DynamoDBStore(name, client=aws["dynamodb"])

    store.create_message(outbound(1))
    store.insert_inbound(inbound(2))

    page = store.list_messages(outbound(1).instance)  # a query on the list index
    assert [r.id for r in page.items] == [inbound(2).id, outbound(1).id]


def test_delete_table_deletes_the_dev_table_and_refuses_the_prod_one(aws: dict[str, Any]) -> None:
    dynamodb = aws["dynamodb"]
    provision.ensure_table("dev", client=dynamodb)
    provision.ensure_table("prod", client=dynamodb)

    provision.delete_table("dev", client=dynamodb)
    provision.delete_table("dev", client=dynamodb)  # already gone: fine
    with pytest.raises(provision.ProvisionError, match="deleted by hand"):
        provision.delete_table("prod", client=dynamodb)

    assert dynamodb.list_tables()["TableNames"] == ["whatsapp-evolution-prod"]


def test_an_unknown_stage_is_refused_before_any_call() -> None:
    with pytest.raises(provision.ProvisionError, match="unknown stage 'staging'"):
        provision.ensure_table("staging", client=object())


# -- ensure_store_url ------------------------------------------------------------------------


def test_ensure_store_url_writes_the_dev_table_as_a_string_parameter_once(aws: dict[str, Any]) -> None:
    ssm = aws["ssm"]

    assert provision.ensure_store_url("dev", ssm=ssm) == "/whatsapp-evolution/dev/STORE_URL"
    provision.ensure_store_url("dev", ssm=ssm)

    parameter = ssm.get_parameter(Name="/whatsapp-evolution/dev/STORE_URL")["Parameter"]
    assert parameter["Value"] == "dynamodb://whatsapp-evolution-dev"
    assert parameter["Type"] == "String"
    assert parameter["Version"] == 1  # the second run found it right and wrote nothing


def test_ensure_store_url_corrects_a_stale_dev_parameter(aws: dict[str, Any]) -> None:
    ssm = aws["ssm"]
    ssm.put_parameter(Name="/whatsapp-evolution/dev/STORE_URL", Value="sqlite:///x.db", Type="String")

    provision.ensure_store_url("dev", ssm=ssm)

    value = ssm.get_parameter(Name="/whatsapp-evolution/dev/STORE_URL")["Parameter"]["Value"]
    assert value == "dynamodb://whatsapp-evolution-dev"


def test_ensure_store_url_leaves_prod_to_its_config(aws: dict[str, Any]) -> None:
    ssm = aws["ssm"]

    assert provision.ensure_store_url("prod", ssm=ssm) is None

    assert ssm.describe_parameters()["Parameters"] == []


def test_ensure_store_url_refuses_a_config_that_names_another_table(
    aws: dict[str, Any], tmp_path: Path
) -> None:
    config = json.loads((provision.CONFIG_FILE).read_text())
    config["stages"]["prod"]["environment_variables"]["STORE_URL"] = "dynamodb://elsewhere"
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))

    with pytest.raises(provision.ProvisionError, match="expected dynamodb://whatsapp-evolution-prod"):
        provision.ensure_store_url("prod", ssm=aws["ssm"], config_file=config_file)


def test_every_stage_reads_its_store_url_from_config_or_from_the_parameter_provision_writes() -> None:
    for stage in provision.STAGES:
        environment = provision.stage_environment(stage)
        assert environment.get("STORE_URL", provision.store_url(stage)) == provision.store_url(stage)
        assert provision.parameter_prefix(stage) == f"/whatsapp-evolution/{stage}"


# -- check_secrets ---------------------------------------------------------------------------


def test_check_secrets_lists_each_missing_parameter_and_never_prints_a_value(
    aws: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    put_parameters(aws["ssm"], "prod", ["EVOLUTION_API_URL", "EVOLUTION_API_KEY", "INSTANCE_NAME"])
    put_parameters(aws["ssm"], "dev", list(SECRET_VALUES))  # another stage's do not count

    with pytest.raises(SystemExit) as exited:
        provision.check_secrets("prod", ssm=aws["ssm"])

    assert exited.value.code == 1
    out, err = capsys.readouterr()
    assert "missing: /whatsapp-evolution/prod/API_KEYS" in err
    assert "missing: /whatsapp-evolution/prod/WEBHOOK_SECRET" in err
    assert "EVOLUTION_API_KEY" not in err
    assert "INSTANCE_NAME" not in err
    for value in SECRET_VALUES.values():
        assert value not in out + err


def test_check_secrets_flags_a_secret_kept_as_plain_string(
    aws: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    ssm = aws["ssm"]
    put_parameters(ssm, "dev", [n for n in SECRET_VALUES if n != "WEBHOOK_SECRET"])
    ssm.put_parameter(
        Name="/whatsapp-evolution/dev/WEBHOOK_SECRET", Value=SECRET_VALUES["WEBHOOK_SECRET"], Type="String"
    )

    with pytest.raises(SystemExit):
        provision.check_secrets("dev", ssm=ssm)

    out, err = capsys.readouterr()
    assert "not a SecureString: /whatsapp-evolution/dev/WEBHOOK_SECRET (String)" in err
    assert "missing" not in err
    assert SECRET_VALUES["WEBHOOK_SECRET"] not in out + err


def test_check_secrets_passes_when_every_parameter_is_there(
    aws: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    put_parameters(aws["ssm"], "prod", list(SECRET_VALUES))

    provision.check_secrets("prod", ssm=aws["ssm"])

    out, err = capsys.readouterr()
    assert "present" in out
    assert err == ""
    for value in SECRET_VALUES.values():
        assert value not in out


# -- command line ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv", [[], ["ensure"], ["ensure", "staging"], ["deploy", "dev"], ["check", "dev", "extra"]]
)
def test_the_command_line_answers_a_wrong_call_with_its_usage(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert provision.main(argv) == 2
    assert "usage: provision.py ensure|check|delete-table|after-deploy dev|prod" in capsys.readouterr().err


def test_the_command_line_ensures_and_checks_a_stage(
    aws: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert provision.main(["ensure", "dev"]) == 0
    assert aws["dynamodb"].list_tables()["TableNames"] == ["whatsapp-evolution-dev"]
    queue_url = aws["ssm"].get_parameter(Name="/whatsapp-evolution/dev/JOBS_QUEUE_URL")["Parameter"]["Value"]
    assert queue_url.endswith("/whatsapp-evolution-dev-jobs")

    with pytest.raises(SystemExit) as exited:
        provision.main(["check", "dev"])
    assert exited.value.code == 1

    put_parameters(aws["ssm"], "dev", list(SECRET_VALUES))
    assert provision.main(["check", "dev"]) == 0
