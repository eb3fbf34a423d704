"""Planning a send: everything checked before Evolution is called, and the call itself described
as data (:class:`EvolutionSend`), which :mod:`chalicelib.services.messages` executes."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from chalicelib import errors
from chalicelib.models.api import SendTemplateRequest
from chalicelib.services.integrations import CLOUD_API, IntegrationCache, resolve_integration
from chalicelib.services.message_rules import content_fingerprint
from chalicelib.services.reactions import check_reaction_chat
from chalicelib.services.recipients import Recipient, normalize_recipient

if TYPE_CHECKING:
    from chalicelib.evolution import EvolutionClient
    from chalicelib.models.api import MediaIn, SendMessageRequest
    from chalicelib.services.templates import Registry
    from chalicelib.settings import Settings
    from chalicelib.store.base import Store

MB = 1024 * 1024
MEDIA_LIMITS = {"image": 5 * MB, "audio": 16 * MB, "video": 16 * MB, "document": 100 * MB}

# The EvolutionClient methods a send may call; each takes the instance first, then ``arguments``.
SendOperation = Literal[
    "send_text", "send_media", "send_audio", "send_location", "send_reaction", "send_template"
]


@dataclass(frozen=True)
class EvolutionSend:
    """The one Evolution call a send makes: the client method and its keyword arguments (after
    the instance)."""

    operation: SendOperation
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Outgoing:
    """One planned send: the Evolution call to make and what the record will keep."""

    type: str
    recipient: Recipient
    send: EvolutionSend
    fingerprint: str
    reference: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)  # text, caption, media, location, …


def base64_size(value: str, kind: str) -> int:
    """The decoded size of inline media, or a ValidationError (a data: prefix, bad base64, too big)."""
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


class MessagePlanner:
    """Turns a validated send request into an :class:`Outgoing`, or refuses it with a 4xx."""

    def __init__(
        self,
        *,
        evolution: EvolutionClient,
        store: Store,
        settings: Settings,
        integrations: IntegrationCache,
        templates_registry: Registry | None = None,
    ) -> None:
        self.evolution = evolution
        self.store = store
        self.settings = settings
        self.instance = settings.INSTANCE_NAME
        self.integrations = integrations
        self.templates_registry = templates_registry  # None: the bundled templates

    def plan(self, request: SendMessageRequest | SendTemplateRequest) -> Outgoing:
        """Validate everything that can be checked before sending, and describe the Evolution call."""
        if isinstance(request, SendTemplateRequest):
            return self._template(request)
        return self._message(request)

    def integration(self) -> str:
        """The instance's integration (:func:`resolve_integration`)."""
        return resolve_integration(
            self.instance, cache=self.integrations, store=self.store, evolution=self.evolution
        )

    def _recipient(self, to: str) -> Recipient:
        return normalize_recipient(to, self.settings.DEFAULT_COUNTRY)

    def _message(self, req: SendMessageRequest) -> Outgoing:
        recipient = self._recipient(req.to)
        common: dict[str, Any] = {"delay_ms": req.delay_ms, "quoted_id": req.reply_to}
        number = recipient.number
        if req.text is not None:
            return Outgoing(
                "text",
                recipient,
                EvolutionSend(
                    "send_text",
                    {"number": number, "text": req.text, "link_preview": req.link_preview, **common},
                ),
                content_fingerprint("text", req.text),
                req.reference,
                {"text": req.text},
            )
        if req.media is not None:
            return self._media(req.media, recipient, common, req.reference)
        if req.location is not None:
            loc = req.location
            arguments: dict[str, Any] = {"number": number, "latitude": loc.latitude}
            arguments["longitude"] = loc.longitude
            arguments |= {"name": loc.name, "address": loc.address, **common}
            return Outgoing(
                "location",
                recipient,
                EvolutionSend("send_location", arguments),
                content_fingerprint("location", f"{loc.latitude:.6f},{loc.longitude:.6f}"),
                req.reference,
                {"location": loc.model_dump()},
            )
        if req.reaction is None:  # unreachable: the model guarantees exactly one content field
            raise errors.ValidationError("Give exactly one of text, media, location or reaction.")
        return self._reaction(req.reaction.message_id, req.reaction.emoji, recipient, req.reference)

    def _media(
        self, media: MediaIn, recipient: Recipient, common: dict[str, Any], reference: str | None
    ) -> Outgoing:
        size = base64_size(media.base64, media.type) if media.base64 is not None else None
        source = media.base64 if media.base64 is not None else str(media.url)
        meta = {
            "type": media.type,
            "url": media.url,
            "mimetype": media.mimetype,
            "filename": media.filename,
            "size": size,
        }
        if media.type == "audio":
            send = EvolutionSend("send_audio", {"number": recipient.number, "audio": source, **common})
        else:
            arguments: dict[str, Any] = {"number": recipient.number, "mediatype": media.type, "media": source}
            arguments |= {"mimetype": media.mimetype, "caption": media.caption, "file_name": media.filename}
            send = EvolutionSend("send_media", {**arguments, **common})
        return Outgoing(
            media.type,
            recipient,
            send,
            content_fingerprint(media.type, media.caption or ""),
            reference,
            {"caption": media.caption, "media": {k: v for k, v in meta.items() if v is not None}},
        )

    def _reaction(self, target_id: str, emoji: str, recipient: Recipient, reference: str | None) -> Outgoing:
        target = self.store.get_message(self.instance, target_id)
        if target is None or target.message_id is None or target.jid is None:
            raise errors.NotFoundError(
                "reaction.message_id is not a message this service knows.",
                details=[{"loc": ["reaction", "message_id"], "msg": "unknown message"}],
            )
        check_reaction_chat(recipient, target)
        wa_id, chat, from_me = target.message_id, target.jid, target.direction == "outbound"
        return Outgoing(
            "reaction",
            Recipient(to=recipient.to, number=recipient.number, jid=chat),
            EvolutionSend(
                "send_reaction", {"message_id": wa_id, "remote_jid": chat, "from_me": from_me, "emoji": emoji}
            ),
            content_fingerprint("reaction", f"{wa_id}:{emoji}"),
            reference,
            {"reaction": {"message_id": wa_id, "emoji": emoji}},
        )

    def _template(self, req: SendTemplateRequest) -> Outgoing:
        """Render the template; send it as text (Baileys) or as the mapped Meta template (Cloud API)."""
        from chalicelib.services import templates  # noqa: PLC0415 - loads the registry on first use

        recipient = self._recipient(req.to)
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
            send = EvolutionSend(
                "send_template",
                {
                    "number": number,
                    "name": rendered.meta_name,
                    "language": rendered.meta_language,
                    "components": templates.build_meta_components(rendered),
                },
            )
            template_info["meta_name"] = rendered.meta_name
        else:
            send = EvolutionSend(
                "send_text",
                {
                    "number": number,
                    "text": rendered.text,
                    "delay_ms": req.delay_ms,
                    "quoted_id": req.reply_to,
                },
            )
        return Outgoing(
            "template",
            recipient,
            send,
            content_fingerprint("text", rendered.text),
            req.reference,
            {"text": rendered.text, "template": template_info},
        )
