"""Regenerate the demo recording: localstripe behind `shadow record`, driven by the demo.

    python -m scenarios.demo.make_recording recordings/demo.jsonl

localstripe starts from scratch on a free port, `shadow record` runs as a real
subprocess in reverse mode in front of it, the driver talks to the recorder through the
stripe SDK, and SIGINT stops the recorder so the file is complete.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.errors import InfrastructureError
from harness.process import LOCALSTRIPE_TEST_KEY, localstripe
from scenarios.demo.driver import run

READY_TIMEOUT = 30.0


def shadow_command() -> list[str]:
    """`shadow`, from the same environment as this interpreter."""
    script = Path(sys.executable).with_name("shadow")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from harness.cli import main; main()"]


@contextmanager
def recorder(upstream: str, out: Path, *extra: str) -> Iterator[str]:
    """`shadow record` in front of `upstream`, writing `out`; yields its base URL.

    Stopped with SIGINT on exit, as a user stops it with Ctrl-C.
    """
    command = [
        *shadow_command(),
        "record",
        "--upstream",
        upstream,
        "--listen",
        "127.0.0.1:0",
        "--out",
        str(out),
        *extra,
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + READY_TIMEOUT
        line = process.stdout.readline()
        if not line.startswith("listening on ") or time.monotonic() > deadline:
            process.kill()
            _, err = process.communicate(timeout=10)
            raise InfrastructureError(f"shadow record did not start: {line.strip()} {err.strip()}")
        yield line.split()[-1]
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def make_recording(out: Path) -> int:
    """Record the demo into `out`; returns the number of SDK requests made."""
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"shadow-demo-localstripe-{os.getpid()}.log"
    with localstripe(log_path=log) as upstream, recorder(upstream.url, out) as api_base:
        return run(api_base, LOCALSTRIPE_TEST_KEY)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="recording to write, e.g. recordings/demo.jsonl")
    args = parser.parse_args()
    calls = make_recording(args.out)
    print(calls)


if __name__ == "__main__":
    main()
