"""Record seeded stateful traffic: localstripe behind `shadow record`, driven by
scenarios/traffic/driver.py.

    python -m scenarios.traffic.make_recording build/traffic-7.jsonl --seed 7 --requests 300
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

from harness.errors import ShadowError
from scenarios.demo.make_recording import record_driver
from scenarios.traffic.driver import run


def make_recording(out: Path, seed: int, requests: int) -> int:
    """Record `requests` requests of seed `seed` into `out`; returns the requests made."""
    drive = functools.partial(run, seed=seed, requests=requests)
    return record_driver(out, drive, f"traffic-{seed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="recording to write, e.g. build/traffic-7.jsonl")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    try:
        calls = make_recording(args.out, args.seed, args.requests)
    except ShadowError as exc:
        raise SystemExit(f"make_recording: error: {exc}") from None
    print(calls)


if __name__ == "__main__":
    main()
