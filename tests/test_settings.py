"""Settings: required and invalid values, prod secret rules, masking, API keys, .env, SSM, lazy loading."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib.settings import Settings, SettingsError, get_settings, load_settings
from tests.conftest import REPO

REQUIRED = ("EVOLUTION_API_URL", "EVOLUTION_API_KEY", "INSTANCE_NAME", "API_KEYS", "WEBHOOK_SECRET")
EVOLUTION_KEY = "evo-secret-Zq7pR2vK9mW4tX8bN3cF"
CLIENT_KEY = "client-key-Hj5sD0gL2aY7uE4wQ9tM"
WEBHOOK_SECRET = "hook-secret-Pc8vB1nR6kT3yU0iO5xA"
SECRETS = (EVOLUTION_KEY, CLIENT_KEY, WEBHOOK_SECRET)
# Real-looking 32-character secrets for STAGE=prod (no placeholder marker in them).
PROD_SECRETS = {
    "EVOLUTION_API_KEY": "Zq7pR2vK9mW4tX8bN3cF6hJ1sD5gL0aY",
    "API_KEYS": "Hj5sD0gL2aY7uE4wQ9tMZq7pR2vK9mW4",
    "WEBHOOK_SECRET": "Pc8vB1nR6kT3yU0iO5qAHj5sD0gL2aY7",
    "EVENTS_SIGNING_KEY": "Tn4bX8qW2eR6yU1iO9pAsD3fG7hJ5kL0",
}
SSM_PREFIX = "/whatsapp-evolution/test"


def _sha256(key: str) -> str:
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _valid(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "EVOLUTION_API_URL": "http://evolution.test",
        "EVOLUTION_API_KEY": EVOLUTION_KEY,
        "INSTANCE_NAME": "test-instance",
        "API_KEYS": CLIENT_KEY,
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
    values.update(changes)
    return values


def _set_env(monkeypatch: pytest.MonkeyPatch, values: dict[str, Any]) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, str(value))


def _problems(error: SettingsError) -> list[str]:
    """The ``NAME: reason`` entries of a settings error message."""
    message = str(error)
    assert message.startswith("invalid settings: ")
    return message.removeprefix("invalid settings: ").split("; ")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No setting from the developer's shell or ``.env``, and no cached settings, in or out."""
    monkeypatch.chdir(tmp_path)
    for name in [*Settings.model_fields, "AWS_LAMBDA_FUNCTION_NAME"]:
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


# -- missing and invalid values ------------------------------------------------------------------


def test_missing_required_settings_fail_with_one_message_naming_each_of_them() -> None:
    with pytest.raises(SettingsError) as excinfo:
        load_settings()
    problems = _problems(excinfo.value)
    assert [p.split(":")[0] for p in problems] == list(REQUIRED)
    assert all("Field required" in p for p in problems)


def test_a_single_missing_setting_is_the_only_one_named(monkeypatch: pytest.MonkeyPatch) -> None:
    values = _valid()
    del values["WEBHOOK_SECRET"]
    _set_env(monkeypatch, values)
    with pytest.raises(SettingsError) as excinfo:
        load_settings()
    assert _problems(excinfo.value) == ["WEBHOOK_SECRET: Field required"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("EVOLUTION_API_URL", "not a url"),
        ("EVOLUTION_API_URL", "evolution.test:8080"),
        ("PUBLIC_BASE_URL", "service.test/base"),
        ("STORE_URL", "redis://x"),
        ("DEFAULT_COUNTRY", "Brazil"),
        ("LOG_LEVEL", "LOUD"),
        ("INSTANCE_NAME", "bad name!"),
        ("ALERT_TOPIC_ARN", "my-topic"),
        ("AUTO_RESTART", "perhaps"),
        ("HEALTH_TIMEOUT", "4"),
        ("EVOLUTION_CONNECT_TIMEOUT", "6"),
        ("EVOLUTION_READ_TIMEOUT", "0"),
        ("EVOLUTION_MAX_READ_TIMEOUT", "30"),
    ],
)
def test_an_invalid_value_fails_with_a_message_naming_its_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    _set_env(monkeypatch, _valid(**{name: value}))
    with pytest.raises(SettingsError) as excinfo:
        load_settings()
    [problem] = _problems(excinfo.value)
    assert problem.startswith(f"{name}: ")


