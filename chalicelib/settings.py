"""The service's settings: one typed class, read from the environment (and SSM) once per process."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
from dataclasses import dataclass
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any

from pydantic import (
    Field,
    HttpUrl,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from chalicelib.urlguard import Allowlist

logger = logging.getLogger(__name__)

SECRET_FIELDS = ("EVOLUTION_API_KEY", "API_KEYS", "WEBHOOK_SECRET")
_PLACEHOLDER_MARKERS = ("change", "example", "placeholder", "replace", "dev-", "local", "xxx")
_MIN_PROD_SECRET_LENGTH = 16
_SHA256_KEY = re.compile(r"(?i:sha256):[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class SettingProblem:
    """One missing or invalid setting: its name and why (never its value)."""

    name: str
    reason: str

    def sentence(self) -> str:
        """One sentence a person can act on, naming the setting."""
        if self.reason == "Field required":
            return f"{self.name} is not set; it is required."
        return f"{self.name} is not valid: {self.reason.rstrip('.')}."


class SettingsError(RuntimeError):
    """A setting is missing or invalid; the message names each of them."""

    def __init__(self, problems: list[SettingProblem]) -> None:
        super().__init__("invalid settings: " + "; ".join(f"{p.name}: {p.reason}" for p in problems))
        self.problems = tuple(problems)

    @property
    def names(self) -> list[str]:
        """The names of the bad settings, in order, each once."""
        return list(dict.fromkeys(p.name for p in self.problems))


class Settings(BaseSettings):
    """Every knob of the service. Names are the environment variable names."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=True
    )

    EVOLUTION_API_URL: HttpUrl
    EVOLUTION_API_KEY: SecretStr
    INSTANCE_NAME: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][\w.-]*$")
    API_KEYS: SecretStr
    WEBHOOK_SECRET: SecretStr
    PUBLIC_BASE_URL: HttpUrl | None = None
    STORE_URL: str = "sqlite:///.data/service.db"
    DEFAULT_COUNTRY: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    STAGE: str = "dev"
    LOG_LEVEL: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$")
    ALERT_TOPIC_ARN: str | None = Field(default=None, pattern=r"^arn:aws[\w-]*:sns:")
    AUTO_RESTART: bool = False
    SSM_PARAMETER_PREFIX: str | None = None
    # Private hosts (names, IP addresses, CIDR networks) that media URLs and event destinations
    # may point at although they are not public; everything else private is refused.
    URL_ALLOWLIST: str = Field(default="", max_length=4096)
    # Timeouts (seconds). Worst case for one call: 2 connect attempts + the read timeout, kept
    # under API Gateway's 29 s: 2 * EVOLUTION_CONNECT_TIMEOUT + EVOLUTION_MAX_READ_TIMEOUT.
    EVOLUTION_CONNECT_TIMEOUT: float = Field(default=2.0, gt=0, le=5)
    EVOLUTION_READ_TIMEOUT: float = Field(default=10.0, gt=0, le=20)
    EVOLUTION_SEND_TIMEOUT: float = Field(default=15.0, gt=0, le=22)
    EVOLUTION_MAX_READ_TIMEOUT: float = Field(default=22.0, gt=0, le=22)
    HEALTH_TIMEOUT: float = Field(default=3.0, gt=0, le=3)
    # Background work and pushed events (see chalicelib/jobs and chalicelib/events).
    EVENTS_SIGNING_KEY: SecretStr | None = None  # derives each destination's whsec_ secret
    JOBS_QUEUE_URL: str | None = Field(default=None, pattern=r"^https://sqs\.[\w.-]+/\d{12}/[\w-]{1,80}$")
    LOCAL_WORKER: bool = True  # run queued jobs in a thread of this process (SQLite store only)
    LOCAL_WORKER_THREADS: int = Field(default=8, ge=1, le=64)
    EVENTS_DELIVERY_TIMEOUT: float = Field(default=10.0, gt=0, le=10)
    EVENTS_RETRY_SCALE: float = Field(default=1.0, gt=0, le=1)  # < 1 compresses the schedule (dev only)
    # Inbound media (see chalicelib/media): S3 when MEDIA_BUCKET is set, else a folder on disk.
    MEDIA_BUCKET: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    MEDIA_DIR: str = Field(default=".data/media", min_length=1, max_length=1024)
    MEDIA_MAX_BYTES: int = Field(default=64 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024)
    MEDIA_URL_TTL: int = Field(default=900, ge=60, le=7 * 24 * 3600)  # seconds a media URL is valid
    # Consent (see chalicelib/services/consent.py): words added to the built-in keywords.
    OPT_OUT_KEYWORDS: str = Field(default="", max_length=1024)
    OPT_IN_KEYWORDS: str = Field(default="", max_length=1024)

    @field_validator("DEFAULT_COUNTRY", mode="before")
    @classmethod
    def _upper_country(cls, value: Any) -> Any:
        if isinstance(value, str):
            return value.strip().upper() or None
        return value

    @field_validator(
        "PUBLIC_BASE_URL",
        "ALERT_TOPIC_ARN",
        "SSM_PARAMETER_PREFIX",
        "EVENTS_SIGNING_KEY",
        "JOBS_QUEUE_URL",
        "MEDIA_BUCKET",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("API_KEYS")
    @classmethod
    def _at_least_one_key(cls, value: SecretStr) -> SecretStr:
        if not any(part.strip() for part in value.get_secret_value().split(",")):
            raise ValueError("holds no key; give at least one (comma-separated)")
        return value

    @field_validator("STORE_URL")
    @classmethod
    def _known_store(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "dynamodb://")):
            raise ValueError("must start with sqlite:/// or dynamodb://")
        return value

    @field_validator("API_KEYS")
    @classmethod
    def _well_formed_digests(cls, value: SecretStr) -> SecretStr:
        """A ``sha256:`` entry is a digest or an error: never taken as a plain key (in any stage)."""
        entries = [e.strip() for e in value.get_secret_value().split(",") if e.strip()]
        for position, entry in enumerate(entries, start=1):
            if entry[:7].lower() == "sha256:" and not _SHA256_KEY.fullmatch(entry):
                raise ValueError(
                    f"entry {position} starts with sha256: but is not sha256: followed by the 64 hex "
                    "digits of a key's SHA-256 digest"
                )
        return value

    @field_validator("URL_ALLOWLIST")
    @classmethod
    def _valid_allowlist(cls, value: str) -> str:
        from chalicelib.urlguard import Allowlist  # noqa: PLC0415

        Allowlist.parse(value)
        return value

    @model_validator(mode="after")
    def _no_placeholder_secrets_in_prod(self) -> Settings:
        if self.STAGE != "prod":
            return self
        for name in SECRET_FIELDS:
            value: SecretStr = getattr(self, name)
            for part in value.get_secret_value().split(","):
                if _looks_like_placeholder(part.strip()):
                    raise PydanticCustomError(
                        "placeholder_secret",
                        "{setting} holds a placeholder or too short a secret; "
                        "set a real one (at least 16 characters) for STAGE=prod",
                        {"setting": name},
                    )
        key = self.EVENTS_SIGNING_KEY
        if key is None or len(key.get_secret_value()) < 32 or _looks_like_placeholder(key.get_secret_value()):
            raise ValueError(
                "EVENTS_SIGNING_KEY must be a random secret of at least 32 characters for STAGE=prod"
            )
        if self.EVENTS_RETRY_SCALE != 1.0:
            raise ValueError(
                "EVENTS_RETRY_SCALE compresses the retry schedule for tests; keep 1 for STAGE=prod"
            )
        return self

    def events_signing_key(self) -> str:
        """``EVENTS_SIGNING_KEY``; SettingsError when it is not set (the events API needs it)."""
        if self.EVENTS_SIGNING_KEY is None or len(self.EVENTS_SIGNING_KEY.get_secret_value()) < 32:
            reason = "it is not set (at least 32 characters); event destinations need it"
            raise SettingsError([SettingProblem("EVENTS_SIGNING_KEY", reason)])
        return self.EVENTS_SIGNING_KEY.get_secret_value()

    def media_url_key(self) -> bytes:
        """The key that signs local media URLs: derived from ``WEBHOOK_SECRET`` (HMAC with a label
        of its own), so it is never stored, and rotating the secret voids every outstanding URL."""
        secret = self.WEBHOOK_SECRET.get_secret_value().encode()
        return hmac.new(secret, b"whatsapp-evolution media url v1", hashlib.sha256).digest()

    @cached_property
    def api_key_digests(self) -> tuple[bytes, ...]:
        """SHA-256 digests of the accepted API keys (``sha256:<hex>`` entries taken as they are)."""
        digests: list[bytes] = []
        for raw in self.API_KEYS.get_secret_value().split(","):
            entry = raw.strip()
            if not entry:
                continue
            if _SHA256_KEY.fullmatch(entry):  # the validator refused every other sha256: entry
                digests.append(bytes.fromhex(entry[7:]))
            else:
                digests.append(hashlib.sha256(entry.encode()).digest())
        return tuple(digests)

    @cached_property
    def url_allowlist(self) -> Allowlist:
        """``URL_ALLOWLIST`` parsed: the private hosts outbound URLs may point at."""
        from chalicelib.urlguard import Allowlist  # noqa: PLC0415

        return Allowlist.parse(self.URL_ALLOWLIST)

    @property
    def evolution_base_url(self) -> str:
        return str(self.EVOLUTION_API_URL).rstrip("/")

    @property
    def webhook_url(self) -> str | None:
        if self.PUBLIC_BASE_URL is None:
            return None
        return str(self.PUBLIC_BASE_URL).rstrip("/") + "/webhook"

    def api_key_matches(self, presented: str) -> bool:
        """Whether ``presented`` is one of the API keys; constant time over every key."""
        digest = hashlib.sha256(presented.encode()).digest()
        found = False
        for candidate in self.api_key_digests:
            found |= hmac.compare_digest(digest, candidate)
        return found


