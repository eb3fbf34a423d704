"""Fixtures of the browser suite: Debian's Chromium driven by Playwright, over the e2e processes.

Without Chromium or Playwright the suite is skipped on a laptop, and fails under CI (``CI`` set).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.procs import Stack, shared_stack

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def unavailable(reason: str) -> None:
    """Skip on a developer machine; fail under CI, where a missing browser is a broken build."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Stack:
    """The same simulator + `chalice local` pair the e2e suite uses (one per session)."""
    return shared_stack(request, tmp_path_factory)


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A headless Chromium (persistent context on a fresh user-data dir)."""
    if not (CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK)):
        unavailable(f"{CHROMIUM} is missing: run `make browser-deps` (or apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed: pip install -r requirements-dev.txt")
    user_data = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(user_data),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 520, "height": 720},
            device_scale_factor=1,
        )
        try:
            yield context
        finally:
            context.close()
    shutil.rmtree(user_data, ignore_errors=True)


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    """A fresh tab; console errors (CSP violations included) are collected on ``page.errors``."""
    tab = chromium.new_page()
    tab.errors = []
    tab.on("console", lambda message: message.type == "error" and tab.errors.append(message.text))
    tab.on("pageerror", lambda error: tab.errors.append(str(error)))
    try:
        yield tab
    finally:
        tab.close()
