"""The ``load`` marker: the full-size runs, skipped unless selected (``make load`` = ``-m load``)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "load: full-size load tests (slow); run with `make load` or -m load")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "load" in (config.getoption("markexpr", default="") or ""):
        return
    skip = pytest.mark.skip(reason="full-size load test: run it with `make load` (pytest -m load)")
    for item in items:
        if item.get_closest_marker("load") is not None:
            item.add_marker(skip)
