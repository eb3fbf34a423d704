"""Destination secrets are derived, never stored; signatures verify with two independent libraries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from chalicelib.events.signing import destination_secret, new_salt, signed_headers
from chalicelib.events.types import Event

KEY = "k" * 40


def event() -> Event:
    return Event(
        id="evt_01JDQ4Z9W6M8E3V7K2B5N1P0RS",
        type="message.received",
        created_at="2026-12-01T10:00:00.000Z",
        instance="test",
        data={"text": "Gracias ñ ✓"},
    )


def test_a_secret_is_whsec_of_32_bytes_and_the_same_for_the_same_destination_and_salt() -> None:
    salt = new_salt()
    secret = destination_secret(KEY, "dst_1", salt)

    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert secret == destination_secret(KEY, "dst_1", salt)
    assert secret != destination_secret(KEY, "dst_2", salt)
    assert secret != destination_secret(KEY, "dst_1", new_salt())
    assert secret != destination_secret("x" * 40, "dst_1", salt)


def test_a_short_signing_key_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        destination_secret("short", "dst_1", "salt")


def test_the_standardwebhooks_library_verifies_what_we_sign() -> None:
    secret = destination_secret(KEY, "dst_1", new_salt())
    body = event().body()
    headers = signed_headers(secret, msg_id=event().id, body=body)

    assert headers["webhook-id"] == event().id
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(body, headers) == json.loads(body)


def test_svix_verifies_what_we_sign_and_refuses_a_tampered_body() -> None:
    from svix.webhooks import Webhook as SvixWebhook
    from svix.webhooks import WebhookVerificationError as SvixVerificationError

    secret = destination_secret(KEY, "dst_1", new_salt())
    body = event().body()
    headers = signed_headers(secret, msg_id=event().id, body=body)

    SvixWebhook(secret).verify(body, headers)  # raises when the signature does not match
    with pytest.raises(SvixVerificationError):
        SvixWebhook(secret).verify(body + " ", headers)


def test_the_signature_is_the_specifications_hmac_computed_by_hand() -> None:
    """svix's verifier wraps the standardwebhooks library: check the spec's formula on its own too."""
    secret = destination_secret(KEY, "dst_1", new_salt())
    body = event().body()
    headers = signed_headers(secret, msg_id=event().id, body=body)

    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.{body}".encode()
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == f"v1,{expected}"


def test_a_tampered_body_or_another_destinations_secret_fails_verification() -> None:
    secret = destination_secret(KEY, "dst_1", new_salt())
    body = event().body()
    headers = signed_headers(secret, msg_id=event().id, body=body)

    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace("Gracias", "Graciaz"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(destination_secret(KEY, "dst_2", new_salt())).verify(body, headers)


def test_the_body_is_compact_json_with_the_documented_fields() -> None:
    body = json.loads(event().body())

    assert list(body) == ["id", "type", "created_at", "instance", "data"]
    assert " " not in event().body().replace("Gracias ñ ✓", "")
