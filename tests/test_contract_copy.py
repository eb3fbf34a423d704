"""The vendored Evolution contract (text, schemas, webhooks) must not drift from the shared one when present."""

from __future__ import annotations

import filecmp

import pytest

from tests.conftest import CONTRACT, REPO

SHARED = REPO.parent / "shared" / "evolution"


@pytest.mark.skipif(not SHARED.is_dir(), reason="no shared contract folder beside the checkout")
@pytest.mark.parametrize("folder", ["schemas", "webhooks"])
def test_vendored_contract_matches_the_shared_one(folder: str) -> None:
    shared = sorted(p.name for p in (SHARED / folder).iterdir())
    ours = sorted(p.name for p in (CONTRACT / folder).iterdir())
    assert ours == shared
    match, mismatch, errors = filecmp.cmpfiles(SHARED / folder, CONTRACT / folder, shared, shallow=False)
    assert mismatch == [] and errors == []
    assert len(match) == len(shared)


@pytest.mark.skipif(not SHARED.is_dir(), reason="no shared contract folder beside the checkout")
def test_the_vendored_contract_text_matches_the_shared_one() -> None:
    assert (CONTRACT / "CONTRACT.md").read_text(encoding="utf-8") == (SHARED / "CONTRACT.md").read_text(
        encoding="utf-8"
    )
