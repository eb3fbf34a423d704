"""Both blob stores: files on disk with signed local links, S3 (moto) with pre-signed GETs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.media.blobs import LocalBlobs, S3Blobs
from chalicelib.media.signing import verify
from tests.store.conftest import fake_aws_env

KEY = "acme/msg_01KB0000000000000000000000"
SIGNING = b"s" * 32


def test_local_blobs_write_atomically_and_read_back(tmp_path: Path) -> None:
    blobs = LocalBlobs(str(tmp_path / "media"), signing_key=SIGNING)

    blobs.put(KEY, b"first", content_type="application/pdf", filename="cv.pdf")
    blobs.put(KEY, b"second", content_type="application/pdf", filename="cv.pdf")

    assert blobs.read(KEY) == b"second"
    assert [p.name for p in blobs.path(KEY).parent.iterdir()] == ["msg_01KB0000000000000000000000"]
    assert blobs.read("acme/msg_01KB0000000000000000000001") is None


@pytest.mark.parametrize("key", ["../etc/passwd", "acme/../x", "acme/msg_1/../../x", "/abs/msg_1", "acme/x"])
def test_keys_outside_the_layout_are_refused(tmp_path: Path, key: str) -> None:
    blobs = LocalBlobs(str(tmp_path), signing_key=SIGNING)

    with pytest.raises(ValueError, match="not a media key"):
        blobs.put(key, b"x", content_type="a/b", filename="x")


def test_local_links_are_this_services_signed_media_route(tmp_path: Path) -> None:
    blobs = LocalBlobs(str(tmp_path), signing_key=SIGNING)

    url = blobs.link(
        KEY,
        content_type="application/pdf",
        filename="cv.pdf",
        expires_in=60,
        expires_at=2_000_000_000,
        base_url="http://127.0.0.1:8000/",
    )

    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "http",
        "127.0.0.1:8000",
        "/media/msg_01KB0000000000000000000000",
    )
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["expires"] == "2000000000"
    assert verify(SIGNING, "msg_01KB0000000000000000000000", query["expires"], query["signature"], now=1.9e9)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import boto3
    from botocore.config import Config
    from moto import mock_aws

    fake_aws_env(monkeypatch)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1", config=Config(signature_version="s3v4"))
        client.create_bucket(Bucket="media-test")
        yield client


def test_s3_blobs_put_encrypted_objects_and_presign_attachment_downloads(s3: Any) -> None:
    blobs = S3Blobs("media-test", client=s3)

    blobs.put(KEY, b"%PDF-1.7 data", content_type="application/pdf", filename="currículo.pdf")
    url = blobs.link(
        KEY, content_type="application/pdf", filename="currículo.pdf", expires_in=900, expires_at=0
    )

    stored = s3.get_object(Bucket="media-test", Key=KEY)
    assert stored["Body"].read() == b"%PDF-1.7 data"
    assert stored["ContentType"] == "application/pdf"
    assert stored["ServerSideEncryption"] == "AES256"
    query = parse_qs(urlsplit(url).query)
    assert urlsplit(url).path.endswith("/" + KEY)
    assert query["X-Amz-Expires"] == ["900"]
    assert query["response-content-type"] == ["application/pdf"]
    assert query["response-content-disposition"][0].startswith('attachment; filename="curr_culo.pdf"')
    import requests

    download = requests.get(url, timeout=5)
    assert download.status_code == 200 and download.content == b"%PDF-1.7 data"
    assert download.headers["Content-Disposition"].startswith("attachment;")
