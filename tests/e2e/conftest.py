"""Fixtures of the e2e suite: real processes (see ``tests/procs.py``), shared for the whole session."""

from __future__ import annotations

import pytest

from tests.procs import Stack, ensure_connected, shared_stack


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Stack:
    """The simulator and `chalice local`, started once per session and stopped at its end."""
    return shared_stack(request, tmp_path_factory)


@pytest.fixture(autouse=True)
def _clear_faults(stack: Stack) -> None:
    """No test inherits another's injected faults."""
    stack.sim("DELETE", "/faults").raise_for_status()


@pytest.fixture
def connected(stack: Stack) -> Stack:
    """The stack with its WhatsApp session open (paired through the real connect flow if needed)."""
    ensure_connected(stack)
    return stack
