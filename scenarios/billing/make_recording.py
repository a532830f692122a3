"""Record the month-end billing integration: localstripe behind `shadow record`, driven by
scenarios/billing/driver.py.

    python -m scenarios.billing.make_recording recordings/month-end.jsonl [--pause SECONDS]

The shipped recordings/month-end.jsonl was made at a month's end with libfaketime
(`faketime '2026-10-31 22:30:00' python -m scenarios.billing.make_recording ...`): every
process (the driver, the recorder, localstripe) saw that date.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from harness.errors import ShadowError
from scenarios.billing.driver import run
from scenarios.demo.make_recording import record_driver


def make_recording(out: Path, pause: float = 0.0) -> int:
    """Record the integration into `out`, waiting `pause` seconds where the customer comes
    back later; returns the number of SDK requests made."""
    return record_driver(
        out,
        lambda api_base, api_key: run(api_base, api_key, pause=lambda: time.sleep(pause)),
        "billing",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "out", type=Path, help="recording to write, e.g. recordings/month-end.jsonl"
    )
    parser.add_argument(
        "--pause",
        type=float,
        default=0.0,
        help="seconds between the first visit and the later one (default 0)",
    )
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    try:
        calls = make_recording(args.out, args.pause)
    except ShadowError as exc:
        raise SystemExit(f"make_recording: error: {exc}") from None
    print(calls)


if __name__ == "__main__":
    main()
