"""Record the month-end billing integration (scenarios/billing/driver.py).

localstripe runs behind `shadow record`, the driver talks to the recorder.

    python -m scenarios.billing.make_recording recordings/month-end.jsonl [--pause SECONDS]

The shipped recordings/month-end.jsonl was made at a month's end with libfaketime, every
process (the driver, the recorder, localstripe) on one clock that started at that date:

    TZ=UTC FAKETIME='@2026-10-31 22:30:00' FAKETIME_DONT_RESET=1 \
        LD_PRELOAD=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 \
        python -m scenarios.billing.make_recording recordings/month-end.jsonl --pause 8
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from scenarios.billing.driver import run
from scenarios.demo.make_recording import record_driver, record_main


def make_recording(out: Path, pause: float = 0.0) -> int:
    """Record the integration into `out`, waiting `pause` seconds where the customer comes
    back later; returns the number of SDK requests made."""
    return record_driver(
        out,
        lambda api_base, api_key: run(api_base, api_key, pause=lambda: time.sleep(pause)),
        "billing",
    )


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pause",
        type=float,
        default=0.0,
        help="seconds between the first visit and the later one (default 0)",
    )


def main() -> None:
    record_main(make_recording, __doc__.splitlines()[0], "recordings/month-end.jsonl", _options)


if __name__ == "__main__":
    main()
