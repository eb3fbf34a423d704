"""Inbound media: fetched from Evolution when the message arrives (a background job), kept in the
blob store, and handed out as a time-limited link.

Retry policy of the fetch job: Evolution's transport failures, 5xx, 429 and a closed session are
retried up to :data:`MAX_ATTEMPTS` runs (about 5 s, 30 s, 2 min, 10 min, 30 min apart); its 4xx
answers ("Message not found" can precede Evolution saving the message; "bad decrypt" does not
heal) up to :data:`REFUSED_ATTEMPTS`; a file over ``MEDIA_MAX_BYTES`` is refused at once. Then the
fetch has failed for good: the record is settled ``stored: false`` and its ``message.received``
event goes out. A job lost between two writes is queued again by :meth:`MediaService.sweep`.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib import errors
from chalicelib.clock import now_iso
from chalicelib.evolution.errors import (
    EvolutionBadRequestError,
    EvolutionError,
    EvolutionNotFoundError,
    EvolutionTooLargeError,
)
from chalicelib.jobs.envelope import Job
from chalicelib.jobs.registry import DONE, Outcome, Registry, RunAgain
from chalicelib.media.names import download_name, safe_filename
from chalicelib.media.sniff import content_type

if TYPE_CHECKING:
    from chalicelib.evolution import EvolutionClient
    from chalicelib.jobs.transport import Transport
    from chalicelib.media.blobs import BlobStore
    from chalicelib.models.records import MessageRecord
    from chalicelib.store.base import Store

logger = logging.getLogger(__name__)

FETCH = "media.fetch"
MAX_ATTEMPTS = 6
REFUSED_ATTEMPTS = 3
RETRY_DELAYS_S = (5.0, 30.0, 120.0, 600.0, 1800.0)
SWEEP_AFTER = timedelta(minutes=60)  # longer than the whole retry chain: the job was lost
SWEEP_BATCH = 100


class MediaFetchError(Exception):
    """The media could not be fetched or kept; ``permanent`` when retrying cannot help."""

    def __init__(self, reason: str, *, permanent: bool = False, refused: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.refused = refused  # Evolution answered 4xx


def media_key(instance: str, record_id: str) -> str:
    return f"{instance}/{record_id}"


def retry_delay(attempt: int, *, scale: float = 1.0) -> float:
    """Seconds before run ``attempt + 1``."""
    return RETRY_DELAYS_S[min(attempt, len(RETRY_DELAYS_S)) - 1] * scale


@dataclass
class MediaService:
    """Fetching, keeping and linking the media of one instance's messages."""

    store: Store
    evolution: EvolutionClient
    blobs: BlobStore
    instance: str
    max_bytes: int
    url_ttl_s: int = 900
    transport: Transport | None = None
    retry_scale: float = 1.0
    clock: Callable[[], float] = time.time

    def register(self, registry: Registry) -> None:
        registry.register(FETCH, self.handle_fetch)

    # -- on arrival ------------------------------------------------------------------------------

    def queue_fetch(self, record_id: str, *, attempt: int = 1) -> None:
        """Queue the fetch of a new record's media. Failing here loses nothing: the record waits
        in the store, and the sweep queues it again."""
        if self.transport is None:
            return
        try:
            self.transport.enqueue(Job(kind=FETCH, payload={"id": record_id}, attempt=attempt))
        except Exception:
            logger.warning("could not queue a media fetch; the sweep will", exc_info=True)

    def handle_fetch(self, job: Job) -> Outcome:
        record_id = str(job.payload.get("id", ""))
        record = self.store.get_message(self.instance, record_id) if record_id.startswith("msg_") else None
        if record is None or record.media is None or record.media.get("stored") is True:
            return DONE  # gone, or already stored (a duplicate job, or fetched on request)
        try:
            self.fetch(record)
        except MediaFetchError as e:
            limit = REFUSED_ATTEMPTS if e.refused else MAX_ATTEMPTS
            if e.permanent or job.attempt >= limit:
                self._give_up(record, e.reason)
                return DONE
            logger.info("media fetch failed; retrying", extra={"id": record.id, "attempt": job.attempt})
            return RunAgain(at=self.clock() + retry_delay(job.attempt, scale=self.retry_scale))
        return DONE

    def _give_up(self, record: MessageRecord, reason: str) -> None:
        logger.warning("media fetch failed for good", extra={"id": record.id, "reason": reason[:200]})
        self.store.settle_media(
            self.instance, record.id, {"stored": False, "error": reason[:200]}, at=now_iso()
        )

    def sweep(self) -> int:
        """Queue a last fetch for records that have waited longer than any retry chain lasts."""
        waiting = self.store.media_waiting(self.instance, before=now_iso(SWEEP_AFTER), limit=SWEEP_BATCH)
        for record_id in waiting:
            self.queue_fetch(record_id, attempt=MAX_ATTEMPTS)
        return len(waiting)

    # -- fetching ----------------------------------------------------------------------------------

    def fetch(self, record: MessageRecord) -> MessageRecord:
        """Fetch the record's media from Evolution, keep it and settle the record ``stored: true``."""
        media = record.media or {}
        declared_size = media.get("size")
        if isinstance(declared_size, int) and declared_size > self.max_bytes:
            raise MediaFetchError(f"the file is {declared_size} bytes, over {self.max_bytes}", permanent=True)
        if record.message_id is None:
            raise MediaFetchError("the message has no WhatsApp id yet")
        try:
            content = self.evolution.get_media(self.instance, record.message_id, max_bytes=self.max_bytes)
        except EvolutionTooLargeError as e:
            raise MediaFetchError(str(e), permanent=True) from e
        except (EvolutionBadRequestError, EvolutionNotFoundError) as e:
            raise MediaFetchError(str(e), refused=True) from e
        except EvolutionError as e:
            raise MediaFetchError(str(e)) from e
        data = content.data
        served_type = content_type(data, content.mimetype or _text(media.get("mimetype")))
        name = download_name(safe_filename(_text(media.get("file_name"))), served_type, record.id)
        try:
            self.blobs.put(media_key(self.instance, record.id), data, content_type=served_type, filename=name)
        except Exception as e:
            raise MediaFetchError(f"the file could not be kept: {type(e).__name__}") from e
        update: dict[str, Any] = {
            "stored": True,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "mimetype": served_type,
        }
        declared = _text(media.get("mimetype"))
        if declared and declared != served_type:
            update["declared_mimetype"] = declared
        settled = self.store.settle_media(self.instance, record.id, update, at=now_iso())
        return settled or record

    # -- on request ---------------------------------------------------------------------------------

    def link(self, id_or_message_id: str, *, base_url: str) -> dict[str, Any]:
        """``GET /messages/{id}/media``: a time-limited URL, fetching the media first if needed."""
        record = self.store.get_message(self.instance, id_or_message_id)
        if record is None:
            raise errors.NotFoundError("No message with this id.")
        if record.media is None:
            raise errors.NotFoundError("This message has no media.")
        if record.media.get("stored") is not True:
            try:
                record = self.fetch(record)
            except MediaFetchError as e:
                raise errors.MediaUnavailableError(
                    "Evolution cannot give this message's media (expired, undecryptable or too large).",
                    details=[{"loc": ["media"], "msg": e.reason[:300]}],
                ) from e
        media = record.media or {}
        served_type = str(media.get("mimetype") or "application/octet-stream")
        filename = safe_filename(_text(media.get("file_name")))
        expires_at = int(self.clock()) + self.url_ttl_s
        url = self.blobs.link(
            media_key(self.instance, record.id),
            content_type=served_type,
            filename=download_name(filename, served_type, record.id),
            expires_in=self.url_ttl_s,
            expires_at=expires_at,
            base_url=base_url,
        )
        return {
            "url": url,
            "mimetype": served_type,
            "filename": filename,
            "size": media.get("size"),
            "sha256": media.get("sha256"),
            "expires_at": datetime.fromtimestamp(expires_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
