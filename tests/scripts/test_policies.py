"""Each stage's IAM policy grants the store exactly what it calls, on that stage's table only; the
merge template for `chalice package` builds the very table TABLE_DEFINITION describes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from chalicelib.store.dynamodb.table import TABLE_DEFINITION, TTL_ATTRIBUTE
from tests.scripts.conftest import REPO

STAGES = ("dev", "prod")
APP = "whatsapp-evolution"
STORE_PACKAGE = REPO / "chalicelib" / "store" / "dynamodb"
MERGE_TEMPLATE = REPO / "resources" / "dynamodb-table.json"
# IAM has no TransactWriteItems action: a transaction needs the action of each of its items.
TRANSACTION_ITEMS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
ACCOUNT_ARN = "arn:aws:{service}:eu-west-1:123456789012:"


def store_actions() -> set[str]:
    """The IAM actions the DynamoDB store needs, read from the calls every module of its package makes."""
    modules = sorted(STORE_PACKAGE.glob("*.py"))
    assert len(modules) >= 5, "the DynamoDB store's modules are no longer found: update this test"
    source = "\n".join(module.read_text() for module in modules)
    operations = set(re.findall(r'_call\(\s*"(\w+)"', source))
    assert operations, "the store's calls are no longer found: update this test"
    actions = set()
    for operation in operations - {"transact_write_items"}:
        actions.add("dynamodb:" + "".join(part.capitalize() for part in operation.split("_")))
    if "transact_write_items" in operations:
        kinds = set(re.findall(r'\{\s*"(Put|Update|Delete|ConditionCheck)"\s*:', source))
        assert kinds, "the store's transaction items are no longer found: update this test"
        actions |= {TRANSACTION_ITEMS[kind] for kind in kinds}
    return actions


def test_the_store_needs_the_item_actions_it_calls() -> None:
    assert store_actions() == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
    }


def policy(stage: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((REPO / ".chalice" / f"policy-{stage}.json").read_text())
    return data


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def allowed(document: dict[str, Any], action: str, resource: str) -> bool:
    """Whether an Allow statement of ``document`` matches (IAM's ``*`` spans any characters)."""
    return any(
        statement["Effect"] == "Allow"
        and any(fnmatchcase(action, a) for a in as_list(statement["Action"]))
        and any(fnmatchcase(resource, r) for r in as_list(statement["Resource"]))
        for statement in document["Statement"]
    )


@pytest.mark.parametrize("stage", STAGES)
def test_the_stage_policy_grants_the_store_its_actions_on_its_own_table_only(stage: str) -> None:
    document = policy(stage)
    statements = [
        s for s in document["Statement"] if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))
    ]
    table = f"arn:aws:dynamodb:*:*:table/{APP}-{stage}"

    granted = {a for s in statements for a in as_list(s["Action"])}
    assert granted == store_actions()
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert "Condition" not in statement
        for resource in as_list(statement["Resource"]):
            assert resource in (table, f"{table}/index/*"), resource
            if resource.endswith("/index/*"):  # an index is only ever queried
                assert as_list(statement["Action"]) == ["dynamodb:Query"]
    table_arn = ACCOUNT_ARN.format(service="dynamodb") + f"table/{APP}-{stage}"
    for action in store_actions():
        assert allowed(document, action, table_arn)
    assert allowed(document, "dynamodb:Query", f"{table_arn}/index/gsi1")
    assert not allowed(document, "dynamodb:DescribeTable", table_arn)
    assert not allowed(document, "dynamodb:Scan", table_arn)


@pytest.mark.parametrize("stage", STAGES)
def test_the_stage_policy_names_no_other_stage(stage: str) -> None:
    text = json.dumps(policy(stage))
    for other in set(STAGES) - {stage}:
        assert f"{APP}-{other}" not in text
        assert f"{APP}/{other}" not in text


def function_names(stage: str) -> list[str]:
    """The Lambda names chalice gives the stage's functions: the API handler is `<app>-<stage>`,
    the others `<app>-<stage>-<name>`."""
    config = json.loads((REPO / ".chalice" / "config.json").read_text())
    names = config["stages"][stage]["lambda_functions"]
    return [f"{APP}-{stage}" if name == "api_handler" else f"{APP}-{stage}-{name}" for name in names]


