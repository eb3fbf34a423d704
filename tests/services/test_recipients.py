"""Recipient normalisation: E.164 out, national numbers in DEFAULT_COUNTRY, ambiguity refused."""

from __future__ import annotations

import pytest

from chalicelib import errors
from chalicelib.services.recipients import normalize_recipient


def test_digits_that_are_both_a_valid_international_and_national_number_are_refused() -> None:
    with pytest.raises(
        errors.ValidationError,
        match=r"ambiguous.*\+4961412345678.*\+61412345678|ambiguous.*\+61412345678.*\+4961412345678",
    ):
        normalize_recipient("61412345678", "DE")


@pytest.mark.parametrize(
    ("raw", "country", "e164"),
    [
        ("+61 412 345 678", "DE", "+61412345678"),
        ("0061412345678", "DE", "+61412345678"),
        ("(11) 99999-9999", "BR", "+5511999999999"),
        ("5511999999999", "BR", "+5511999999999"),  # too long to be national: international
        ("5511999999999", None, "+5511999999999"),
    ],
)
def test_unambiguous_numbers_become_e164(raw: str, country: str | None, e164: str) -> None:
    recipient = normalize_recipient(raw, country)
    assert recipient.to == e164
    assert recipient.number == e164[1:]
    assert recipient.jid == f"{e164[1:]}@s.whatsapp.net"


@pytest.mark.parametrize(
    "raw",
    [
        "+٥٥١١٩٩٩٩٩٩٩٩٩",  # Arabic-Indic
        "+۵۵۱۱۹۹۹۹۹۹۹۹۹",  # Persian
        "+５５１１９９９９９９９９９",  # fullwidth
        "+𝟓𝟓𝟏𝟏𝟗𝟗𝟗𝟗𝟗𝟗𝟗𝟗𝟗",  # mathematical bold
        "+55119999９9999",  # one fullwidth digit among ASCII ones
        "+5511999999²99",
        "٥٥١١٩٩٩٩٩٩٩٩٩",
        "١٢٠٣٦٣٠٢١٢٣٤٥٦٧٨٩@g.us",
        "１２３４５６７８９@lid",
    ],
)
@pytest.mark.parametrize("country", [None, "BR"])
def test_only_ascii_digits_make_a_recipient(raw: str, country: str | None) -> None:
    with pytest.raises(errors.ValidationError):
        normalize_recipient(raw, country)


def test_a_number_longer_than_e164_allows_is_refused_even_when_its_metadata_accepts_it() -> None:
    with pytest.raises(errors.ValidationError):
        normalize_recipient("+4920100000000000")  # 16 digits
