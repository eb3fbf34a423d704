"""scripts/provision_media.py on moto: the stage's media bucket (private, encrypted, TLS only,
expiring) and the MEDIA_BUCKET parameter."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.scripts.conftest import _load

provision_media = _load("provision_media")
ACCOUNT = "123456789012"


def test_ensure_bucket_makes_a_private_encrypted_bucket_whose_objects_expire(aws: dict[str, Any]) -> None:
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    name = provision_media.ensure_bucket("dev", s3=s3, account=ACCOUNT, region="us-east-1", days=30)

    assert name == f"whatsapp-evolution-dev-media-{ACCOUNT}"
    block = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    (rule,) = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    (lifecycle,) = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    assert lifecycle["Expiration"] == {"Days": 30} and lifecycle["Status"] == "Enabled"
    (deny,) = json.loads(s3.get_bucket_policy(Bucket=name)["Policy"])["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_ensure_bucket_twice_is_harmless_and_updates_the_retention(aws: dict[str, Any]) -> None:
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    provision_media.ensure_bucket("prod", s3=s3, account=ACCOUNT, region="us-east-1", days=90)
    name = provision_media.ensure_bucket("prod", s3=s3, account=ACCOUNT, region="us-east-1", days=7)

    (lifecycle,) = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    assert lifecycle["Expiration"] == {"Days": 7}
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [name]


def test_the_retention_comes_from_media_retention_days_within_bounds() -> None:
    assert provision_media.retention_days({}) == 90
    assert provision_media.retention_days({"MEDIA_RETENTION_DAYS": "30"}) == 30
    for bad in ("0", "3651", "ten", "-1"):
        with pytest.raises(ValueError, match="MEDIA_RETENTION_DAYS"):
            provision_media.retention_days({"MEDIA_RETENTION_DAYS": bad})


def test_ensure_bucket_parameter_writes_a_string_parameter_once(aws: dict[str, Any]) -> None:
    ssm = aws["ssm"]
    for _ in range(2):
        provision_media.ensure_bucket_parameter("b-1", ssm=ssm, prefix="/whatsapp-evolution/dev")

    parameter = ssm.get_parameter(Name="/whatsapp-evolution/dev/MEDIA_BUCKET")["Parameter"]
    assert (parameter["Value"], parameter["Type"], parameter["Version"]) == ("b-1", "String", 1)
