"""Record the third-party integration of scenarios/sdk/driver.py: localstripe behind
`shadow record`, the stripe SDK in front, from several threads at once.

    python -m scenarios.sdk.make_recording build/sdk.jsonl --workers 4
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

from scenarios.demo.make_recording import record_driver, record_main
from scenarios.sdk.driver import CUSTOMERS_PER_WORKER, WORKERS, run


def make_recording(out: Path, workers: int = WORKERS, customers: int = CUSTOMERS_PER_WORKER) -> int:
    """Record the integration with `workers` threads of `customers` customers each into
    `out`; returns the requests made."""
    return record_driver(out, functools.partial(run, workers=workers, customers=customers), "sdk")


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, default=WORKERS, help="threads at once")
    parser.add_argument(
        "--customers", type=int, default=CUSTOMERS_PER_WORKER, help="customers per thread"
    )


def main() -> None:
    record_main(make_recording, __doc__.splitlines()[0], "build/sdk.jsonl", _options)


if __name__ == "__main__":
    main()
