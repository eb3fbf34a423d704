"""Sending messages safely: plan the Evolution call, claim the idempotency key, record the outcome.

What happens to an ``Idempotency-Key`` when a send fails (a choice this module makes):
- the request never left, or Evolution says it did not send (connect error, session closed,
  rate limited, unavailable): the key is **released**, so the same key may be retried later;
- Evolution refused the message (not on WhatsApp, a rejected body, a Graph error): the record is
  ``failed`` and the key **keeps that answer**;
- the outcome is unknown (read timeout, connection lost after sending, or an answer that cannot
  be read, such as a proxy's HTML 502): the record is ``unknown`` (504, or 502 for the unreadable
  answer) and the key keeps that answer: retrying with the same key never re-sends blindly. A
  later ``send.message`` webhook settles the record.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chalicelib import errors
from chalicelib.clock import new_message_id, now_iso
from chalicelib.evolution import errors as evo
from chalicelib.logs import mask_phone
from chalicelib.models.records import MessageRecord
from chalicelib.services.recipients import Recipient, normalize_recipient
from chalicelib.services.upstream import translate
from chalicelib.services.webhook_parse import content_fingerprint, map_status

if TYPE_CHECKING:
    from chalicelib.evolution import EvolutionClient
    from chalicelib.evolution.wire import SentMessage
    from chalicelib.models.api import MediaIn, SendMessageRequest, SendTemplateRequest
    from chalicelib.services.templates import Registry
    from chalicelib.settings import Settings
    from chalicelib.store.base import IdempotencyRecord, Store

logger = logging.getLogger(__name__)

IDEMPOTENCY_TTL_S = 24 * 3600
IN_PROGRESS_WAIT_S = 3.0  # how long a duplicate waits for the first request's answer
IN_PROGRESS_POLL_S = 0.1
IN_PROGRESS_RETRY_AFTER = 2
MB = 1024 * 1024
MEDIA_LIMITS = {"image": 5 * MB, "audio": 16 * MB, "video": 16 * MB, "document": 100 * MB}

# Evolution answered that it did not send: the idempotency key is released.
_NOT_SENT = (
    evo.EvolutionConnectError,
    evo.EvolutionNotConnectedError,
    evo.EvolutionRateLimitError,
    evo.EvolutionUnavailableError,
    evo.EvolutionNotFoundError,
    evo.EvolutionAuthError,
)

# No usable answer: the message may or may not have gone out.
_MAYBE_SENT = (evo.EvolutionTransportError, evo.EvolutionBadResponseError)

SendCall = Callable[["EvolutionClient", str], "SentMessage"]
BAILEYS = "WHATSAPP-BAILEYS"
CLOUD_API = "WHATSAPP-BUSINESS"
_INTEGRATIONS: dict[str, str] = {}  # per process: an instance's integration never changes


@dataclass
class Outgoing:
    """One planned send: the Evolution call to make and what the record will keep."""

    type: str
    recipient: Recipient
    call: SendCall
    fingerprint: str
    reference: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)  # text, caption, media, location, …


@dataclass(frozen=True)
class SendOutcome:
    """The HTTP answer to a send: status, body, extra headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def request_fingerprint(route: str, body: Any) -> str:
    """What makes two requests "the same" for an Idempotency-Key: route and canonical JSON body."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{route}\n{canonical}".encode()).hexdigest()


def _base64_size(value: str, kind: str) -> int:
    if value.lstrip().lower().startswith("data:"):
        raise errors.ValidationError(
            "media.base64 must be raw base64, without a data: prefix.",
            details=[{"loc": ["media", "base64"], "msg": "remove the data:...;base64, prefix"}],
        )
    try:
        size = len(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        raise errors.ValidationError(
            "media.base64 is not valid base64.",
            details=[{"loc": ["media", "base64"], "msg": "not valid base64"}],
        ) from None
    if size > MEDIA_LIMITS[kind]:
        limit = MEDIA_LIMITS[kind] // MB
        raise errors.ValidationError(
            f"media is too large for {kind} ({size} bytes; the limit is {limit} MB).",
            details=[{"loc": ["media", "base64"], "msg": f"over the {limit} MB limit for {kind}"}],
        )
    return size


class MessageService:
    """Sends messages through Evolution and keeps their records in the store."""

    def __init__(
        self,
        *,
        evolution: EvolutionClient,
        store: Store,
        settings: Settings,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        templates_registry: Registry | None = None,
        in_progress_wait_s: float = IN_PROGRESS_WAIT_S,
    ) -> None:
        self.in_progress_wait_s = in_progress_wait_s
        self.evolution = evolution
        self.templates_registry = templates_registry  # None: the bundled templates
        self.store = store
        self.settings = settings
        self.instance = settings.INSTANCE_NAME
        self._clock = clock
        self._sleep = sleep

    # -- planning --------------------------------------------------------------------------------

    def recipient(self, to: str) -> Recipient:
        return normalize_recipient(to, self.settings.DEFAULT_COUNTRY)

    def plan(self, req: SendMessageRequest) -> Outgoing:
        """Validate everything that can be checked before sending, and build the Evolution call."""
        recipient = self.recipient(req.to)
        common: dict[str, Any] = {"delay_ms": req.delay_ms, "quoted_id": req.reply_to}
        number = recipient.number
        if req.text is not None:
            text = req.text
            return Outgoing(
                "text",
                recipient,
                lambda c, i: c.send_text(i, number, text, link_preview=req.link_preview, **common),
                content_fingerprint("text", text),
                req.reference,
                {"text": text},
            )
        if req.media is not None:
            return self._plan_media(req.media, recipient, common, req.reference)
        if req.location is not None:
            loc = req.location
            return Outgoing(
                "location",
                recipient,
                lambda c, i: c.send_location(
                    i,
                    number,
                    latitude=loc.latitude,
                    longitude=loc.longitude,
                    name=loc.name,
                    address=loc.address,
                    **common,
                ),
                content_fingerprint("location", f"{loc.latitude:.6f},{loc.longitude:.6f}"),
                req.reference,
                {"location": loc.model_dump()},
            )
        if req.reaction is None:  # unreachable: the model guarantees exactly one content field
            raise errors.ValidationError("Give exactly one of text, media, location or reaction.")
        return self._plan_reaction(req.reaction.message_id, req.reaction.emoji, recipient, req.reference)

    def _plan_media(
        self, media: MediaIn, recipient: Recipient, common: dict[str, Any], reference: str | None
    ) -> Outgoing:
        size = _base64_size(media.base64, media.type) if media.base64 is not None else None
        source = media.base64 if media.base64 is not None else str(media.url)
        meta = {
            "type": media.type,
            "url": media.url,
            "mimetype": media.mimetype,
            "filename": media.filename,
            "size": size,
        }
        number = recipient.number
        call: SendCall
        if media.type == "audio":
            call = lambda c, i: c.send_audio(i, number, source, **common)  # noqa: E731
        else:
            call = lambda c, i: c.send_media(  # noqa: E731
                i,
                number,
                mediatype=media.type,
                media=source,
                mimetype=media.mimetype,
                caption=media.caption,
                file_name=media.filename,
                **common,
            )
        return Outgoing(
            media.type,
            recipient,
            call,
            content_fingerprint(media.type, media.caption or ""),
            reference,
            {"caption": media.caption, "media": {k: v for k, v in meta.items() if v is not None}},
        )

    def _plan_reaction(
        self, target_id: str, emoji: str, recipient: Recipient, reference: str | None
    ) -> Outgoing:
        target = self.store.get_message(self.instance, target_id)
        if target is None or target.message_id is None or target.jid is None:
            raise errors.NotFoundError(
                "reaction.message_id is not a message this service knows.",
                details=[{"loc": ["reaction", "message_id"], "msg": "unknown message"}],
            )
        wa_id, chat, from_me = target.message_id, target.jid, target.direction == "outbound"
        return Outgoing(
            "reaction",
            Recipient(to=recipient.to, number=recipient.number, jid=chat),
            lambda c, i: c.send_reaction(i, message_id=wa_id, remote_jid=chat, from_me=from_me, emoji=emoji),
            content_fingerprint("reaction", f"{wa_id}:{emoji}"),
            reference,
            {"reaction": {"message_id": wa_id, "emoji": emoji}},
        )

    def plan_template(self, req: SendTemplateRequest) -> Outgoing:
        """Render the template; send it as text (Baileys) or as the mapped Meta template (Cloud API)."""
        from chalicelib.services import templates  # noqa: PLC0415 - loads the registry on first use

        recipient = self.recipient(req.to)
        rendered = templates.render(
            req.template, req.language, req.variables, registry=self.templates_registry
        )
        template_info = {"name": rendered.template, "language": rendered.language}
        number = recipient.number
        if self.integration() == CLOUD_API:
            if rendered.meta_name is None or rendered.meta_language is None:
                raise errors.TemplateNotSupportedError(
                    f"Template {req.template!r} has no Meta template mapping, and this instance "
                    "is a WhatsApp Cloud API instance that can only send approved Meta templates."
                )
            meta_name, meta_language = rendered.meta_name, rendered.meta_language
            components = templates.build_meta_components(rendered)
            call: SendCall = lambda c, i: c.send_template(  # noqa: E731
                i, number, name=meta_name, language=meta_language, components=components
            )
            template_info["meta_name"] = meta_name
        else:
            text = rendered.text
            call = lambda c, i: c.send_text(  # noqa: E731
                i, number, text, delay_ms=req.delay_ms, quoted_id=req.reply_to
            )
        return Outgoing(
            "template",
            recipient,
            call,
            content_fingerprint("text", rendered.text),
            req.reference,
            {"text": rendered.text, "template": template_info},
        )

    def integration(self) -> str:
        """The instance's integration, learned once from fetchInstances and kept in the store."""
        cached = _INTEGRATIONS.get(self.instance)
        if cached:
            return cached
        saved = self.store.get_instance_state(self.instance)
        integration = saved.integration if saved else None
        if not integration:
            try:
                found = self.evolution.fetch_instances(self.instance)
            except evo.EvolutionError as exc:
                raise translate(exc) from exc
            mine = [i for i in found if i.get("name") == self.instance] or found
            if not mine:
                raise errors.InstanceNotFoundError(
                    "The WhatsApp instance does not exist in Evolution API; call POST /connect to create it."
                )
            integration = str(mine[0].get("integration") or BAILEYS)
            self.store.update_instance_state(self.instance, integration=integration)
        _INTEGRATIONS[self.instance] = integration
        return integration

    # -- delivery --------------------------------------------------------------------------------

    def deliver(
        self, plan: Callable[[], Outgoing], *, idempotency_key: str | None, fingerprint: str
    ) -> SendOutcome:
        """Claim the key, send once, record the outcome, keep the answer under the key."""
        key = f"{self.instance}:{idempotency_key}" if idempotency_key else None
        if key is not None:
            replay = self._claim(key, fingerprint)
            if replay is not None:
                return replay
        try:
            outgoing = plan()
        except BaseException:
            if key is not None:
                self.store.release_idempotency(key)
            raise
        outcome = self._send(outgoing, key)
        if key is not None:
            self.store.complete_idempotency(
                key, status_code=outcome.status, body=outcome.body, headers=outcome.headers
            )
        return outcome

    def _claim(self, key: str, fingerprint: str) -> SendOutcome | None:
        """None when this request owns the key; else the stored answer (or an error)."""
        deadline = self._clock() + self.in_progress_wait_s
        while True:
            claim = self.store.claim_idempotency(key, fingerprint, now=self._clock(), ttl_s=IDEMPOTENCY_TTL_S)
            if claim.claimed:
                return None
            record = claim.record
            if record.fingerprint != fingerprint:
                raise errors.IdempotencyKeyReusedError(
                    "This Idempotency-Key was used with a different request; use a new key."
                )
            if record.state == "done":
                return _replay(record)
            if self._clock() >= deadline:
                raise errors.IdempotencyKeyInUseError(
                    "A request with this Idempotency-Key is still being processed; retry shortly.",
                    retry_after=IN_PROGRESS_RETRY_AFTER,
                )
            self._sleep(IN_PROGRESS_POLL_S)

    def _send(self, outgoing: Outgoing, key: str | None) -> SendOutcome:
        try:
            sent = outgoing.call(self.evolution, self.instance)
        except evo.EvolutionError as exc:
            error = translate(exc, sending=True)
            if isinstance(exc, _NOT_SENT):
                if key is not None:
                    self.store.release_idempotency(key)
                raise error from exc
            status = "unknown" if isinstance(exc, _MAYBE_SENT) else "failed"
            record = self._record(outgoing, status=status, error=error)
            if status == "unknown":
                self._settle_from_webhook(record)
            logger.warning(
                "send %s", status, extra={"to": mask_phone(outgoing.recipient.to), "error": error.code}
            )
            body = errors.error_body(error)
            body["Details"] = [{"id": record.id, "status": record.status}]
            return SendOutcome(error.status, body, error.headers())
        status = map_status(sent.status) or "pending"
        record = self._record(
            outgoing,
            status=status,
            message_id=sent.message_id,
            jid=sent.remote_jid or outgoing.recipient.jid,
        )
        return SendOutcome(201, _accepted(record))

    def _settle_from_webhook(self, record: MessageRecord) -> None:
        """A ``send.message`` may have come in while we waited for the answer (Evolution sent, then
        the answer was lost or late): it was parked for us, so attach its id now. Best effort."""
        if record.jid is None or record.fingerprint is None:
            return
        try:
            parked = self.store.take_parked_send(
                self.instance, jid=record.jid, fingerprint=record.fingerprint, now=self._clock()
            )
            if parked is not None:
                message_id, status = parked
                self.store.attach_message_id(record.id, message_id, at=now_iso(), status=status)
        except errors.StoreUnavailableError:
            logger.warning("could not look for a parked send.message", exc_info=True)

    def _record(
        self,
        outgoing: Outgoing,
        *,
        status: str,
        message_id: str | None = None,
        jid: str | None = None,
        error: errors.ServiceError | None = None,
    ) -> MessageRecord:
        now = now_iso()
        record = MessageRecord.model_validate(
            {
                "id": new_message_id(),
                "instance": self.instance,
                "direction": "outbound",
                "message_id": message_id,
                "type": outgoing.type,
                "status": status,
                "status_history": [{"status": status, "at": now}],
                "to": outgoing.recipient.to,
                "jid": jid or outgoing.recipient.jid,
                "origin": "api",
                "reference": outgoing.reference,
                "fingerprint": outgoing.fingerprint,
                "created_at": now,
                "updated_at": now,
                "error": {"code": error.code, "message": error.message} if error else None,
                **{k: v for k, v in outgoing.extras.items() if v is not None},
            }
        )
        return self.store.create_message(record)

    # -- reading ---------------------------------------------------------------------------------

    def get(self, id_or_message_id: str) -> dict[str, Any]:
        record = self.store.get_message(self.instance, id_or_message_id)
        if record is None:
            raise errors.NotFoundError("No message with this id.")
        return record.public()

    def list(
        self, *, direction: str | None, status: str | None, after: str | None, limit: int
    ) -> dict[str, Any]:
        try:
            page = self.store.list_messages(
                self.instance, direction=direction, status=status, after=after, limit=limit
            )
        except ValueError:
            raise errors.ValidationError(
                "after: not a cursor this API returned.",
                details=[{"loc": ["after"], "msg": "invalid cursor"}],
            ) from None
        return {"items": [r.public() for r in page.items], "next": page.next}


def _accepted(record: MessageRecord) -> dict[str, Any]:
    """The 201 body of a send (API.md)."""
    body: dict[str, Any] = {
        "id": record.id,
        "message_id": record.message_id,
        "to": record.to,
        "jid": record.jid,
        "type": record.type,
        "status": record.status,
        "reference": record.reference,
        "created_at": record.created_at,
    }
    if record.template is not None:
        body["template"] = record.template
    return body


def _replay(record: IdempotencyRecord) -> SendOutcome:
    body = record.body or {}
    headers = {**record.headers, "Idempotent-Replayed": "true"}
    return SendOutcome(record.status_code or 200, body, headers)