def test_valid_optional_values_are_parsed_and_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    _set_env(
        monkeypatch,
        _valid(
            DEFAULT_COUNTRY=" br ",
            AUTO_RESTART="true",
            HEALTH_TIMEOUT="3",
            STORE_URL="dynamodb://table",
            ALERT_TOPIC_ARN="arn:aws:sns:us-east-1:123456789012:alerts",
        ),
    )
    settings = load_settings()
    assert settings.DEFAULT_COUNTRY == "BR"
    assert settings.AUTO_RESTART is True
    assert settings.HEALTH_TIMEOUT == 3.0
    assert settings.STORE_URL == "dynamodb://table"
    assert settings.evolution_base_url == "http://evolution.test"


@pytest.mark.parametrize(
    "changes",
    [
        {"EVOLUTION_API_URL": "not a url"},
        {"LOG_LEVEL": EVOLUTION_KEY},  # a secret pasted into the wrong setting
        {"DEFAULT_COUNTRY": CLIENT_KEY},
        {"STORE_URL": f"redis://:{WEBHOOK_SECRET}@cache"},
        {"STAGE": "prod"},  # every secret is refused as too weak... and none is quoted
    ],
)
def test_an_error_message_never_contains_a_secret_value(
    monkeypatch: pytest.MonkeyPatch, changes: dict[str, str]
) -> None:
    values = _valid(**changes)
    if changes.get("STAGE") == "prod":
        values.update(EVOLUTION_API_KEY="evo-change-me", API_KEYS="k1", WEBHOOK_SECRET="example-hook")
    _set_env(monkeypatch, values)
    with pytest.raises(SettingsError) as excinfo:
        load_settings()
    error = excinfo.value
    for secret in (*SECRETS, "evo-change-me", "example-hook"):
        assert secret not in str(error)
        assert secret not in repr(error)
    assert error.__suppress_context__  # the pydantic error, inputs included, is not chained in


# -- secrets in prod -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["EVOLUTION_API_KEY", "API_KEYS", "WEBHOOK_SECRET"])
@pytest.mark.parametrize(
    "placeholder",
    [
        "change-me",
        "s3cr3t-short",
        "example-0123456789abcdef0123456789",
        "replace-with-a-real-secret-please",
    ],
)
def test_prod_refuses_placeholder_or_short_secrets(
    monkeypatch: pytest.MonkeyPatch, name: str, placeholder: str
) -> None:
    _set_env(monkeypatch, _valid(STAGE="prod", **{**PROD_SECRETS, name: placeholder}))
    with pytest.raises(SettingsError) as excinfo:
        load_settings()
    message = str(excinfo.value)
    assert [other for other in PROD_SECRETS if other in message] == [name]
    assert "STAGE=prod" in message
    assert placeholder not in message.removeprefix("invalid settings: ")


def test_prod_refuses_a_placeholder_hidden_among_real_api_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    _set_env(
        monkeypatch,
        _valid(STAGE="prod", **{**PROD_SECRETS, "API_KEYS": PROD_SECRETS["API_KEYS"] + ",change-me"}),
    )
    with pytest.raises(SettingsError, match="API_KEYS"):
        load_settings()


def test_prod_accepts_real_32_character_secrets_and_sha256_api_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    api_keys = f"{PROD_SECRETS['API_KEYS']},{_sha256('short')}"
    _set_env(monkeypatch, _valid(STAGE="prod", **{**PROD_SECRETS, "API_KEYS": api_keys}))
    settings = load_settings()
    assert settings.STAGE == "prod"
    assert settings.api_key_matches(PROD_SECRETS["API_KEYS"])
    assert settings.api_key_matches("short")


