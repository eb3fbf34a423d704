"""Pure helpers: Evolution-style schema messages, JIDs, value checks, the CLI."""

from __future__ import annotations

import pytest

from devtools.evolution_simulator.__main__ import config_from_args, parse_args
from devtools.evolution_simulator.config import SCHEMAS_DIR
from devtools.evolution_simulator.numbers import create_jid, is_base64, is_single_emoji, is_url
from devtools.evolution_simulator.validation import SchemaRegistry


@pytest.fixture(scope="module")
def schemas() -> SchemaRegistry:
    return SchemaRegistry(SCHEMAS_DIR)


@pytest.mark.parametrize(
    ("schema", "body", "messages"),
    [
        ("sendText", {"number": "1"}, ['instance requires property "text"']),
        ("sendText", {"number": 1, "text": "x"}, ["Invalid format"]),
        (
            "sendText",
            {"number": "1", "text": "x", "quoted": {"key": {}}},
            ['quoted.key requires property "id"'],
        ),
        (
            "sendMedia",
            {"number": "1", "mediatype": "gif"},
            ["mediatype is not one of enum values: image,document,video,audio"],
        ),
        (
            "sendLocation",
            {"number": "1", "latitude": "x", "longitude": 1, "name": "", "address": ""},
            ["latitude is not of a type(s) number"],
        ),
        ("whatsappNumbers", {"numbers": []}, ["numbers does not meet minimum length of 1"]),
    ],
)
def test_schema_messages_read_like_the_npm_jsonschema_stack(
    schemas: SchemaRegistry, schema: str, body: dict[str, object], messages: list[str]
) -> None:
    assert schemas.errors(schema, body) == messages


@pytest.mark.parametrize(
    ("number", "jid"),
    [
        ("+55 (11) 98765-4321", "5511987654321@s.whatsapp.net"),
        ("5531998765432", "553198765432@s.whatsapp.net"),
        ("5521912345678", "5521912345678@s.whatsapp.net"),
        ("5215512345678", "525512345678@s.whatsapp.net"),
        ("5491112345678", "541112345678@s.whatsapp.net"),
        ("120363000000000001@g.us", "120363000000000001@g.us"),
        ("13718000000000@lid", "13718000000000@lid"),
    ],
)
def test_create_jid_follows_evolutions_number_rules(number: str, jid: str) -> None:
    assert create_jid(number) == jid


def test_value_checks_match_the_controllers_helpers() -> None:
    assert is_base64("JVBERi0xLjQ=")
    assert not is_base64("data:image/png;base64,AAAA")
    assert is_url("https://cdn.example.com/a.png")
    assert not is_url("http://localhost:9000/a.png")
    assert is_single_emoji("👍")
    assert is_single_emoji("❤️")
    assert is_single_emoji("👍🏽")
    assert not is_single_emoji("👍👍")
    assert not is_single_emoji("ok")


def test_the_cli_reads_flags_and_falls_back_to_evolution_sim_env_vars(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EVOLUTION_SIM_API_KEY", "from-env")
    monkeypatch.setenv("EVOLUTION_SIM_AUTO_SCAN_AFTER", "2.5")
    monkeypatch.setenv("EVOLUTION_SIM_WEBHOOK_EXPOSE_APIKEY", "true")
    config = config_from_args(parse_args(["--port", "0", "--webhook-delay-ms", "40"]))
    assert config.api_key == "from-env"
    assert config.auto_scan_after == 2.5
    assert config.webhook_delay_ms == 40
    assert config.webhook_expose_apikey is True
    assert config.port == 0


def test_the_cli_turns_on_the_cache_and_the_real_servers_holds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVOLUTION_SIM_SAVE_IS_ON_WHATSAPP", "1")
    monkeypatch.delenv("EVOLUTION_SIM_REAL_HOLDS", raising=False)
    config = config_from_args(parse_args(["--api-key", "k", "--real-holds"]))
    assert (config.save_is_on_whatsapp, config.real_holds) == (True, True)
    assert config_from_args(parse_args(["--api-key", "k"])).real_holds is False


def test_the_cli_refuses_to_start_without_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVOLUTION_SIM_API_KEY", raising=False)
    with pytest.raises(SystemExit):
        parse_args([])
