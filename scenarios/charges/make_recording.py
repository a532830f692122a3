"""Regenerate the Charges recording: localstripe behind `shadow record`, driven by the
Charges-era integration in scenarios/charges/driver.py.

    python -m scenarios.charges.make_recording recordings/charges.jsonl
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from harness.errors import ShadowError
from harness.process import LOCALSTRIPE_TEST_KEY, localstripe
from scenarios.charges.driver import run
from scenarios.demo.make_recording import recorder


def make_recording(out: Path) -> int:
    """Record the integration into `out`; returns the number of SDK requests made."""
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"shadow-charges-localstripe-{os.getpid()}.log"
    with (
        localstripe(log_path=log) as upstream,
        recorder(out, "--upstream", upstream.url) as proxy,
    ):
        return run(proxy.url, LOCALSTRIPE_TEST_KEY)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="recording to write, e.g. recordings/charges.jsonl")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    try:
        calls = make_recording(args.out)
    except ShadowError as exc:
        raise SystemExit(f"make_recording: error: {exc}") from None
    print(calls)


if __name__ == "__main__":
    main()