def test_placeholder_secrets_are_accepted_outside_prod(monkeypatch: pytest.MonkeyPatch) -> None:
    _set_env(monkeypatch, _valid(EVOLUTION_API_KEY="change-me", API_KEYS="dev-key", WEBHOOK_SECRET="x"))
    assert load_settings().STAGE == "dev"


# -- masking -------------------------------------------------------------------------------------


def test_secret_fields_print_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    _set_env(monkeypatch, _valid(API_KEYS=f"{CLIENT_KEY},{_sha256('other-key')}"))
    settings = load_settings()
    settings.api_key_matches(CLIENT_KEY)  # fills the cached digests too
    printed = [
        repr(settings),
        str(settings),
        f"{settings}",
        settings.model_dump_json(),
        str(settings.model_dump()),
    ]
    for text in printed:
        for secret in (*SECRETS, _sha256("other-key"), hashlib.sha256(CLIENT_KEY.encode()).hexdigest()):
            assert secret not in text
        assert "**********" in text
    assert settings.EVOLUTION_API_KEY.get_secret_value() == EVOLUTION_KEY


# -- API keys ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("presented", "accepted"),
    [
        ("alpha-key-0001", True),
        ("beta-key-0002", True),  # configured only as its sha256
        ("gamma-key-0003", True),
        (_sha256("beta-key-0002"), False),  # the digest is not itself a key
        ("alpha-key-0001 ", False),
        ("ALPHA-KEY-0001", False),
        ("", False),
        (" ", False),
        ("alpha-key-0001,gamma-key-0003", False),
    ],
)
def test_api_keys_accept_plain_and_sha256_entries_and_ignore_blanks(
    monkeypatch: pytest.MonkeyPatch, presented: str, accepted: bool
) -> None:
    api_keys = f" alpha-key-0001 ,{_sha256('beta-key-0002')}, ,,gamma-key-0003,"
    _set_env(monkeypatch, _valid(API_KEYS=api_keys))
    settings = load_settings()
    assert len(settings.api_key_digests) == 3
    assert settings.api_key_matches(presented) is accepted


MALFORMED_DIGESTS = [
    "sha256:",
    "sha256:change-me-later-please",
    "sha256:" + "a" * 63,  # one digit short
    "sha256:" + "a" * 65,
    "sha256:" + "g" * 64,  # not hex
    "sha256:" + "٣" * 64,  # digits, but not ASCII hex
    "SHA256:" + "0" * 63 + "x",
    "sha256: " + "a" * 64,
]


@pytest.mark.parametrize("stage", ["dev", "prod"])
@pytest.mark.parametrize("entry", MALFORMED_DIGESTS)
def test_a_malformed_sha256_entry_is_refused_at_load_in_every_stage(
    monkeypatch: pytest.MonkeyPatch, stage: str, entry: str
) -> None:
    secrets = PROD_SECRETS if stage == "prod" else {}
    api_keys = f"{PROD_SECRETS['API_KEYS']},{entry}"
    _set_env(monkeypatch, _valid(STAGE=stage, **{**secrets, "API_KEYS": api_keys}))
    with pytest.raises(SettingsError) as excinfo:
        load_settings()
    problems = _problems(excinfo.value)
    assert len(problems) == 1 and problems[0].startswith("API_KEYS: ")
    assert "entry 2 starts with sha256:" in problems[0]
    assert entry[7:].strip() == "" or entry[7:].strip() not in problems[0]  # the entry is not echoed
    assert PROD_SECRETS["API_KEYS"] not in problems[0]


def test_a_well_formed_sha256_entry_in_capitals_is_a_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    digest = _sha256("beta-key-0002")
    _set_env(monkeypatch, _valid(API_KEYS="SHA256:" + digest.removeprefix("sha256:").upper()))
    settings = load_settings()
    assert settings.api_key_matches("beta-key-0002")
    assert not settings.api_key_matches(digest)


@pytest.mark.parametrize("blank", ["", " , ,", ","])
def test_api_keys_made_only_of_blanks_are_an_invalid_setting(
    monkeypatch: pytest.MonkeyPatch, blank: str
) -> None:
    _set_env(monkeypatch, _valid(API_KEYS=blank))
    with pytest.raises(SettingsError) as excinfo:
        load_settings()
    assert excinfo.value.names == ["API_KEYS"]
    assert "holds no key" in excinfo.value.problems[0].sentence()


