"""Routes for messages' media: ``GET /messages/{id}/media`` (a time-limited link) and the local
signed link itself, ``GET /media/{id}`` (public: the signature is the credential)."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from chalice.app import Blueprint, Response

from chalicelib import errors
from chalicelib.deps import get_blobs, get_store, media_service
from chalicelib.media.sniff import BINARY_MEDIA_TYPES
from chalicelib.openapi import Operation, documented
from chalicelib.routes._http import api_view
from chalicelib.routes.auth import api_key_auth
from chalicelib.settings import get_settings

if TYPE_CHECKING:
    from typing import Any

bp = Blueprint(__name__)

BINARY = "application/octet-stream"
_HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}(:\d{1,5})?$")
_MEDIA_ID = re.compile(r"^msg_[0-9A-Za-z]{1,40}$")
_FILE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, no-store",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Referrer-Policy": "no-referrer",
}


def _base_url() -> str:
    """Where the caller reached this service: ``PUBLIC_BASE_URL``, else the request's Host."""
    configured = get_settings().PUBLIC_BASE_URL
    if configured is not None:
        return str(configured).rstrip("/")
    host = bp.current_request.headers.get("host", "")
    return f"http://{host}" if _HOST.fullmatch(host) else ""


@bp.route("/messages/{message_id}/media", methods=["GET"], authorizer=api_key_auth)
@documented(
    Operation(
        "A time-limited link to a message's media (fetched from Evolution first if not stored yet)",
        "messages",
        {200: "responses.MediaLink"},
        (errors.NotFoundError, errors.MediaUnavailableError, errors.StoreUnavailableError),
    )
)
@api_view
def get_message_media(message_id: str) -> dict[str, Any]:
    if not 1 <= len(message_id) <= 128:
        raise errors.NotFoundError("No message with this id.")
    return media_service().link(message_id, base_url=_base_url())


@bp.route("/media/{media_id}", methods=["GET"])
@documented(
    Operation(
        "A stored media file, by the signed link GET /messages/{id}/media gave (public)",
        "messages",
        {200: None},
        (errors.ForbiddenError, errors.NotFoundError, errors.StoreUnavailableError),
        query="api.MediaFileQuery",
        media_type=BINARY,
        description="Served as an attachment with X-Content-Type-Options: nosniff; `expires` and "
        "`signature` come from the link and are checked first (403 when tampered with or expired).",
    )
)
@api_view
def get_media_file(media_id: str) -> Response:
    from chalicelib.media.blobs import LocalBlobs  # noqa: PLC0415
    from chalicelib.media.names import content_disposition, download_name, safe_filename  # noqa: PLC0415
    from chalicelib.media.signing import verify  # noqa: PLC0415
    from chalicelib.services.media import media_key  # noqa: PLC0415

    settings = get_settings()
    query: dict[str, str] = dict(bp.current_request.query_params or {})
    if not verify(
        settings.media_url_key(), media_id, query.get("expires"), query.get("signature"), now=time.time()
    ):
        raise errors.ForbiddenError("This media link is not valid or has expired; ask for a new one.")
    blobs = get_blobs()
    record = get_store().get_message(settings.INSTANCE_NAME, media_id) if _MEDIA_ID.match(media_id) else None
    media = record.media if record is not None else None
    data = blobs.read(media_key(settings.INSTANCE_NAME, media_id)) if isinstance(blobs, LocalBlobs) else None
    if media is None or data is None:
        raise errors.NotFoundError("No stored media for this link.")
    served_type = str(media.get("mimetype") or BINARY)
    if served_type not in BINARY_MEDIA_TYPES:  # stored before a type left the list: still bytes
        served_type = BINARY
    name = download_name(safe_filename(media.get("file_name")), served_type, media_id)
    headers: dict[str, str | list[str]] = {
        "Content-Type": served_type,
        "Content-Disposition": content_disposition(name),
        **_FILE_HEADERS,
    }
    return Response(body=data, status_code=200, headers=headers)
