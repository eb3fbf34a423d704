"""The instance-state contract (InstanceStore), run against every backend."""

from __future__ import annotations

import pytest

from chalicelib.store import Store
from tests.store.conftest import INSTANCE, NOW, at

# -- instance state and health -------------------------------------------------------------------


def test_instance_state_is_absent_until_written_and_then_merged(store: Store) -> None:
    assert store.get_instance_state(INSTANCE) is None

    store.update_instance_state(INSTANCE, state="connecting", qr_code="data:image/png;base64,AA")
    merged = store.update_instance_state(
        INSTANCE, state="open", qr_code=None, updated_at=at(5), next_restart_at=NOW + 0.5
    )
    merged = store.update_instance_state(INSTANCE, checked_state="open", restart_attempts=2)

    assert merged.state == "open" and merged.qr_code is None and merged.updated_at == at(5)
    assert merged.checked_state == "open" and merged.restart_attempts == 2
    assert merged.next_restart_at == NOW + 0.5
    assert store.get_instance_state(INSTANCE) == merged
    assert store.get_instance_state("other-instance") is None


def test_unknown_instance_state_fields_are_rejected(store: Store) -> None:
    with pytest.raises(ValueError, match="colour"):
        store.update_instance_state(INSTANCE, colour="blue")
