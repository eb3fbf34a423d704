"""getBase64FromMediaMessage: the request Evolution's source expects, the answer decoded from one
bounded buffer, its errors and its limits."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
import responses

from chalicelib.evolution import errors as evo
from chalicelib.evolution.client import EvolutionClient
from chalicelib.evolution.media import body_limit, parse_media, read_bounded

BASE = "http://evolution.test"
URL = f"{BASE}/chat/getBase64FromMediaMessage/acme%20one"
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40


def answer(data: bytes, **fields: object) -> dict[str, object]:
    """Evolution 2.3.7's 201 body (whatsapp.baileys.service.ts getBase64FromMediaMessage)."""
    body: dict[str, object] = {
        "mediaType": "documentMessage",
        "fileName": "cv.pdf",
        "caption": 'a "base64":"trap" in a caption',
        "size": {"fileLength": str(len(data)), "height": None, "width": None},
        "mimetype": "application/pdf",
        "base64": base64.b64encode(data).decode(),
        "buffer": None,
    }
    body.update(fields)
    return body


@pytest.fixture
def client() -> EvolutionClient:
    return EvolutionClient(BASE, "evo-key", connect_timeout=0.5, read_timeout=1.0, max_read_timeout=2.0)


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


def test_get_media_asks_by_key_id_and_decodes_the_file_with_its_metadata(
    client: EvolutionClient, mocked: responses.RequestsMock
) -> None:
    mocked.post(URL, json=answer(PDF), status=201)

    content = client.get_media("acme one", "3EB0AA", max_bytes=1 << 20)

    sent = mocked.calls[0].request
    assert json.loads(sent.body or b"") == {"message": {"key": {"id": "3EB0AA"}}, "convertToMp4": False}
    assert sent.headers["apikey"] == "evo-key"
    assert content.data == PDF
    assert (content.mimetype, content.file_name, content.media_type) == (
        "application/pdf",
        "cv.pdf",
        "documentMessage",
    )


def test_the_message_not_found_answer_is_a_bad_request_error(
    client: EvolutionClient, mocked: responses.RequestsMock
) -> None:
    body = {"status": 400, "error": "Bad Request", "response": {"message": ["Message not found"]}}
    mocked.post(URL, json=body, status=400)

    with pytest.raises(evo.EvolutionBadRequestError) as caught:
        client.get_media("acme one", "GONE", max_bytes=1 << 20)
    assert caught.value.messages == ["Message not found"]


@pytest.mark.parametrize(
    ("status", "error"),
    [(500, evo.EvolutionServerError), (404, evo.EvolutionNotFoundError), (401, evo.EvolutionAuthError)],
)
def test_other_error_answers_keep_their_class(
    client: EvolutionClient, mocked: responses.RequestsMock, status: int, error: type[Exception]
) -> None:
    body = {"status": status, "error": "x", "response": {"message": ["Error: bad decrypt"]}}
    mocked.post(URL, json=body, status=status)

    with pytest.raises(error):
        client.get_media("acme one", "X", max_bytes=1 << 20)


def test_a_null_answer_means_the_message_carries_no_media(
    client: EvolutionClient, mocked: responses.RequestsMock
) -> None:
    mocked.post(URL, body="null", status=201, content_type="application/json")

    with pytest.raises(evo.EvolutionBadResponseError, match="no media"):
        client.get_media("acme one", "X", max_bytes=1 << 20)


def test_an_answer_declared_larger_than_the_limit_is_refused_before_reading(
    client: EvolutionClient, mocked: responses.RequestsMock
) -> None:
    mocked.post(URL, json=answer(PDF), status=201)

    with pytest.raises(evo.EvolutionTooLargeError):
        client.get_media("acme one", "X", max_bytes=1024)


def test_read_bounded_stops_as_soon_as_the_chunks_pass_the_limit() -> None:
    read: list[int] = []

    def chunks() -> Iterator[bytes]:
        for n in range(100):
            read.append(n)
            yield b"x" * 100

    with pytest.raises(evo.EvolutionTooLargeError):
        read_bounded(chunks(), limit=250)
    assert read == [0, 1, 2]
    with pytest.raises(evo.EvolutionTooLargeError):
        read_bounded(iter([b"x"]), limit=250, expected=251)


def test_a_decoded_file_over_the_limit_is_refused_even_within_the_body_limit() -> None:
    raw = bytearray(json.dumps(answer(b"%PDF" + b"x" * 2000)).encode())
    assert len(raw) <= body_limit(2100)

    with pytest.raises(evo.EvolutionTooLargeError):
        parse_media(raw, max_bytes=2000)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"base64":"%%%%"}', "does not decode"),
        (b'{"base64":"QUJD', "not terminated"),
        (b'{"base64":""}', "empty"),
        (b'[{"base64":"QUJD"}]', "one JSON object"),
        (b"<html>oops</html>", "not JSON"),
    ],
)
def test_unusable_answers_are_bad_responses(raw: bytes, reason: str) -> None:
    with pytest.raises(evo.EvolutionBadResponseError, match=reason):
        parse_media(bytearray(raw), max_bytes=1 << 20)


def test_a_spaced_answer_without_the_compact_key_still_parses() -> None:
    raw = bytearray(b'{"mimetype": "image/png", "base64" : "' + base64.b64encode(b"\x89PNG") + b'"}')

    assert parse_media(raw, max_bytes=100).data == b"\x89PNG"
