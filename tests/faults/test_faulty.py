"""The fault-injecting wrapper: the N-th call of a method fails, before or after delegating."""

from __future__ import annotations

import pytest

from tests.faults.faulty import Faulty


class Box:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.label = "box"

    def put(self, item: str) -> int:
        self.items.append(item)
        return len(self.items)


def test_only_the_nth_call_fails_and_the_others_reach_the_wrapped_object() -> None:
    box = Faulty(Box()).fail("put", RuntimeError("boom"), nth=2)

    assert box.put("a") == 1
    with pytest.raises(RuntimeError, match="boom"):
        box.put("b")
    assert box.put("c") == 2

    assert box.inner.items == ["a", "c"], "a fault before delegating has no effect"
    assert box.calls["put"] == 3
    assert box.fired == [("put", 2, "before")]


def test_a_fault_after_delegating_keeps_the_effect_and_loses_the_answer() -> None:
    box = Faulty(Box()).fail("put", OSError("lost"), when="after", times=2)

    for item in ("a", "b"):
        with pytest.raises(OSError, match="lost"):
            box.put(item)
    assert box.put("c") == 3

    assert box.inner.items == ["a", "b", "c"]
    assert box.fired == [("put", 1, "after"), ("put", 2, "after")]


def test_attributes_pass_through_and_heal_forgets_pending_faults() -> None:
    box = Faulty(Box()).fail("put", RuntimeError("never"), nth=1)
    box.heal()

    assert box.label == "box"
    assert box.put("a") == 1


def test_a_fault_on_a_method_the_object_lacks_is_refused_at_once() -> None:
    with pytest.raises(AttributeError, match="no method 'take'"):
        Faulty(Box()).fail("take", RuntimeError("x"))
    with pytest.raises(ValueError, match="start at 1"):
        Faulty(Box()).fail("put", RuntimeError("x"), nth=0)
