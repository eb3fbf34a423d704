"""Consent: opt-out / opt-in keywords in inbound texts, the suppression list, and the send rule
(no template or broadcast to a suppressed number; a plain reply only within 24 h of their last
message)."""

from __future__ import annotations

import logging
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from chalicelib import errors
from chalicelib.clock import now_iso
from chalicelib.events.types import Event, new_event_id
from chalicelib.logs import mask_phone
from chalicelib.models.broadcasts import Suppression

if TYPE_CHECKING:
    from chalicelib.models.records import MessageRecord
    from chalicelib.store.base import Store

logger = logging.getLogger(__name__)

OPT_OUT = ("STOP", "BAJA", "ALTO", "CANCELAR", "UNSUBSCRIBE")
OPT_IN = ("START", "ALTA")
REPLY_WINDOW = timedelta(hours=24)
MAX_KEYWORD_TEXT = 64  # a longer text is a sentence, never a bare keyword

Intent = Literal["opt_out", "opt_in"]


def fold(text: str) -> str:
    """``text`` without surrounding blanks, trailing ``.``/``!``, accents and case."""
    core = text.strip().rstrip(".!").strip()
    decomposed = unicodedata.normalize("NFKD", core)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def keywords(configured: str) -> frozenset[str]:
    """Comma-separated extra keywords, folded."""
    return frozenset(fold(word) for word in configured.split(",") if fold(word))


class Keywords:
    """The opt-out and opt-in words (the built-in ones plus the configured ones)."""

    def __init__(self, *, opt_out: str = "", opt_in: str = "") -> None:
        self.opt_out = keywords(",".join(OPT_OUT)) | keywords(opt_out)
        self.opt_in = (keywords(",".join(OPT_IN)) | keywords(opt_in)) - self.opt_out

    def intent(self, text: str | None) -> Intent | None:
        """What a whole inbound text asks for; a keyword inside a longer sentence asks nothing."""
        if not text or len(text) > MAX_KEYWORD_TEXT:
            return None
        word = fold(text)
        if word in self.opt_out:
            return "opt_out"
        if word in self.opt_in:
            return "opt_in"
        return None


def opt_event(
    instance: str, type_: Literal["recipient.opted_out", "recipient.opted_in"], to: str, reason: str
) -> Event:
    at = now_iso()
    return Event(
        id=new_event_id(),
        type=type_,
        created_at=at,
        instance=instance,
        data={"to": to, "reason": reason, "at": at},
    )


class ConsentService:
    """Applies keywords, keeps the suppression list, and says whether a send is allowed."""

    def __init__(self, *, store: Store, instance: str, keywords: Keywords | None = None) -> None:
        self.store = store
        self.instance = instance
        self.keywords = keywords or Keywords()

    # -- inbound ---------------------------------------------------------------------------------

    def on_inbound(self, record: MessageRecord) -> Intent | None:
        """An inbound message was stored: apply its keyword, or note when a suppressed number wrote."""
        sender = record.from_
        if record.direction != "inbound" or not sender:
            return None
        at = record.timestamp or record.created_at
        intent = self.keywords.intent(record.text)
        if intent == "opt_out":
            suppression = Suppression(
                instance=self.instance, to=sender, reason="keyword", created_at=now_iso(), last_inbound_at=at
            )
            if self.store.suppress(
                suppression, event=opt_event(self.instance, "recipient.opted_out", sender, "keyword")
            ):
                logger.info("recipient opted out", extra={"to": mask_phone(sender)})
        elif intent == "opt_in":
            if self.store.unsuppress(
                self.instance, sender, event=opt_event(self.instance, "recipient.opted_in", sender, "keyword")
            ):
                logger.info("recipient opted in", extra={"to": mask_phone(sender)})
        else:
            self.store.note_inbound(self.instance, sender, at=at)
        return intent

    # -- the send rule ---------------------------------------------------------------------------

    def check_send(self, to: str, *, template: bool, now: datetime | None = None) -> None:
        """Raise :class:`RecipientOptedOutError` unless ``to`` (E.164) may get this send."""
        if not to.startswith("+"):
            return  # groups and lid ids are not numbers that opt out
        suppression = self.store.get_suppression(self.instance, to)
        if suppression is None:
            return
        if not template and within_reply_window(suppression, now or datetime.now(UTC)):
            return
        raise errors.RecipientOptedOutError(
            "This recipient opted out: templates and broadcasts are refused, and a plain message is "
            "allowed only within 24 hours of their last message."
        )

    # -- the suppression list --------------------------------------------------------------------

    def add(self, to: str, note: str | None) -> tuple[dict[str, Any], bool]:
        """Suppress ``to`` by hand; the suppression and whether it is new."""
        suppression = Suppression(
            instance=self.instance, to=to, reason="manual", note=note, created_at=now_iso()
        )
        created = self.store.suppress(
            suppression, event=opt_event(self.instance, "recipient.opted_out", to, "manual")
        )
        current = self.store.get_suppression(self.instance, to) if not created else suppression
        return (current or suppression).public(), created

    def remove(self, to: str) -> None:
        if not self.store.unsuppress(
            self.instance, to, event=opt_event(self.instance, "recipient.opted_in", to, "manual")
        ):
            raise errors.NotFoundError("This number is not suppressed.")

    def list(self, *, after: str | None, limit: int) -> dict[str, Any]:
        try:
            items, cursor = self.store.list_suppressions(self.instance, after=after, limit=limit)
        except ValueError:
            raise errors.ValidationError(
                "after: not a cursor this API returned.",
                details=[{"loc": ["query", "after"], "msg": "invalid cursor"}],
            ) from None
        return {"items": [s.public() for s in items], "next": cursor}


def within_reply_window(suppression: Suppression, now: datetime) -> bool:
    """Whether the suppressed number wrote to us less than 24 hours before ``now``."""
    if suppression.last_inbound_at is None:
        return False
    last = datetime.fromisoformat(suppression.last_inbound_at.replace("Z", "+00:00"))
    return now - last < REPLY_WINDOW
