"""Media URL checks: names that resolve to private addresses, allowlists, what passes."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from chalicelib import errors
from chalicelib.models.api import SendMessageRequest, SendTemplateRequest
from chalicelib.services.media_urls import check_media_url
from chalicelib.settings import Settings, load_settings


def _settings(allowlist: str = "") -> Settings:
    return load_settings(
        EVOLUTION_API_URL="http://evolution.test",
        EVOLUTION_API_KEY="evolution-key",
        INSTANCE_NAME="test-instance",
        API_KEYS="a-client-key",
        WEBHOOK_SECRET="a-webhook-secret",
        URL_ALLOWLIST=allowlist,
    )


def _resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    asked: list[str] = []

    def resolve(host: str) -> Sequence[str]:
        asked.append(host)
        return table.get(host, [])

    resolve.asked = asked  # type: ignore[attr-defined]
    return resolve


def _media(url: str) -> SendMessageRequest:
    return SendMessageRequest.model_validate({"to": "+5511999999999", "media": {"type": "image", "url": url}})


@pytest.mark.parametrize(
    ("host", "addresses"),
    [
        ("metadata.corp.example", ["169.254.169.254"]),
        ("files.corp.example", ["93.184.216.34", "10.1.2.3"]),  # one private address is enough
        ("v6.corp.example", ["fd00::5"]),
        ("loop.corp.example", ["127.0.0.2"]),
    ],
)
def test_a_name_resolving_to_a_private_or_loopback_address_is_refused(
    host: str, addresses: list[str]
) -> None:
    resolve = _resolver({host: addresses})
    with pytest.raises(errors.ValidationError) as excinfo:
        check_media_url(_media(f"https://{host}/a.png"), _settings(), resolve=resolve)
    assert excinfo.value.details == [{"loc": ["media", "url"], "msg": excinfo.value.details[0]["msg"]}]
    assert resolve.asked == [host]


def test_a_name_resolving_to_public_addresses_passes() -> None:
    resolve = _resolver({"cdn.example.com": ["93.184.216.34", "2606:2800:220:1::1"]})
    check_media_url(_media("https://cdn.example.com/a.png"), _settings(), resolve=resolve)
    assert resolve.asked == ["cdn.example.com"]


def test_a_name_that_does_not_resolve_is_left_to_evolution() -> None:
    check_media_url(_media("https://nowhere.example/a.png"), _settings(), resolve=_resolver({}))


def test_an_allowlisted_name_passes_without_being_resolved() -> None:
    resolve = _resolver({"files.intranet.example": ["10.1.2.3"]})
    settings = _settings("files.intranet.example")
    check_media_url(_media("http://files.intranet.example/a.png"), settings, resolve=resolve)
    assert resolve.asked == []


def test_an_allowlisted_network_lets_a_name_resolving_into_it_pass() -> None:
    resolve = _resolver({"files.intranet.example": ["10.20.3.4"]})
    check_media_url(_media("http://files.intranet.example/a.png"), _settings("10.20.0.0/16"), resolve=resolve)
    with pytest.raises(errors.ValidationError):
        check_media_url(_media("http://10.21.0.1/a.png"), _settings("10.20.0.0/16"), resolve=resolve)


def test_requests_without_a_media_url_pass_untouched() -> None:
    resolve = _resolver({})
    text = SendMessageRequest.model_validate({"to": "+5511999999999", "text": "hola"})
    template = SendTemplateRequest.model_validate({"to": "+5511999999999", "template": "job_offer"})
    b64 = SendMessageRequest.model_validate(
        {"to": "+5511999999999", "media": {"type": "image", "base64": "AAAA"}}
    )
    for request in (text, template, b64):
        check_media_url(request, _settings(), resolve=resolve)
    assert resolve.asked == []