def _looks_like_placeholder(value: str) -> bool:
    lowered = value.lower()
    if _SHA256_KEY.fullmatch(value):  # a digest, not the key: only a well-formed one is exempt
        return False
    return len(value) < _MIN_PROD_SECRET_LENGTH or any(m in lowered for m in _PLACEHOLDER_MARKERS)


def _ssm_values(prefix: str, client: Any = None) -> dict[str, str]:
    """Every parameter under ``prefix`` (decrypted), keyed by its last path segment."""
    if client is None:
        import boto3  # noqa: PLC0415 - only deployed stages with SSM pay for boto3

        client = boto3.client("ssm")
    path = "/" + prefix.strip("/")
    values: dict[str, str] = {}
    paginator = client.get_paginator("get_parameters_by_path")
    for page in paginator.paginate(Path=path, Recursive=False, WithDecryption=True):
        for parameter in page["Parameters"]:
            values[parameter["Name"].rsplit("/", 1)[-1]] = parameter["Value"]
    return {k: v for k, v in values.items() if k in Settings.model_fields}


def load_settings(ssm_client: Any = None, **overrides: Any) -> Settings:
    """Build the settings, turning validation errors into one message that names each setting."""
    try:
        extra: dict[str, Any] = {}
        prefix = overrides.get("SSM_PARAMETER_PREFIX") or os.environ.get("SSM_PARAMETER_PREFIX")
        # SSM is read only inside a deployed Lambda: `chalice local` shares the stage's config,
        # and locally the values come from the environment or `.env`.
        if prefix and (ssm_client is not None or os.environ.get("AWS_LAMBDA_FUNCTION_NAME")):
            extra = _ssm_values(prefix, ssm_client)
        return Settings(**{**extra, **overrides})
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_input=False):
            context = error.get("ctx") or {}
            name = ".".join(str(p) for p in error["loc"]) or str(context.get("setting", "settings"))
            problems.append(SettingProblem(name, error["msg"].removeprefix("Value error, ")))
        raise SettingsError(problems) from None


_reported: set[str] = set()


def report_once(error: SettingsError) -> None:
    """Log a settings error at ERROR the first time this process meets it (names only, never values)."""
    text = str(error)
    if text in _reported:
        return
    _reported.add(text)
    logger.error(
        "the service is misconfigured: %s",
        " ".join(problem.sentence() for problem in error.problems),
        extra={"settings": error.names},
    )


def stage_name() -> str:
    """The stage (``STAGE``), read without loading the settings: app.py names the stage's job queue
    with it when chalice builds the app (chalice sets the stage's variables before that)."""
    stage = os.environ.get("STAGE", "dev")
    return stage if re.fullmatch(r"[a-z][a-z0-9-]{0,20}", stage) else "dev"


@cache
def get_settings() -> Settings:
    """The process-wide settings, loaded on first use (never at import)."""
    return load_settings()
