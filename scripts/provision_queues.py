"""The stage's job queues (SQS): the queue the background work runs from, its dead-letter queue,
the ``JOBS_QUEUE_URL`` parameter naming it, and partial batch failures on the worker's mapping.

Used by ``scripts/provision.py ensure`` (before ``chalice deploy``) and ``after-deploy`` (after it:
chalice creates the SQS event source mapping without ``ReportBatchItemFailures``). Each function
takes its boto3 client keyword-only, so the tests pass moto's.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.jobs.names import APP_NAME, dead_letter_queue_name, jobs_queue_name

WORKER_TIMEOUT_S = 60  # .chalice/config.json: jobs_worker's lambda_timeout
VISIBILITY_TIMEOUT_S = 6 * WORKER_TIMEOUT_S  # AWS's advice for a queue feeding a Lambda
MAX_RECEIVES = 5  # then the dead-letter queue
RETENTION_S = 4 * 86_400
DEAD_LETTER_RETENTION_S = 14 * 86_400  # SQS's maximum


def worker_function_name(stage: str) -> str:
    return f"{APP_NAME}-{stage}-jobs_worker"


def ensure_queues(stage: str, *, sqs: Any) -> str:
    """Create (or bring up to date) the dead-letter queue and the jobs queue; returns its URL."""
    dead_letters = sqs.create_queue(
        QueueName=dead_letter_queue_name(stage),
        Attributes={"MessageRetentionPeriod": str(DEAD_LETTER_RETENTION_S), "SqsManagedSseEnabled": "true"},
    )["QueueUrl"]
    dead_letter_arn = sqs.get_queue_attributes(QueueUrl=dead_letters, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    redrive = {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": MAX_RECEIVES}
    attributes = {
        "VisibilityTimeout": str(VISIBILITY_TIMEOUT_S),
        "MessageRetentionPeriod": str(RETENTION_S),
        "SqsManagedSseEnabled": "true",
        "RedrivePolicy": json.dumps(redrive),
    }
    name = jobs_queue_name(stage)
    try:
        url: str = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        print(f"queue {name}: ready (dead letters: {dead_letter_queue_name(stage)})")
    except sqs.exceptions.QueueNameExists:  # exists with other attributes: bring them up to date
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
        print(f"queue {name}: attributes updated")
    return url


def ensure_queue_url(stage: str, url: str, *, ssm: Any, prefix: str) -> str:
    """Write ``<prefix>/JOBS_QUEUE_URL`` (a String: no secret) unless it already holds ``url``."""
    name = f"{prefix}/JOBS_QUEUE_URL"
    try:
        current = ssm.get_parameter(Name=name)["Parameter"]
    except ssm.exceptions.ParameterNotFound:
        current = None
    if current is None or current["Value"] != url or current["Type"] != "String":
        ssm.put_parameter(Name=name, Value=url, Type="String", Overwrite=True)
        print(f"{name} written")
    return name


def ensure_batch_failures(stage: str, *, lambda_client: Any) -> int:
    """Switch ``ReportBatchItemFailures`` on for the worker's SQS mappings (without it a batch
    with one failed job would count as wholly done). Returns how many mappings were changed."""
    changed = 0
    paginator = lambda_client.get_paginator("list_event_source_mappings")
    for page in paginator.paginate(FunctionName=worker_function_name(stage)):
        for mapping in page["EventSourceMappings"]:
            if "ReportBatchItemFailures" in mapping.get("FunctionResponseTypes", []):
                continue
            lambda_client.update_event_source_mapping(
                UUID=mapping["UUID"], FunctionResponseTypes=["ReportBatchItemFailures"]
            )
            changed += 1
    print(f"{worker_function_name(stage)}: partial batch failures on ({changed} mapping(s) changed)")
    return changed
