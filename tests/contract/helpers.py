"""Small helpers for the contract tier: unique instance names and their cleanup on the real server."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import requests

from tests.contract.conftest import RealEvolution

PNG_1X1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
RECIPIENT = "5511987654321"
UNREACHABLE_MEDIA = "http://127.0.0.1:9/media/photo.png"


def unique(label: str) -> str:
    return f"ct{secrets.token_hex(4)}-{label}"


def delete_instance(real: RealEvolution, name: str) -> None:
    requests.delete(f"{real.url}/instance/delete/{name}", headers={"apikey": real.api_key}, timeout=30)


def create_raw(real: RealEvolution, name: str, *, qrcode: bool) -> requests.Response:
    body = {"instanceName": name, "integration": "WHATSAPP-BAILEYS", "qrcode": qrcode}
    return requests.post(
        f"{real.url}/instance/create", json=body, headers={"apikey": real.api_key}, timeout=30
    )


@contextmanager
def instances(real: RealEvolution) -> Iterator[list[str]]:
    """A list to put created names in; every one is deleted on the way out."""
    names: list[str] = []
    try:
        yield names
    finally:
        for name in names:
            delete_instance(real, name)
