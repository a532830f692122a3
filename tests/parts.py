"""The parts of the machine some tests need beyond Python: headless Chromium, a Docker
engine, a static busybox, libfaketime. A test that needs a missing part skips and says
how to enable it; under CI (`CI` set, as `.ci/run` runs) the skip is a failure instead,
because CI installs and starts every part (README: "What the tests need")."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# Debian's libfaketime (package faketime); the multi-threaded flavour, since localstripe,
# mitmproxy and the replay run threads.
FAKETIME_LIBRARIES = (
    Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"),
    Path("/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1"),
    Path("/usr/lib/faketime/libfaketimeMT.so.1"),
)


def in_ci() -> bool:
    return bool(os.environ.get("CI"))


def missing(part: str, how: str) -> None:
    """Skip the calling test because `part` is missing (`how` says how to get it); under
    CI, fail it: there every part must be present."""
    reason = f"{part}: {how}"
    if in_ci():
        pytest.fail(f"{reason}; under CI every part must be present (.ci/run installs it)")
    pytest.skip(reason)


def chromium() -> Path:
    if not CHROMIUM.exists():
        missing(
            f"{CHROMIUM} not found",
            "the browser tests need Debian's chromium package (apt-get install chromium)",
        )
    return CHROMIUM


def faketime_library() -> Path:
    for library in FAKETIME_LIBRARIES:
        if library.exists():
            return library
    missing(
        "libfaketime not found",
        "the tests at chosen dates need Debian's faketime package (apt-get install faketime)",
    )
    raise AssertionError("unreachable")  # missing() skips or fails


def static_busybox() -> Path:
    found = shutil.which("busybox")
    if found is None:
        missing(
            "busybox not found",
            "the container tests build their image from Debian's busybox-static "
            "(apt-get install busybox-static)",
        )
        raise AssertionError("unreachable")
    binary = Path(found).resolve()
    if b"ld-linux" in binary.read_bytes()[:8192]:
        missing(f"{binary} is linked dynamically", "install Debian's busybox-static")
    return binary


def registry_allowed() -> None:
    """Skip the calling test unless downloads from the package registry are wanted: under
    CI, or with SHADOW_TEST_REGISTRY=1 (they take tens of seconds, so `make test` leaves
    them out on a developer's machine)."""
    if not (in_ci() or os.environ.get("SHADOW_TEST_REGISTRY")):
        pytest.skip(
            "downloads a stripe release from PyPI (about 20 s): set SHADOW_TEST_REGISTRY=1 "
            "to run it (CI always does)"
        )


# Where Debian's postgresql package puts its server programs (one directory per version).
POSTGRES_DIRECTORIES = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def postgres_bin() -> Path:
    """The directory holding PostgreSQL's initdb, pg_ctl and postgres: on PATH, or from
    Debian's postgresql package."""
    on_path = shutil.which("initdb")
    for directory in [
        *([Path(on_path).resolve().parent] if on_path else []),
        *POSTGRES_DIRECTORIES,
    ]:
        if all((directory / program).exists() for program in ("initdb", "pg_ctl", "postgres")):
            return directory
    missing(
        "PostgreSQL's initdb/pg_ctl not found",
        "the PostgreSQL reconciliation tests start a server of their own from Debian's "
        "postgresql package (apt-get install postgresql)",
    )
    raise AssertionError("unreachable")
