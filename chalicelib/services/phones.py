"""Phone numbers and WhatsApp JIDs: tell the address kinds apart and turn phone JIDs into E.164."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

_PHONE_SERVERS = frozenset({"s.whatsapp.net", "c.us"})


def _split(jid: str) -> tuple[str, str]:
    """``("5511…", "s.whatsapp.net")`` from ``5511…:12@s.whatsapp.net`` (device suffix dropped)."""
    user, _, server = jid.strip().rpartition("@")
    return user.partition(":")[0], server.lower()


def is_lid(jid: str | None) -> bool:
    """True for a ``…@lid`` privacy id (a WhatsApp user whose phone number is hidden)."""
    return bool(jid) and _split(jid or "")[1] == "lid"


def is_group(jid: str | None) -> bool:
    """True for a group chat JID (``…@g.us``)."""
    return bool(jid) and _split(jid or "")[1] == "g.us"


def jid_to_e164(jid: str | None) -> str | None:
    """``+5511999999999`` for ``5511999999999@s.whatsapp.net``; None for other JIDs and non-numbers.

    The JID's digits already are the international number, so they are kept as they are;
    phonenumbers only confirms they are a possible number for their country code. "Possible", not
    "valid": WhatsApp knows numbers the metadata may reject (e.g. Brazilian accounts registered
    before the ninth digit, whose JIDs still lack it).
    """
    return _jid_to_e164(jid) if jid and len(jid) <= 64 else None


@lru_cache(maxsize=4096)  # pure, and the same few senders write again and again
def _jid_to_e164(jid: str) -> str | None:
    user, server = _split(jid)
    if server not in _PHONE_SERVERS or not user.isascii() or not user.isdigit():
        return None
    e164 = f"+{user}"
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    if phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) != e164:
        return None
    return e164
