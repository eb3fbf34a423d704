"""The public API's request bodies (what clients send us)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ApiModel(BaseModel):
    """Base of request bodies: unknown fields are an error, strings are not coerced from numbers."""

    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)


class ConnectRequest(ApiModel):
    """``POST /connect``: a phone number asks for a pairing code as well as the QR."""

    phone: str | None = Field(default=None, min_length=8, max_length=32)
