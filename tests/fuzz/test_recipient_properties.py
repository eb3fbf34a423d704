"""Property tests of recipient normalisation: anything either fails cleanly or is E.164 that round-trips."""

from __future__ import annotations

import re

import phonenumbers
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from chalicelib import errors
from chalicelib.services.recipients import Recipient, normalize_recipient

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
COUNTRIES = sorted(phonenumbers.SUPPORTED_REGIONS)
TYPES = [phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE]


def _examples() -> list[tuple[str, phonenumbers.PhoneNumber]]:
    found = []
    for region in COUNTRIES:
        for kind in TYPES:
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None and phonenumbers.is_valid_number(number):
                found.append((region, number))
    return found


EXAMPLES = _examples()
PHONE_TEXT = st.text(alphabet="+0123456789 ()-.", max_size=24)
ANY_TEXT = st.text(max_size=70)
JID_USER = st.from_regex(r"\A[0-9][0-9-]{4,40}\Z", fullmatch=True)


def _assert_e164(result: Recipient) -> None:
    assert E164.match(result.to), result
    assert result.number == result.to[1:]
    assert result.jid == f"{result.number}@s.whatsapp.net"
    parsed = phonenumbers.parse(result.to, None)
    assert phonenumbers.is_valid_number(parsed)
    assert phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == result.to


@settings(max_examples=500)
@given(to=st.one_of(ANY_TEXT, PHONE_TEXT), country=st.none() | st.sampled_from(COUNTRIES))
@example(to="+55 (11) 99999-9999", country=None)
@example(to="\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668", country=None)  # Arabic-Indic digits
@example(to="+٥٥١١٩٩٩٩٩٩٩٩٩", country=None)
@example(to="@g.us", country=None)
def test_any_input_is_refused_with_a_validation_error_or_is_e164_that_round_trips(
    to: str, country: str | None
) -> None:
    try:
        result = normalize_recipient(to, country)
    except errors.ValidationError as exc:
        assert exc.details and exc.details[0]["loc"] == ["to"]
        return
    if "@" in result.to:
        assert result.to == result.number == result.jid == to.strip()
        return
    _assert_e164(result)
    assert normalize_recipient(result.to) == result
    assert normalize_recipient(result.to, country) == result
    assert normalize_recipient(result.number) == result  # digits only: international without the +


@given(case=st.sampled_from(EXAMPLES), style=st.sampled_from(["national", "digits", "dashes"]))
def test_a_national_number_is_read_in_the_default_country(
    case: tuple[str, phonenumbers.PhoneNumber], style: str
) -> None:
    region, number = case
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    if style == "digits":
        national = re.sub(r"[^0-9]", "", national)
    elif style == "dashes":
        national = re.sub(r"[ ]", "-", national)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    try:
        result = normalize_recipient(national, region)
    except errors.ValidationError as exc:
        # Only when the digits are also a valid international number: then the client must say.
        assert "ambiguous" in exc.message, f"{region} national number {national!r} ({e164}) was refused"
        assert e164 in exc.message
        return
    assert result.to == e164, (region, national)
    _assert_e164(result)


@given(case=st.sampled_from(EXAMPLES), country=st.none() | st.sampled_from(COUNTRIES))
def test_an_international_number_is_e164_whatever_the_default_country(
    case: tuple[str, phonenumbers.PhoneNumber], country: str | None
) -> None:
    _, number = case
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    spaced = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    assert normalize_recipient(spaced, country).to == e164
    assert normalize_recipient(e164, country).to == e164


def test_without_a_default_country_digits_are_international() -> None:
    assert normalize_recipient("5511999999999").to == "+5511999999999"
    with pytest.raises(errors.ValidationError, match="DEFAULT_COUNTRY"):
        normalize_recipient("(11) 99999-9999")


@given(user=JID_USER, server=st.sampled_from(["g.us", "lid"]), pad=st.sampled_from(["", " ", "\t"]))
def test_group_and_lid_jids_pass_through(user: str, server: str, pad: str) -> None:
    jid = f"{user}@{server}"
    assert normalize_recipient(pad + jid + pad) == Recipient(to=jid, number=jid, jid=jid)
    assert normalize_recipient(jid, "BR") == Recipient(to=jid, number=jid, jid=jid)


@given(user=JID_USER, server=st.sampled_from(["s.whatsapp.net", "c.us", "broadcast", "G.US", "lid.x"]))
def test_other_jids_are_refused(user: str, server: str) -> None:
    with pytest.raises(errors.ValidationError):
        normalize_recipient(f"{user}@{server}")


@settings(max_examples=300)
@given(case=st.sampled_from(EXAMPLES), country=st.sampled_from(["DE", "MX", "AR", "IN", "BR", "US", "ES"]))
@example(case=("AU", phonenumbers.parse("+61412345678")), country="DE")
def test_an_international_number_without_plus_is_never_read_as_another_number(
    case: tuple[str, phonenumbers.PhoneNumber], country: str
) -> None:
    _, number = case
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    try:
        result = normalize_recipient(e164[1:], country)  # no "+": international or national?
    except errors.ValidationError:
        return  # refusing is fine: the client can add the +
    assert result.to == e164, f"{e164[1:]} with DEFAULT_COUNTRY={country} became {result.to}"
