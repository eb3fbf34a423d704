"""Reactions go to the chat of the message they react to; a ``to`` naming another chat is refused."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib import errors
from chalicelib.services.phones import is_group

if TYPE_CHECKING:
    from chalicelib.models.records import MessageRecord
    from chalicelib.services.recipients import Recipient


def check_reaction_chat(recipient: Recipient, target: MessageRecord) -> None:
    """Raise a 400 ValidationError (``loc`` ``["to"]``) unless ``recipient`` names the chat of
    ``target``: its chat JID, the ``to`` it was sent to, or (one-to-one chats) its sender's E.164
    number or lid. WhatsApp delivers a reaction to the reacted message's chat whatever ``to``
    says, so a record with another recipient would be false."""
    chat = target.jid
    names = {chat, target.to}
    if not is_group(chat):
        names |= {target.from_, target.from_lid}
    if recipient.to in names or recipient.jid in names:
        return
    shown = target.to or target.from_ or chat or "another chat"
    raise errors.ValidationError(
        f"to: a reaction goes to the chat of the message it reacts to ({shown}), not to {recipient.to}.",
        details=[{"loc": ["to"], "msg": f"must be the reacted message's chat, {shown}"}],
    )
