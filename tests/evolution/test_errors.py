"""Every error shape of CONTRACT.md §2 becomes the right typed error, in one function."""

from __future__ import annotations

import json

import pytest

from chalicelib.evolution import errors as evo
from chalicelib.evolution.errors import error_from_response


def _envelope(status: int, message: object) -> str:
    return json.dumps({"status": status, "error": "x", "response": {"message": message}})


@pytest.mark.parametrize(
    ("status", "text", "expected", "expect_key"),
    [
        (401, _envelope(401, "Unauthorized"), evo.EvolutionAuthError, False),
        (404, _envelope(404, ['The "acme" instance does not exist']), evo.EvolutionNotFoundError, False),
        (403, _envelope(403, ['This name "acme" is already in use.']), evo.EvolutionNameTakenError, False),
        (403, _envelope(403, "Unauthorized"), evo.EvolutionAuthError, False),
        (400, _envelope(400, [['instance requires property "text"']]), evo.EvolutionSchemaError, True),
        (
            400,
            _envelope(400, [{"jid": "5511@s.whatsapp.net", "exists": False, "number": "5511"}]),
            evo.EvolutionNotOnWhatsAppError,
            True,
        ),
        (500, _envelope(500, "Connection Closed"), evo.EvolutionNotConnectedError, True),
        (400, _envelope(400, ["Error: Connection Closed"]), evo.EvolutionNotConnectedError, True),
        (500, _envelope(500, ["Error: Connection Closed"]), evo.EvolutionNotConnectedError, True),
        (
            500,
            _envelope(500, ["TypeError: Cannot read properties of undefined (reading 'waUploadToServer')"]),
            evo.EvolutionNotConnectedError,
            True,
        ),
        (
            400,
            _envelope(400, ["TypeError: Cannot read properties of undefined (reading 'sendMessage')"]),
            evo.EvolutionNotConnectedError,
            True,
        ),
        (500, _envelope(500, ["Error: connect ECONNREFUSED 127.0.0.1:9"]), evo.EvolutionServerError, True),
        (404, _envelope(404, ["Cannot POST /message/sendFax/acme"]), evo.EvolutionServerError, True),
        (
            500,
            _envelope(500, "Cannot read properties of undefined (reading 'onWhatsApp')"),
            evo.EvolutionNotConnectedError,
            True,
        ),
        (
            400,
            _envelope(400, ['The "acme" instance is not connected']),
            evo.EvolutionNotConnectedError,
            False,
        ),
        (400, _envelope(400, ["Text is required"]), evo.EvolutionBadRequestError, True),
        (500, _envelope(500, ["Error: something broke"]), evo.EvolutionServerError, True),
        (500, _envelope(500, "Method not available in the Baileys service"), evo.EvolutionServerError, True),
        (
            400,
            json.dumps({"status": 400, "error": "Bad Request", "message": ["numbers must be an array"]}),
            evo.EvolutionBadRequestError,
            False,
        ),
        (
            503,
            json.dumps({"code": "LICENSE_REQUIRED", "message": "A license is required"}),
            evo.EvolutionUnavailableError,
            True,
        ),
        (429, _envelope(429, "Too many requests"), evo.EvolutionRateLimitError, True),
        (502, "<html><body><h1>502 Bad Gateway</h1></body></html>", evo.EvolutionBadResponseError, True),
        (500, "", evo.EvolutionBadResponseError, False),
        (503, "<html>down</html>", evo.EvolutionUnavailableError, False),
        (
            200,
            json.dumps({"error": True, "message": "Connection Closed"}),
            evo.EvolutionNotConnectedError,
            False,
        ),
        (
            200,
            json.dumps({"error": True, "message": "Error: restart failed"}),
            evo.EvolutionServerError,
            False,
        ),
        (
            201,
            json.dumps(
                {
                    "message": "(#131009) Parameter value is not valid",
                    "type": "OAuthException",
                    "code": 131009,
                    "error_data": {"details": "x"},
                    "fbtrace_id": "AbC",
                }
            ),
            evo.EvolutionGraphError,
            True,
        ),
        (
            201,
            json.dumps(
                {"message": "Rate limit hit", "type": "OAuthException", "code": 130429, "fbtrace_id": "A"}
            ),
            evo.EvolutionRateLimitError,
            True,
        ),
        (201, json.dumps({"status": "PENDING"}), evo.EvolutionBadResponseError, True),
        (201, "<html>ok</html>", evo.EvolutionBadResponseError, True),
        (200, "", evo.EvolutionBadResponseError, False),
    ],
)
def test_each_error_shape_becomes_its_typed_error(
    status: int, text: str, expected: type[evo.EvolutionAPIError], expect_key: bool
) -> None:
    _, error = error_from_response("op", status, text, expect_message_key=expect_key)
    assert type(error) is expected
    assert error is not None and error.status == status
    assert error.messages, "an error always carries at least one message"