# -- the problems, one sentence each -------------------------------------------------------------


def test_each_problem_is_one_sentence_naming_its_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    values = _valid(EVOLUTION_API_URL="not a url", LOG_LEVEL="LOUD")
    del values["EVOLUTION_API_KEY"]
    _set_env(monkeypatch, values)
    with pytest.raises(SettingsError) as excinfo:
        load_settings()
    error = excinfo.value
    assert error.names == ["EVOLUTION_API_URL", "EVOLUTION_API_KEY", "LOG_LEVEL"]
    sentences = [p.sentence() for p in error.problems]
    assert sentences[1] == "EVOLUTION_API_KEY is not set; it is required."
    for name, sentence in zip(error.names, sentences, strict=True):
        assert sentence.startswith(name + " ")
        assert sentence.endswith(".")
        assert sentence.count(". ") == 0


def test_a_placeholder_secret_in_prod_is_a_problem_named_after_its_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _set_env(monkeypatch, _valid(STAGE="prod", **{**PROD_SECRETS, "WEBHOOK_SECRET": "change-me-please-now"}))
    with pytest.raises(SettingsError) as excinfo:
        load_settings()
    assert excinfo.value.names == ["WEBHOOK_SECRET"]
    assert "change-me-please-now" not in excinfo.value.problems[0].sentence()


# -- the webhook URL -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("public_base_url", "webhook_url"),
    [
        ("https://service.test", "https://service.test/webhook"),
        ("https://service.test/", "https://service.test/webhook"),
        (
            "https://abc.execute-api.us-east-1.amazonaws.com/api",
            "https://abc.execute-api.us-east-1.amazonaws.com/api/webhook",
        ),
        ("https://service.test/api/", "https://service.test/api/webhook"),
    ],
)
def test_webhook_url_is_built_from_the_public_base_url(
    monkeypatch: pytest.MonkeyPatch, public_base_url: str, webhook_url: str
) -> None:
    _set_env(monkeypatch, _valid(PUBLIC_BASE_URL=public_base_url))
    assert load_settings().webhook_url == webhook_url


@pytest.mark.parametrize("public_base_url", [None, "", "   "])
def test_webhook_url_is_none_without_a_public_base_url(
    monkeypatch: pytest.MonkeyPatch, public_base_url: str | None
) -> None:
    values = _valid() if public_base_url is None else _valid(PUBLIC_BASE_URL=public_base_url)
    _set_env(monkeypatch, values)
    settings = load_settings()
    assert settings.PUBLIC_BASE_URL is None
    assert settings.webhook_url is None


# -- .env ----------------------------------------------------------------------------------------


def test_a_dotenv_file_in_the_working_directory_is_read_and_environment_variables_win(
    monkeypatch: pytest.MonkeyPatch, clean_env: Path
) -> None:
    lines = [
        f"{name}={value}" for name, value in _valid(LOG_LEVEL="WARNING", INSTANCE_NAME="from-dotenv").items()
    ]
    (clean_env / ".env").write_text("# local development\n" + "\n".join(lines) + "\nUNRELATED=ignored\n")
    monkeypatch.setenv("INSTANCE_NAME", "from-environment")
    settings = load_settings()
    assert settings.EVOLUTION_API_KEY.get_secret_value() == EVOLUTION_KEY
    assert settings.LOG_LEVEL == "WARNING"
    assert settings.INSTANCE_NAME == "from-environment"
    assert load_settings(INSTANCE_NAME="from-override").INSTANCE_NAME == "from-override"


# -- SSM -----------------------------------------------------------------------------------------


