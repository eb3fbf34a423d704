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
    """Validate ``to`` with phonenumbers; national numbers need ``default_country``.

    phonenumbers (and its metadata) is imported only when a message is sent.
    """
    value = to.strip()
    if "@" in value:
        if not _JID.match(value):
            raise _invalid("to: a JID must be a group (…@g.us) or a lid (…@lid) id.")
        return Recipient(to=value, number=value, jid=value)
    compact = _PUNCTUATION.sub("", value)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not compact or not _PHONE_CHARS.match(compact) or len(compact) > 17:
        raise _invalid("to: must be a phone number in international format, such as +5511999999999.")
    if compact.startswith("+") or default_country is None:
        candidates = {_parse("+" + compact.lstrip("+"), None)}
    else:
        # Without "+", the digits may be international or national to DEFAULT_COUNTRY: take the
        # reading that is a valid number, and refuse when both are valid and differ.
        candidates = {_parse("+" + compact, None), _parse(compact, default_country)}
    valid = {c for c in candidates if c is not None}
    if len(valid) > 1:  # a message to the wrong person is worse than a 400
        readings = " or ".join(sorted(valid))
        raise _invalid(f"to: ambiguous without '+': it reads as {readings}; add '+' and the country code.")
    if not valid:
        hint = "" if default_country else " (national numbers need DEFAULT_COUNTRY configured)"
        raise _invalid(f"to: not a valid phone number for its country{hint}.")
    e164 = valid.pop()
    digits = e164[1:]
    return Recipient(to=e164, number=digits, jid=f"{digits}@s.whatsapp.net")


def _parse(text: str, region: str | None) -> str | None:
    """The E.164 form of ``text`` read in ``region`` (None: international), if it is a valid number."""
    import phonenumbers  # noqa: PLC0415

    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    e164 = str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return e164 if len(e164) <= 16 else None  # E.164 allows 15 digits; some metadata accepts more
