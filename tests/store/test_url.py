"""Choosing a store by URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.store import store_from_url
from chalicelib.store.dynamodb import DynamoDBStore
from chalicelib.store.sqlite import SQLiteStore


def test_a_sqlite_url_with_three_slashes_names_a_relative_path() -> None:
    store = store_from_url("sqlite:///var/data/store.db")

    assert isinstance(store, SQLiteStore) and store.path == "var/data/store.db"


def test_a_sqlite_url_with_four_slashes_names_an_absolute_path(tmp_path: Path) -> None:
    store = store_from_url(f"sqlite:///{tmp_path}/store.db")

    assert isinstance(store, SQLiteStore) and store.path == f"{tmp_path}/store.db"
    assert not (tmp_path / "store.db").exists()  # nothing opened yet


def test_a_dynamodb_url_names_the_table_and_connects_to_nothing_yet() -> None:
    store = store_from_url("dynamodb://whatsapp-prod.messages_v1")

    assert isinstance(store, DynamoDBStore) and store.table_name == "whatsapp-prod.messages_v1"


@pytest.mark.parametrize(
    "url",
    [
        "",
        "postgres://db/store",
        "sqlite://relative.db",
        "sqlite:///",
        "sqlite:///some/dir/",
        "dynamodb://",
        "dynamodb://a",
        "dynamodb://bad/name",
        "DYNAMODB://table",
    ],
)
def test_an_unsupported_or_incomplete_url_is_a_clear_value_error(url: str) -> None:
    with pytest.raises(ValueError, match="URL"):
        store_from_url(url)
