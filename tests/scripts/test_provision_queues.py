"""scripts/provision_queues.py on moto: the jobs queue with its dead-letter queue, the queue URL
parameter, and partial batch failures switched on for the worker's mapping."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from tests.scripts.conftest import _load

provision_queues = _load("provision_queues")


def test_ensure_queues_makes_the_queue_with_a_redrive_to_its_dead_letter_queue(aws: dict[str, Any]) -> None:
    import boto3

    sqs = boto3.client("sqs")
    url = provision_queues.ensure_queues("dev", sqs=sqs)

    assert url.endswith("/whatsapp-evolution-dev-jobs")
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(":whatsapp-evolution-dev-jobs-dlq")
    assert int(redrive["maxReceiveCount"]) == provision_queues.MAX_RECEIVES
    assert int(attributes["VisibilityTimeout"]) == 6 * provision_queues.WORKER_TIMEOUT_S


def test_ensure_queues_twice_is_harmless_and_repairs_changed_attributes(aws: dict[str, Any]) -> None:
    import boto3

    sqs = boto3.client("sqs")
    url = provision_queues.ensure_queues("prod", sqs=sqs)
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "5"})

    assert provision_queues.ensure_queues("prod", sqs=sqs) == url
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"]
    assert attributes["VisibilityTimeout"] == str(6 * provision_queues.WORKER_TIMEOUT_S)
    assert len(sqs.list_queues()["QueueUrls"]) == 2


def test_ensure_queue_url_writes_a_string_parameter_once(aws: dict[str, Any]) -> None:
    ssm = aws["ssm"]
    provision_queues.ensure_queue_url("dev", "https://sqs.x/1/q", ssm=ssm, prefix="/whatsapp-evolution/dev")
    provision_queues.ensure_queue_url("dev", "https://sqs.x/1/q", ssm=ssm, prefix="/whatsapp-evolution/dev")

    parameter = ssm.get_parameter(Name="/whatsapp-evolution/dev/JOBS_QUEUE_URL")["Parameter"]
    assert (parameter["Value"], parameter["Type"], parameter["Version"]) == ("https://sqs.x/1/q", "String", 1)


def _worker(stage: str) -> Any:
    import boto3

    iam = boto3.client("iam")
    role = iam.create_role(
        RoleName="worker",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("app.py", "def jobs_worker(event, context):\n    return {}\n")
    lambda_client = boto3.client("lambda")
    lambda_client.create_function(
        FunctionName=provision_queues.worker_function_name(stage),
        Runtime="python3.11",
        Role=role,
        Handler="app.jobs_worker",
        Code={"ZipFile": archive.getvalue()},
    )
    return lambda_client


def test_after_deploy_switches_partial_batch_failures_on_once(aws: dict[str, Any]) -> None:
    import boto3

    sqs = boto3.client("sqs")
    url = provision_queues.ensure_queues("dev", sqs=sqs)
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    lambda_client = _worker("dev")
    lambda_client.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=provision_queues.worker_function_name("dev"), BatchSize=10
    )

    assert provision_queues.ensure_batch_failures("dev", lambda_client=lambda_client) == 1
    assert provision_queues.ensure_batch_failures("dev", lambda_client=lambda_client) == 0
    (mapping,) = lambda_client.list_event_source_mappings(
        FunctionName=provision_queues.worker_function_name("dev")
    )["EventSourceMappings"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
