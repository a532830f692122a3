"""Regenerate the Charges recording: localstripe behind `shadow record`, driven by the
Charges-era integration in scenarios/charges/driver.py.

    python -m scenarios.charges.make_recording recordings/charges.jsonl
"""

from __future__ import annotations

from pathlib import Path

from scenarios.charges.driver import run
from scenarios.demo.make_recording import record_driver, record_main


def make_recording(out: Path) -> int:
    """Record the integration into `out`; returns the number of SDK requests made."""
    return record_driver(out, run, "charges")


def main() -> None:
    record_main(make_recording, __doc__.splitlines()[0], "recordings/charges.jsonl")


if __name__ == "__main__":
    main()