def test_a_send_with_a_key_id_is_a_success_even_with_http_201() -> None:
    body = {"key": {"id": "3EB0ABC", "remoteJid": "5511@s.whatsapp.net", "fromMe": True}, "status": "PENDING"}
    parsed, error = error_from_response("sendText", 201, json.dumps(body), expect_message_key=True)
    assert error is None
    assert parsed == body


def test_rate_limit_reads_retry_after_from_the_header() -> None:
    _, error = error_from_response("op", 429, "", headers={"Retry-After": "17"})
    assert isinstance(error, evo.EvolutionRateLimitError)
    assert error.retry_after == 17


def test_not_on_whatsapp_keeps_the_numbers_that_failed() -> None:
    text = _envelope(
        400, [{"jid": "5511900000000@s.whatsapp.net", "exists": False, "number": "5511900000000"}]
    )
    _, error = error_from_response("sendText", 400, text)
    assert isinstance(error, evo.EvolutionNotOnWhatsAppError)
    assert error.not_on_whatsapp == ["5511900000000"]


def test_schema_errors_flatten_every_nested_message() -> None:
    text = _envelope(400, [['instance requires property "text"'], ["instance.number is not a string"]])
    _, error = error_from_response("sendText", 400, text)
    assert isinstance(error, evo.EvolutionSchemaError)
    assert error.messages == ['instance requires property "text"', "instance.number is not a string"]


@pytest.mark.parametrize(
    ("error", "fate"),
    [
        (evo.EvolutionConnectError("op", "refused"), "not_sent"),
        (evo.EvolutionNotConnectedError("op", 400, ["Connection Closed"]), "not_sent"),
        (evo.EvolutionRateLimitError("op", 429, ["slow down"]), "not_sent"),
        (evo.EvolutionUnavailableError("op", 503, ["busy"]), "not_sent"),
        (evo.EvolutionNotFoundError("op", 404, ["no instance"]), "not_sent"),
        (evo.EvolutionAuthError("op", 401, ["Unauthorized"]), "not_sent"),
        (evo.EvolutionTimeoutError("op", "slow"), "maybe_sent"),
        (evo.EvolutionConnectionLostError("op", "reset"), "maybe_sent"),
        (evo.EvolutionBadResponseError("op", 502, ["HTML"]), "maybe_sent"),
        (evo.EvolutionNotOnWhatsAppError("op", 400, ["5511"]), "refused"),
        (evo.EvolutionSchemaError("op", 400, ["text required"]), "refused"),
        (evo.EvolutionGraphError("op", 201, ["bad"], 100), "refused"),
        (evo.EvolutionServerError("op", 500, ["boom"]), "refused"),
    ],
)
def test_every_failed_send_has_one_fate_sent_again_maybe_out_or_refused(
    error: evo.EvolutionError, fate: str
) -> None:
    assert evo.send_fate(error) == fate