@pytest.mark.parametrize("stage", STAGES)
def test_every_function_of_the_stage_may_write_its_logs(stage: str) -> None:
    document = policy(stage)
    logs = ACCOUNT_ARN.format(service="logs")
    assert f"{APP}-{stage}" in function_names(stage)
    for function in function_names(stage):
        group = f"{logs}log-group:/aws/lambda/{function}"
        assert allowed(document, "logs:CreateLogGroup", group), function
        assert allowed(document, "logs:CreateLogGroup", f"{group}:*"), function
        stream = f"{group}:log-stream:2026/11/25/[$LATEST]0123abcd"
        assert allowed(document, "logs:CreateLogStream", stream), function
        assert allowed(document, "logs:PutLogEvents", stream), function
    assert not allowed(document, "logs:PutLogEvents", f"{logs}log-group:/aws/lambda/other-app:log-stream:x")


@pytest.mark.parametrize("stage", STAGES)
def test_the_stage_policy_reads_the_settings_under_its_own_prefix(stage: str) -> None:
    ssm = ACCOUNT_ARN.format(service="ssm")
    assert allowed(policy(stage), "ssm:GetParametersByPath", f"{ssm}parameter/{APP}/{stage}")


# -- the merge template ----------------------------------------------------------------------


def merge_template() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(MERGE_TEMPLATE.read_text())
    return data


