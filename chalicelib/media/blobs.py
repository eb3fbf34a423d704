"""Where media bytes live: one small interface, S3 when deployed and a folder locally.

Keys are ``<instance>/<message record id>``: one object per message, so storing the same media
twice (a retried job, a fetch on request racing the background one) writes the same object.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import threading
from pathlib import Path
from typing import Any, Protocol

from chalicelib.media.names import content_disposition

_KEY = re.compile(r"^[A-Za-z0-9][\w.-]{0,99}/msg_[0-9A-Za-z]{1,40}$")


class BlobStore(Protocol):
    """Keeps media bytes and hands out time-limited links to them."""

    def put(self, key: str, data: bytes, *, content_type: str, filename: str) -> None:
        """Keep ``data`` under ``key`` (replacing what was there); raises on failure."""
        ...

    def link(
        self,
        key: str,
        *,
        content_type: str,
        filename: str,
        expires_in: int,
        expires_at: int,
        base_url: str = "",
    ) -> str:
        """A URL that serves the bytes as an attachment until ``expires_at`` (Unix seconds);
        ``base_url`` is where this service is reached (local links only)."""
        ...


def check_key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise ValueError(f"not a media key: {key!r}")
    return key


class LocalBlobs:
    """Files under ``root`` (``MEDIA_DIR``); links are this service's ``/media/{id}`` signed with
    an HMAC and an expiry (see :mod:`chalicelib.media.signing`)."""

    def __init__(self, root: str, *, signing_key: bytes) -> None:
        self.root = Path(root)
        self._key = signing_key

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes, *, content_type: str, filename: str) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)  # atomic: a reader sees the old file or the whole new one
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def read(self, key: str) -> bytes | None:
        try:
            return self.path(key).read_bytes()
        except FileNotFoundError:
            return None

    def link(
        self,
        key: str,
        *,
        content_type: str,
        filename: str,
        expires_in: int,
        expires_at: int,
        base_url: str = "",
    ) -> str:
        from urllib.parse import urlencode  # noqa: PLC0415

        from chalicelib.media.signing import signature  # noqa: PLC0415

        media_id = check_key(key).rsplit("/", 1)[1]
        query = urlencode({"expires": expires_at, "signature": signature(self._key, media_id, expires_at)})
        return f"{base_url.rstrip('/')}/media/{media_id}?{query}"


class S3Blobs:
    """One private, encrypted bucket per stage; links are S3 pre-signed GETs that override the
    response's type and disposition."""

    def __init__(self, bucket: str, *, client: Any = None) -> None:
        self.bucket = bucket
        self._client = client
        self._lock = threading.Lock()

    def _s3(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import boto3  # noqa: PLC0415 -- only the deployed path pays for boto3
                    from botocore.config import Config  # noqa: PLC0415

                    config = Config(
                        signature_version="s3v4",
                        connect_timeout=2,
                        read_timeout=30,
                        retries={"mode": "standard", "max_attempts": 3},
                    )
                    self._client = boto3.client("s3", config=config)
        return self._client

    def put(self, key: str, data: bytes, *, content_type: str, filename: str) -> None:
        self._s3().put_object(
            Bucket=self.bucket,
            Key=check_key(key),
            Body=data,
            ContentType=content_type,
            ContentDisposition=content_disposition(filename),
            ServerSideEncryption="AES256",
        )

    def link(
        self,
        key: str,
        *,
        content_type: str,
        filename: str,
        expires_in: int,
        expires_at: int,
        base_url: str = "",
    ) -> str:
        url: str = self._s3().generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": check_key(key),
                "ResponseContentType": content_type,
                "ResponseContentDisposition": content_disposition(filename),
            },
            ExpiresIn=expires_in,
        )
        return url
