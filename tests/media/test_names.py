"""File names as handed out: no paths, no header-breaking characters, bounded, with a fallback."""

from __future__ import annotations

import pytest

from chalicelib.media.names import MAX_NAME_CHARS, content_disposition, download_name, safe_filename


@pytest.mark.parametrize(
    ("given", "safe"),
    [
        ("cv.pdf", "cv.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\ana\\cv final.pdf", "cv final.pdf"),
        ('a"b\r\nSet-Cookie: x.pdf', "a_b_Set-Cookie_ x.pdf"),
        (".hidden", "hidden"),
        ("currículo ñ.pdf", "currículo ñ.pdf"),
        ("", None),
        (None, None),
        ("../", None),
        ('"""', None),
    ],
)
def test_names_are_sanitised(given: str | None, safe: str | None) -> None:
    assert safe_filename(given) == safe


def test_a_long_name_is_cut_but_keeps_its_extension() -> None:
    name = safe_filename("a" * 500 + ".pdf")

    assert name is not None and len(name) <= MAX_NAME_CHARS and name.endswith(".pdf")


def test_a_download_without_a_name_gets_the_id_and_the_types_extension() -> None:
    assert download_name(None, "image/jpeg", "msg_1") == "msg_1.jpg"
    assert download_name(None, "application/x-unknown", "msg_1") == "msg_1.bin"
    assert download_name("cv.pdf", "application/pdf", "msg_1") == "cv.pdf"


def test_the_disposition_is_an_attachment_with_an_ascii_fallback_and_the_utf8_name() -> None:
    assert content_disposition("currículo.pdf") == (
        "attachment; filename=\"curr_culo.pdf\"; filename*=UTF-8''curr%C3%ADculo.pdf"
    )