def test_the_merge_template_table_is_table_definition() -> None:
    table = merge_template()["Resources"]["StoreTable"]
    properties = table["Properties"]

    assert table["Type"] == "AWS::DynamoDB::Table"
    assert properties["KeySchema"] == TABLE_DEFINITION["KeySchema"]
    assert sorted(properties["AttributeDefinitions"], key=str) == sorted(
        TABLE_DEFINITION["AttributeDefinitions"], key=str
    )
    assert properties["GlobalSecondaryIndexes"] == TABLE_DEFINITION["GlobalSecondaryIndexes"]
    assert properties["BillingMode"] == TABLE_DEFINITION["BillingMode"] == "PAY_PER_REQUEST"
    assert set(TABLE_DEFINITION) <= set(properties)
    assert properties["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"


def test_the_merge_template_grants_the_store_actions_on_its_table_only() -> None:
    document = merge_template()["Resources"]["StorePolicy"]["Properties"]["PolicyDocument"]
    granted = {a for s in document["Statement"] for a in as_list(s["Action"])}
    resources = [r for s in document["Statement"] for r in as_list(s["Resource"])]

    assert granted == store_actions()
    assert resources == [
        {"Fn::GetAtt": ["StoreTable", "Arn"]},
        {"Fn::Sub": "${StoreTable.Arn}/index/*"},
    ]
    (index_statement,) = [s for s in document["Statement"] if "index" in json.dumps(s["Resource"])]
    assert index_statement["Action"] == ["dynamodb:Query"]


def packaged(stage: str, out: Path) -> dict[str, Any]:
    """`chalice package --merge-template` of the stage, as a dict."""
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1"}
    chalice = Path(sys.executable).parent / "chalice"
    subprocess.run(  # noqa: S603 - our own tool, fixed arguments
        [str(chalice), "package", "--stage", stage, "--merge-template", str(MERGE_TEMPLATE), str(out)],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
    )
    data: dict[str, Any] = json.loads((out / "sam.json").read_text())
    return data


@pytest.mark.parametrize("stage", STAGES)
def test_chalice_package_with_the_merge_template_wires_every_function_to_the_table(
    stage: str, tmp_path: Path
) -> None:
    resources = packaged(stage, tmp_path / "package")["Resources"]

    functions = {k for k, v in resources.items() if v.get("Type") == "AWS::Serverless::Function"}
    assert functions == {"APIHandler", "HealthCheck", "ApiKeyAuth", "JobsWorker", "EventsSweep"}
    for name in functions:
        variables = resources[name]["Properties"]["Environment"]["Variables"]
        assert variables["STORE_URL"] == {"Fn::Sub": "dynamodb://${StoreTable}"}
        assert variables["STAGE"] == stage  # chalice's own settings survive the merge
    for name in merge_template()["Resources"]:
        assert "Type" in resources[name], f"{name} merges into nothing chalice generates"
    roles = resources["StorePolicy"]["Properties"]["Roles"]
    assert all(resources[role["Ref"]]["Type"] == "AWS::IAM::Role" for role in roles)


# -- background jobs (SQS) and event buses (EventBridge) -------------------------------------

JOBS_SOURCES = (REPO / "chalicelib" / "jobs" / "sqs.py",)
EVENTS_SOURCES = (REPO / "chalicelib" / "events" / "eventbridge.py",)
# Lambda's SQS event source polls the queue with the worker's own role.
SQS_EVENT_SOURCE = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
AWS_SERVICES = ("sqs", "events", "kms", "ssm", "sns", "s3", "dynamodb", "lambda")


def client_actions(service: str, sources: tuple[Path, ...]) -> set[str]:
    """The IAM actions of the boto3 calls the sources make on their ``service`` client
    (``<client>().<operation>(`` → ``<service>:<Operation>``)."""
    actions = set()
    for source in sources:
        text = source.read_text()
        assert f'"{service}"' in text, f"{source.name} no longer creates a {service} client"
        for operation in re.findall(r"(?:_sqs\(\)|_client\(\)\))\.([a-z_]+)\(", text):
            actions.add(f"{service}:" + "".join(part.capitalize() for part in operation.split("_")))
    assert actions, f"no {service} calls found in {[s.name for s in sources]}: update this test"
    return actions


def test_the_code_calls_exactly_these_queue_and_bus_actions() -> None:
    assert client_actions("sqs", JOBS_SOURCES) == {"sqs:SendMessage"}
    assert client_actions("events", EVENTS_SOURCES) == {"events:PutEvents"}


def test_no_other_module_creates_an_aws_client_the_policy_does_not_know_of() -> None:
    known = {
        "chalicelib/jobs/sqs.py": {"sqs"},
        "chalicelib/events/eventbridge.py": {"events"},
        "chalicelib/settings.py": {"ssm"},
        "chalicelib/services/health.py": {"sns"},
        "chalicelib/media/blobs.py": {"s3"},
    }
    for path in (REPO / "chalicelib").rglob("*.py"):
        services = set(re.findall(r'boto3\.client\(\s*"(\w+)"', path.read_text())) - {"dynamodb"}
        relative = str(path.relative_to(REPO))
        assert services <= known.get(relative, set()), f"{relative} calls {services}: grant and list it here"


@pytest.mark.parametrize("stage", STAGES)
def test_the_stage_policy_grants_the_jobs_queue_and_event_buses_exactly(stage: str) -> None:
    document = policy(stage)
    sqs_statements = [
        s for s in document["Statement"] if any(a.startswith("sqs:") for a in as_list(s["Action"]))
    ]
    bus_statements = [
        s for s in document["Statement"] if any(a.startswith("events:") for a in as_list(s["Action"]))
    ]
    queue = ACCOUNT_ARN.format(service="sqs") + f"{APP}-{stage}-jobs"

    assert {a for s in sqs_statements for a in as_list(s["Action"])} == (
        client_actions("sqs", JOBS_SOURCES) | SQS_EVENT_SOURCE
    )
    assert {a for s in bus_statements for a in as_list(s["Action"])} == client_actions(
        "events", EVENTS_SOURCES
    )
    for action in client_actions("sqs", JOBS_SOURCES) | SQS_EVENT_SOURCE:
        assert allowed(document, action, queue)
        assert not allowed(document, action, queue + "-dlq")  # dead letters are an operator's
        assert not allowed(document, action, ACCOUNT_ARN.format(service="sqs") + "another-queue")
    assert allowed(document, "events:PutEvents", ACCOUNT_ARN.format(service="events") + "event-bus/crm")
    assert not allowed(document, "events:PutRule", ACCOUNT_ARN.format(service="events") + "event-bus/crm")


def test_the_merge_template_makes_the_queues_and_grants_them_to_every_function_that_queues() -> None:
    resources = merge_template()["Resources"]
    queue, dead_letters = resources["JobsQueue"], resources["JobsDeadLetterQueue"]
    statement = resources["JobsPolicy"]["Properties"]["PolicyDocument"]["Statement"]

    assert queue["Type"] == dead_letters["Type"] == "AWS::SQS::Queue"
    redrive = queue["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["JobsDeadLetterQueue", "Arn"]}
    assert 1 < redrive["maxReceiveCount"] <= 10
    config = json.loads((REPO / ".chalice" / "config.json").read_text())
    worker_timeout = config["stages"]["prod"]["lambda_functions"]["jobs_worker"]["lambda_timeout"]
    assert queue["Properties"]["VisibilityTimeout"] >= 6 * worker_timeout
    assert {a for s in statement for a in as_list(s["Action"])} == client_actions(
        "sqs", JOBS_SOURCES
    ) | SQS_EVENT_SOURCE
    assert [s["Resource"] for s in statement] == [{"Fn::GetAtt": ["JobsQueue", "Arn"]}]


@pytest.mark.parametrize("stage", STAGES)
def test_the_packaged_worker_reads_the_stacks_queue_with_partial_batch_failures(
    stage: str, tmp_path: Path
) -> None:
    resources = packaged(stage, tmp_path / "package")["Resources"]
    (source,) = resources["JobsWorker"]["Properties"]["Events"].values()

    assert source["Type"] == "SQS"
    assert source["Properties"]["Queue"] == {"Fn::Sub": "${JobsQueue.Arn}"}
    assert source["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    for name in ("APIHandler", "HealthCheck", "JobsWorker", "EventsSweep"):
        variables = resources[name]["Properties"]["Environment"]["Variables"]
        assert variables["JOBS_QUEUE_URL"] == {"Ref": "JobsQueue"}


# -- the media bucket --------------------------------------------------------------------------

MEDIA_SOURCE = REPO / "chalicelib" / "media" / "blobs.py"


def media_actions() -> set[str]:
    """The S3 actions the blob store needs: its client calls, and the operation each pre-signed
    URL performs (a pre-signed GET is made with the signer's own ``s3:GetObject``)."""
    text = MEDIA_SOURCE.read_text()
    assert '"s3"' in text, "blobs.py no longer creates an s3 client: update this test"
    operations = set(re.findall(r"_s3\(\)\.([a-z_]+)\(", text)) - {"generate_presigned_url"}
    operations |= set(re.findall(r'generate_presigned_url\(\s*"([a-z_]+)"', text))
    assert operations, "the blob store's S3 calls are no longer found: update this test"
    return {"s3:" + "".join(part.capitalize() for part in op.split("_")) for op in operations}


def test_the_blob_store_calls_exactly_put_and_get_object() -> None:
    assert media_actions() == {"s3:PutObject", "s3:GetObject"}


@pytest.mark.parametrize("stage", STAGES)
def test_the_stage_policy_grants_the_media_actions_on_the_stages_bucket_objects_only(stage: str) -> None:
    document = policy(stage)
    statements = [s for s in document["Statement"] if any(a.startswith("s3:") for a in as_list(s["Action"]))]
    bucket = f"arn:aws:s3:::{APP}-{stage}-media-123456789012"

    assert {a for s in statements for a in as_list(s["Action"])} == media_actions()
    for action in media_actions():
        assert allowed(document, action, f"{bucket}/manpower-whatsapp/msg_01KB")
        assert not allowed(document, action, bucket)  # objects only, never the bucket
        assert not allowed(document, action, f"arn:aws:s3:::another-bucket/{APP}-{stage}-media-x/y")
    assert not allowed(document, "s3:DeleteObject", f"{bucket}/x")
    assert not allowed(document, "s3:ListBucket", bucket)


def test_the_merge_template_makes_a_private_encrypted_expiring_bucket_granted_to_the_fetchers() -> None:
    template = merge_template()
    resources = template["Resources"]
    bucket = resources["MediaBucket"]["Properties"]
    statement = resources["MediaPolicy"]["Properties"]["PolicyDocument"]["Statement"]

    assert resources["MediaBucket"]["DeletionPolicy"] == "Retain"
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    (encryption,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    (rule,) = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled" and rule["ExpirationInDays"] == {"Ref": "MediaRetentionDays"}
    assert template["Parameters"]["MediaRetentionDays"]["Default"] == 90
    assert {a for s in statement for a in as_list(s["Action"])} == media_actions()
    assert [s["Resource"] for s in statement] == [{"Fn::Sub": "${MediaBucket.Arn}/*"}]
    assert resources["MediaPolicy"]["Properties"]["Roles"] == [
        {"Ref": "ApiHandlerRole"},
        {"Ref": "JobsWorkerRole"},
    ]
    (deny,) = resources["MediaBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


@pytest.mark.parametrize("stage", STAGES)
def test_the_packaged_functions_that_handle_media_name_the_stacks_bucket(stage: str, tmp_path: Path) -> None:
    resources = packaged(stage, tmp_path / "package")["Resources"]

    for name in ("APIHandler", "JobsWorker", "EventsSweep"):
        variables = resources[name]["Properties"]["Environment"]["Variables"]
        assert variables["MEDIA_BUCKET"] == {"Ref": "MediaBucket"}
