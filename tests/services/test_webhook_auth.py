"""Webhook authentication: shared-secret header, Evolution's signed JWT, query token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import warnings
from typing import Any

import jwt
import pytest

from chalicelib.services.webhook_auth import LEEWAY_SECONDS, MAX_LIFETIME_SECONDS, authenticate

SECRET = "wh-secret-0123456789-abcdefghij-KLMNOPQRSTUV"  # ≥ 32 bytes: PyJWT warns on shorter HS256 keys
NOW = 1_765_377_000.0
GOOD_CLAIMS = {"iat": int(NOW), "exp": int(NOW) + 600, "app": "evolution", "action": "webhook"}


def token(claims: dict[str, Any] | None = None, key: str = SECRET, algorithm: str = "HS256") -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
        return jwt.encode(GOOD_CLAIMS if claims is None else claims, key, algorithm=algorithm)


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def auth(
    headers: dict[str, str] | None = None, query: dict[str, str] | None = None, secret: str = SECRET
) -> str | None:
    return authenticate(headers or {}, query, secret, now=NOW)


def b64(part: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


# --- header ---


@pytest.mark.parametrize("name", ["X-Webhook-Secret", "x-webhook-secret", "X-WEBHOOK-SECRET"])
def test_the_right_secret_header_authenticates_whatever_the_header_case(name: str) -> None:
    assert auth({name: SECRET}) == "header"


@pytest.mark.parametrize("value", ["wrong", SECRET + "x", SECRET[:-1], "", " " + SECRET])
def test_a_wrong_secret_header_does_not_authenticate(value: str) -> None:
    assert auth({"X-Webhook-Secret": value}) is None


# --- JWT ---


def test_a_valid_jwt_signed_with_the_secret_authenticates() -> None:
    assert auth(bearer(token())) == "jwt"


def test_the_bearer_scheme_is_case_insensitive() -> None:
    assert auth({"authorization": f"bearer {token()}"}) == "jwt"


def test_an_expired_jwt_does_not_authenticate() -> None:
    claims = GOOD_CLAIMS | {"iat": int(NOW) - 700, "exp": int(NOW) - LEEWAY_SECONDS - 1}
    assert auth(bearer(token(claims))) is None


def test_a_jwt_expired_within_the_leeway_still_authenticates() -> None:
    claims = GOOD_CLAIMS | {"iat": int(NOW) - 610, "exp": int(NOW) - 10}
    assert auth(bearer(token(claims))) == "jwt"


def test_a_jwt_without_exp_does_not_authenticate() -> None:
    claims = {k: v for k, v in GOOD_CLAIMS.items() if k != "exp"}
    assert auth(bearer(token(claims))) is None


@pytest.mark.parametrize("exp", ["soon", None, True, 1e400])
def test_a_jwt_with_a_malformed_exp_does_not_authenticate(exp: object) -> None:
    assert auth(bearer(token(GOOD_CLAIMS | {"exp": exp}))) is None


def test_a_jwt_issued_in_the_future_does_not_authenticate() -> None:
    claims = GOOD_CLAIMS | {"iat": int(NOW) + 3600, "exp": int(NOW) + 4200}
    assert auth(bearer(token(claims))) is None


def test_a_jwt_issued_within_the_leeway_ahead_still_authenticates() -> None:
    claims = GOOD_CLAIMS | {"iat": int(NOW) + LEEWAY_SECONDS - 1, "exp": int(NOW) + 600}
    assert auth(bearer(token(claims))) == "jwt"


def test_a_jwt_without_iat_does_not_authenticate() -> None:
    claims = {k: v for k, v in GOOD_CLAIMS.items() if k != "iat"}
    assert auth(bearer(token(claims))) is None


@pytest.mark.parametrize("iat", ["now", None, True, 1e400, [1]])
def test_a_jwt_with_a_malformed_iat_does_not_authenticate(iat: object) -> None:
    assert auth(bearer(token(GOOD_CLAIMS | {"iat": iat}))) is None


@pytest.mark.parametrize(
    ("lifetime", "accepted"),
    [
        (600, True),  # what Evolution mints
        (MAX_LIFETIME_SECONDS, True),
        (MAX_LIFETIME_SECONDS + 1, False),
        (5 * 365 * 86_400, False),  # "exp years ahead"
        (0, False),
        (-60, False),  # expires before it was issued
    ],
)
def test_a_jwt_lifetime_is_capped(lifetime: int, accepted: bool) -> None:
    claims = GOOD_CLAIMS | {"iat": int(NOW) - 5, "exp": int(NOW) - 5 + lifetime}
    assert (auth(bearer(token(claims))) == "jwt") is accepted


def test_a_jwt_with_nbf_in_the_future_does_not_authenticate() -> None:
    assert auth(bearer(token(GOOD_CLAIMS | {"nbf": int(NOW) + 300}))) is None


def test_a_jwt_is_checked_against_the_wall_clock_when_no_time_is_given() -> None:
    assert authenticate(bearer(token()), None, SECRET) is None  # minted for NOW, long expired
    fresh = GOOD_CLAIMS | {"iat": int(time.time()), "exp": int(time.time()) + 600}
    assert authenticate(bearer(token(fresh)), None, SECRET) == "jwt"


def test_a_jwt_forged_with_another_key_does_not_authenticate() -> None:
    assert auth(bearer(token(key="another-key-0123456789-abcdefghij-KLM"))) is None


def test_a_jwt_signed_with_another_hmac_algorithm_does_not_authenticate() -> None:
    assert auth(bearer(token(algorithm="HS512"))) is None


@pytest.mark.parametrize(
    "claim", [{"app": "other"}, {"app": None}, {"action": "login"}, {"action": ["webhook"]}]
)
def test_a_jwt_with_the_wrong_app_or_action_does_not_authenticate(claim: dict[str, Any]) -> None:
    assert auth(bearer(token(GOOD_CLAIMS | claim))) is None


def test_a_jwt_missing_app_or_action_does_not_authenticate() -> None:
    base = {"iat": int(NOW), "exp": int(NOW) + 600}
    assert auth(bearer(token(base | {"action": "webhook"}))) is None
    assert auth(bearer(token(base | {"app": "evolution"}))) is None


def test_an_unsigned_alg_none_jwt_does_not_authenticate() -> None:
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(GOOD_CLAIMS)}."
    assert auth(bearer(unsigned)) is None


@pytest.mark.parametrize(
    "value", ["", "Bearer", "Bearer ", "Bearer not.a.jwt", f"Basic {token()}", token(), "Bearer \ud800"]
)
def test_malformed_authorization_headers_do_not_authenticate(value: str) -> None:
    assert auth({"Authorization": value}) is None


def test_a_short_secret_still_verifies_jwts_without_warning() -> None:
    short = "s3cr3t"
    signed = token(key=short)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert authenticate(bearer(signed), None, short, now=NOW) == "jwt"


# --- query token ---


def test_the_right_query_token_authenticates() -> None:
    assert auth(query={"token": SECRET}) == "token"


@pytest.mark.parametrize(
    "query", [{"token": "wrong"}, {"token": ""}, {"Token": SECRET}, {"secret": SECRET}, {}, None]
)
def test_a_wrong_or_missing_query_token_does_not_authenticate(query: dict[str, str] | None) -> None:
    assert auth(query=query) is None


# --- nothing, empty secret, precedence, secrecy ---


def test_a_request_with_no_credentials_is_not_authenticated() -> None:
    assert auth({"Content-Type": "application/json"}, {}) is None


def test_an_empty_configured_secret_never_authenticates() -> None:
    signing_input = f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64(GOOD_CLAIMS)}"
    signature = hmac.new(b"", signing_input.encode(), hashlib.sha256).digest()  # PyJWT refuses empty keys
    empty_key_token = f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
    assert auth({"X-Webhook-Secret": ""}, {"token": ""}, secret="") is None
    assert auth(bearer(empty_key_token), secret="") is None


def test_the_header_is_reported_first_when_several_credentials_are_given() -> None:
    headers = {"X-Webhook-Secret": SECRET} | bearer(token())
    assert auth(headers, {"token": SECRET}) == "header"
    assert auth(bearer(token()), {"token": SECRET}) == "jwt"


def test_a_wrong_header_does_not_block_a_right_token() -> None:
    assert auth({"X-Webhook-Secret": "wrong"}, {"token": SECRET}) == "token"


def test_nothing_is_logged_and_least_of_all_the_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    signed = token()
    auth({"X-Webhook-Secret": SECRET})
    auth(bearer(signed))
    auth(bearer(token(key="forged-key-0123456789-abcdefghij-KLMN")))
    auth(query={"token": "nope"})
    assert SECRET not in caplog.text and signed not in caplog.text
    assert caplog.records == []
