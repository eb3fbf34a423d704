"""Message rules shared by sends and webhooks: status spellings and content fingerprints."""

from __future__ import annotations

import pytest

from chalicelib.services.message_rules import content_fingerprint, map_status, status_name


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        (3, "DELIVERY_ACK"),
        ("0", "ERROR"),
        (" read ", "READ"),
        ("", None),
        (7, "7"),
        (True, None),
        (1.5, None),
    ],
)
def test_status_names_come_from_numbers_or_any_spelling(raw: object, name: str | None) -> None:
    assert status_name(raw) == name


def test_a_numeric_code_and_its_name_map_to_the_same_status() -> None:
    assert map_status(2) == map_status("SERVER_ACK") == "sent"
    assert map_status("7") is None


def test_the_fingerprint_is_32_hex_chars_and_depends_on_kind_and_value() -> None:
    fingerprint = content_fingerprint("text", "Hola Ana")
    assert len(fingerprint) == 32 and int(fingerprint, 16) >= 0
    assert fingerprint != content_fingerprint("text", "Hola Eva")
    assert fingerprint != content_fingerprint("image", "Hola Ana")


def test_the_fingerprint_ignores_whitespace_runs_and_unicode_composition() -> None:
    assert content_fingerprint("text", "  Hola\r\n  Ana ") == content_fingerprint("text", "Hola Ana")
    assert content_fingerprint("text", "Jose\u0301") == content_fingerprint("text", "Jos\u00e9")
    assert content_fingerprint(" TEXT ", "x") == content_fingerprint("text", "x")
