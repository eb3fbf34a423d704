"""Outbound recipients: a phone number, a group JID or a ``@lid`` id, normalised for Evolution."""

from __future__ import annotations

import re
from dataclasses import dataclass

from chalicelib import errors

_JID = re.compile(r"^[0-9][0-9-]{4,40}@(g\.us|lid)$")
_PUNCTUATION = re.compile(r"[\s().\-]")
_PHONE_CHARS = re.compile(r"^\+?[0-9]+$")


@dataclass(frozen=True)
class Recipient:
    """``to`` as the API shows it (E.164 or JID), what Evolution's ``number`` takes, the chat JID."""

    to: str
    number: str
    jid: str


def _invalid(message: str) -> errors.ValidationError:
    return errors.ValidationError(message, details=[{"loc": ["to"], "msg": message}])


def normalize_recipient(to: str, default_country: str | None = None) -> Recipient:
    """Validate ``to`` with phonenumbers; national numbers need ``default_country``."""
    import phonenumbers  # noqa: PLC0415 - its metadata is loaded only when a message is sent

    value = to.strip()
    if "@" in value:
        if not _JID.match(value):
            raise _invalid("to: a JID must be a group (…@g.us) or a lid (…@lid) id.")
        return Recipient(to=value, number=value, jid=value)
    compact = _PUNCTUATION.sub("", value)
    if not compact or not _PHONE_CHARS.match(compact) or len(compact) > 17:
        raise _invalid("to: must be a phone number in international format, such as +5511999999999.")
    international = compact.startswith("+") or default_country is None
    candidate = compact if compact.startswith("+") else ("+" + compact if international else compact)
    try:
        number = phonenumbers.parse(candidate, None if international else default_country)
    except phonenumbers.NumberParseException:
        raise _invalid("to: not a phone number that can be parsed.") from None
    if not phonenumbers.is_valid_number(number):
        hint = "" if default_country else " (national numbers need DEFAULT_COUNTRY configured)"
        raise _invalid(f"to: not a valid phone number for its country{hint}.")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    digits = e164[1:]
    return Recipient(to=e164, number=digits, jid=f"{digits}@s.whatsapp.net")