class RecordingSSM:
    """Passes every call to a real (moto) SSM client, recording paginations and API requests."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.paginations: list[tuple[str, dict[str, Any]]] = []
        self.requests: list[dict[str, Any]] = []
        client.meta.events.register("before-call.ssm.*", self._on_request)

    def _on_request(self, params: dict[str, Any], **_: Any) -> None:
        self.requests.append(params)

    def get_paginator(self, operation: str) -> Any:
        return _RecordingPaginator(self, operation, self._client.get_paginator(operation))


class _RecordingPaginator:
    def __init__(self, owner: RecordingSSM, operation: str, paginator: Any) -> None:
        self._owner, self._operation, self._paginator = owner, operation, paginator

    def paginate(self, **kwargs: Any) -> Any:
        self._owner.paginations.append((self._operation, kwargs))
        return self._paginator.paginate(**kwargs)


@pytest.fixture
def ssm(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A moto SSM holding the service's secrets under ``SSM_PREFIX`` (and things that are not ours)."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        client = boto3.client("ssm", region_name="us-east-1")
        for name, value in {
            "EVOLUTION_API_KEY": EVOLUTION_KEY,
            "API_KEYS": CLIENT_KEY,
            "WEBHOOK_SECRET": WEBHOOK_SECRET,
            "SOMETHING_ELSE": "not-a-setting",
        }.items():
            client.put_parameter(Name=f"{SSM_PREFIX}/{name}", Value=value, Type="SecureString")
        client.put_parameter(Name=f"{SSM_PREFIX}/nested/INSTANCE_NAME", Value="nested", Type="String")
        client.put_parameter(
            Name="/whatsapp-evolution/prod/WEBHOOK_SECRET", Value="prod-one", Type="SecureString"
        )
        yield client


def test_ssm_secure_strings_under_the_prefix_are_read_in_one_paginated_call(
    monkeypatch: pytest.MonkeyPatch, ssm: Any
) -> None:
    _set_env(monkeypatch, {"EVOLUTION_API_URL": "http://evolution.test", "INSTANCE_NAME": "test-instance"})
    recording = RecordingSSM(boto3.client("ssm", region_name="us-east-1"))
    settings = load_settings(ssm_client=recording, SSM_PARAMETER_PREFIX=SSM_PREFIX)
    assert settings.EVOLUTION_API_KEY.get_secret_value() == EVOLUTION_KEY
    assert settings.api_key_matches(CLIENT_KEY)
    assert settings.WEBHOOK_SECRET.get_secret_value() == WEBHOOK_SECRET
    assert settings.INSTANCE_NAME == "test-instance"  # the nested parameter is not read
    assert not hasattr(settings, "SOMETHING_ELSE")
    assert recording.paginations == [
        ("get_parameters_by_path", {"Path": SSM_PREFIX, "Recursive": False, "WithDecryption": True})
    ]
    assert len(recording.requests) == 1


def test_ssm_prefix_from_the_environment_with_a_trailing_slash_is_read_too(
    monkeypatch: pytest.MonkeyPatch, ssm: Any
) -> None:
    _set_env(
        monkeypatch,
        {
            "EVOLUTION_API_URL": "http://evolution.test",
            "INSTANCE_NAME": "test-instance",
            "SSM_PARAMETER_PREFIX": SSM_PREFIX + "/",
        },
    )
    recording = RecordingSSM(boto3.client("ssm", region_name="us-east-1"))
    settings = load_settings(ssm_client=recording, WEBHOOK_SECRET="override-wins")
    assert settings.EVOLUTION_API_KEY.get_secret_value() == EVOLUTION_KEY
    assert settings.WEBHOOK_SECRET.get_secret_value() == "override-wins"
    assert recording.paginations[0][1]["Path"] == SSM_PREFIX


def test_ssm_is_not_read_outside_lambda_without_a_client(monkeypatch: pytest.MonkeyPatch, ssm: Any) -> None:
    _set_env(monkeypatch, {"EVOLUTION_API_URL": "http://evolution.test", "INSTANCE_NAME": "test-instance"})
    with pytest.raises(SettingsError) as excinfo:
        load_settings(SSM_PARAMETER_PREFIX=SSM_PREFIX)
    assert [p.split(":")[0] for p in _problems(excinfo.value)] == [
        "EVOLUTION_API_KEY",
        "API_KEYS",
        "WEBHOOK_SECRET",
    ]


def test_ssm_is_read_with_a_default_client_inside_lambda(monkeypatch: pytest.MonkeyPatch, ssm: Any) -> None:
    _set_env(
        monkeypatch,
        {
            "EVOLUTION_API_URL": "http://evolution.test",
            "INSTANCE_NAME": "test-instance",
            "SSM_PARAMETER_PREFIX": SSM_PREFIX,
            "AWS_LAMBDA_FUNCTION_NAME": "whatsapp-evolution-dev-health_check",
        },
    )
    assert load_settings().WEBHOOK_SECRET.get_secret_value() == WEBHOOK_SECRET


# -- loading once, and never at import ----------------------------------------------------------


def test_get_settings_loads_once_and_returns_the_same_object(monkeypatch: pytest.MonkeyPatch) -> None:
    _set_env(monkeypatch, _valid())
    first = get_settings()
    monkeypatch.setenv("INSTANCE_NAME", "changed-later")
    assert get_settings() is first
    assert first.INSTANCE_NAME == "test-instance"
    assert get_settings.cache_info().misses == 1


def test_importing_the_app_with_an_empty_environment_reads_no_settings(tmp_path: Path) -> None:
    code = (
        "import app\n"
        "from chalicelib.settings import get_settings\n"
        "assert get_settings.cache_info().currsize == 0, 'settings were loaded at import'\n"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter, a fixed script
        [sys.executable, "-c", code],
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_url_allowlist_is_parsed_and_a_bad_entry_names_the_setting() -> None:
    settings = load_settings(**_valid(URL_ALLOWLIST="files.intranet.example,10.20.0.0/16"))
    assert settings.url_allowlist.allows_name("files.intranet.example")
    assert load_settings(**_valid()).url_allowlist.names == frozenset()
    with pytest.raises(SettingsError, match="URL_ALLOWLIST"):
        load_settings(**_valid(URL_ALLOWLIST="not a host!"))


def test_prod_needs_a_real_events_signing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in (None, "short", "change-me-" + "x" * 40):
        secrets = {k: v for k, v in PROD_SECRETS.items() if k != "EVENTS_SIGNING_KEY"}
        if key is not None:
            secrets["EVENTS_SIGNING_KEY"] = key
        monkeypatch.delenv("EVENTS_SIGNING_KEY", raising=False)
        _set_env(monkeypatch, _valid(STAGE="prod", **secrets))
        with pytest.raises(SettingsError, match="EVENTS_SIGNING_KEY") as raised:
            load_settings()
        if key is not None:
            assert key not in str(raised.value)


def test_prod_keeps_the_real_retry_schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    _set_env(monkeypatch, _valid(STAGE="prod", EVENTS_RETRY_SCALE="0.01", **PROD_SECRETS))

    with pytest.raises(SettingsError, match="EVENTS_RETRY_SCALE"):
        load_settings()


def test_the_events_key_is_needed_only_when_events_are_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVENTS_SIGNING_KEY", raising=False)
    _set_env(monkeypatch, _valid())
    settings = load_settings()

    with pytest.raises(SettingsError, match="EVENTS_SIGNING_KEY: it is not set"):
        settings.events_signing_key()
    _set_env(monkeypatch, _valid(EVENTS_SIGNING_KEY=PROD_SECRETS["EVENTS_SIGNING_KEY"]))
    configured = load_settings()
    assert configured.events_signing_key() == PROD_SECRETS["EVENTS_SIGNING_KEY"]
    assert PROD_SECRETS["EVENTS_SIGNING_KEY"] not in repr(configured)  # a SecretStr never prints


@pytest.mark.parametrize(
    "url",
    ["http://sqs.us-east-1.amazonaws.com/123456789012/q", "https://sqs.x/12/q", "not a url"],
)
def test_a_malformed_jobs_queue_url_is_refused(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    _set_env(monkeypatch, _valid(JOBS_QUEUE_URL=url))

    with pytest.raises(SettingsError, match="JOBS_QUEUE_URL"):
        load_settings()
