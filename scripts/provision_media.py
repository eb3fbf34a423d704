"""The stage's media bucket (S3): private, encrypted, TLS only, objects expiring after
``MEDIA_RETENTION_DAYS`` (default 90), and the ``MEDIA_BUCKET`` parameter naming it.

Used by ``scripts/provision.py ensure`` before ``chalice deploy``. The bucket is
``whatsapp-evolution-<stage>-media-<account id>`` (bucket names are global); the stage's IAM policy
grants ``s3:PutObject`` and ``s3:GetObject`` on the objects of ``whatsapp-evolution-<stage>-media-*``
and nothing else. Each function takes its boto3 client keyword-only, so the tests pass moto's.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.jobs.names import APP_NAME

DEFAULT_RETENTION_DAYS = 90


def bucket_name(stage: str, account: str) -> str:
    return f"{APP_NAME}-{stage}-media-{account}"


def retention_days(environ: dict[str, str]) -> int:
    """``MEDIA_RETENTION_DAYS`` from the environment (1 to 3650), else 90."""
    raw = environ.get("MEDIA_RETENTION_DAYS", "").strip()
    if not raw:
        return DEFAULT_RETENTION_DAYS
    if not raw.isdigit() or not 1 <= int(raw) <= 3650:
        raise ValueError(f"MEDIA_RETENTION_DAYS must be a whole number of days from 1 to 3650, not {raw!r}")
    return int(raw)


def ensure_bucket(stage: str, *, s3: Any, account: str, region: str, days: int) -> str:
    """Create (or bring up to date) the stage's media bucket; returns its name."""
    name = bucket_name(stage, account)
    try:
        arguments: dict[str, Any] = {"Bucket": name, "ObjectOwnership": "BucketOwnerEnforced"}
        if region != "us-east-1":  # us-east-1 refuses an explicit location constraint
            arguments["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**arguments)
        print(f"bucket {name}: created")
    except s3.exceptions.BucketAlreadyOwnedByYou:
        print(f"bucket {name}: exists, settings brought up to date")
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}
            ]
        },
    )
    s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration=lifecycle(days))
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps(tls_only_policy(name)))
    return name


def lifecycle(days: int) -> dict[str, Any]:
    return {
        "Rules": [
            {
                "ID": "retention",
                "Status": "Enabled",
                "Filter": {"Prefix": ""},
                "Expiration": {"Days": days},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
            }
        ]
    }


def tls_only_policy(name: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "TlsOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def ensure_bucket_parameter(name: str, *, ssm: Any, prefix: str) -> str:
    """Write ``<prefix>/MEDIA_BUCKET`` (a String: no secret) unless it already holds ``name``."""
    parameter = f"{prefix}/MEDIA_BUCKET"
    try:
        current = ssm.get_parameter(Name=parameter)["Parameter"]
    except ssm.exceptions.ParameterNotFound:
        current = None
    if current is None or current["Value"] != name or current["Type"] != "String":
        ssm.put_parameter(Name=parameter, Value=name, Type="String", Overwrite=True)
        print(f"{parameter} written")
    return parameter
