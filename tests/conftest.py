"""Fixtures shared by the capture tests: real local servers on free ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.replay.launch.localstripe import localstripe


@pytest.fixture
def localstripe_url(tmp_path: Path) -> Iterator[str]:
    """A fresh localstripe of this test's own, on 127.0.0.1."""
    with localstripe(log_path=tmp_path / "localstripe.log") as server:
        yield server.url
