"""Content types from the bytes' signature, and when the sender's declared type is kept."""

from __future__ import annotations

import pytest

from chalicelib.media.sniff import BINARY_MEDIA_TYPES, OCTET_STREAM, content_type, sniff

SAMPLES = {
    "image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF",
    "image/png": b"\x89PNG\r\n\x1a\n\x00\x00",
    "image/gif": b"GIF89a\x01\x00",
    "image/webp": b"RIFF\x10\x00\x00\x00WEBPVP8 ",
    "application/pdf": b"%PDF-1.7\n",
    "audio/ogg": b"OggS\x00\x02",
    "video/mp4": b"\x00\x00\x00\x18ftypmp42",
    "video/3gpp": b"\x00\x00\x00\x18ftyp3gp5",
    "audio/mpeg": b"ID3\x04\x00",
    "application/zip": b"PK\x03\x04\x14\x00",
}


@pytest.mark.parametrize(("expected", "head"), SAMPLES.items())
def test_each_type_whatsapp_carries_is_recognised_by_its_signature(expected: str, head: bytes) -> None:
    assert sniff(head + b"\x00" * 32) == expected
    assert expected in BINARY_MEDIA_TYPES


def test_a_bare_mp3_frame_header_is_mpeg_audio() -> None:
    assert sniff(b"\xff\xfb\x90\x64") == "audio/mpeg"


@pytest.mark.parametrize(
    ("declared", "data", "served"),
    [
        ("application/pdf", SAMPLES["application/pdf"], "application/pdf"),
        ("image/png", SAMPLES["image/jpeg"], "image/jpeg"),  # the bytes win when they disagree
        ("application/pdf", b"MZ\x90\x00 an executable", OCTET_STREAM),  # never served as claimed
        ("audio/ogg; codecs=opus", SAMPLES["audio/ogg"], "audio/ogg"),
        ("audio/mp4", SAMPLES["video/mp4"], "audio/mp4"),  # an m4a is an mp4 container
        (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            SAMPLES["application/zip"],
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (None, SAMPLES["image/png"], "image/png"),
        ("text/html", b"<html><script>alert(1)</script>", OCTET_STREAM),  # unknown bytes, unsafe claim
        ("application/msword", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/msword"),
        ("not a type", b"plain", OCTET_STREAM),
        (None, b"plain", OCTET_STREAM),
    ],
)
def test_the_served_type_follows_the_bytes_where_the_declaration_disagrees(
    declared: str | None, data: bytes, served: str
) -> None:
    assert content_type(data, declared) == served
