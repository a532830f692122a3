"""Fixtures shared by the tests: real local servers on free ports, and headless Chromium
for the pages (the report's, the map's)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings

from harness.replay.launch.localstripe import localstripe

# No test is timed (performance is bench/'s): hypothesis's per-example deadline only
# fails tests on a busy machine.
settings.register_profile("shadow", deadline=None)
settings.load_profile("shadow")

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture
def localstripe_url(tmp_path: Path) -> Iterator[str]:
    """A fresh localstripe of this test's own, on 127.0.0.1."""
    with localstripe(log_path=tmp_path / "localstripe.log") as server:
        yield server.url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by playwright (skips, or fails under CI, when it
    is missing: tests/parts.py)."""
    from parts import chromium
    from playwright.sync_api import sync_playwright

    executable = chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        yield launched
        launched.close()
