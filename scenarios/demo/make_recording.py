"""Regenerate the demo recording: localstripe behind `shadow record`, driven by the demo.

    python -m scenarios.demo.make_recording recordings/demo.jsonl

Beside it, the driver's app writes its own database (demo-app.sqlite, with its planted
drifts: scenarios/demo/app_records.py) from the answers it received.

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
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness.errors import InfrastructureError, ShadowError
from harness.replay.launch.localstripe import LOCALSTRIPE_TEST_KEY, localstripe
from scenarios.demo.app_records import app_states, write_app_database
from scenarios.demo.driver import run

STOP_TIMEOUT = 30.0  # seconds a recorder gets to finish its file


def shadow_command() -> list[str]:
    """`shadow`, from the same environment as this interpreter."""
    script = Path(sys.executable).with_name("shadow")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from harness.cli import main; main()"]


@dataclass(slots=True)
class RunningRecorder:
    """A `shadow record` subprocess that is serving at `url`."""

    url: str
    process: subprocess.Popen[str]
    # Where the webhook capture listens, with --webhooks-upstream.
    webhooks_url: str | None = None


@contextmanager
def recorder(out: Path, *options: str) -> Iterator[RunningRecorder]:
    """`shadow record --out OUT --listen 127.0.0.1:0 OPTIONS…` until the block ends.

    Stopped with SIGINT on exit, as a user stops it with Ctrl-C (unless the block has
    already stopped it some other way). Unless OPTIONS name a `--confdir`, mitmproxy's
    CA is made in a directory of this recorder's own, so recorders started side by side
    never race to create ~/.mitmproxy.
    """
    with ExitStack() as stack:
        if "--confdir" not in options:
            confdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="shadow-mitmproxy-"))
            options = (*options, "--confdir", confdir)
        yield stack.enter_context(_running(out, options))


@contextmanager
def _running(out: Path, options: tuple[str, ...]) -> Iterator[RunningRecorder]:
    command = [*shadow_command(), "record", "--listen", "127.0.0.1:0", "--out", str(out), *options]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # ends at the first line, or when the process exits
        webhooks = None
        if line.startswith("webhooks listening on "):
            webhooks = line.split()[-1]
            line = process.stdout.readline()
        if not line.startswith("listening on "):
            process.kill()
            _, err = process.communicate(timeout=STOP_TIMEOUT)
            raise InfrastructureError(f"shadow record did not start: {line.strip()} {err.strip()}")
        yield RunningRecorder(url=line.split()[-1], process=process, webhooks_url=webhooks)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def record_driver(out: Path, drive: Callable[[str, str], int], name: str = "demo") -> int:
    """localstripe behind `shadow record`, driven by `drive(api_base, api_key)`; returns
    the number of SDK requests the driver made."""
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"shadow-{name}-localstripe-{os.getpid()}.log"
    with (
        localstripe(log_path=log) as upstream,
        recorder(out, "--upstream", upstream.url) as proxy,
    ):
        return drive(proxy.url, LOCALSTRIPE_TEST_KEY)


def make_recording(out: Path) -> int:
    """Record the demo into `out`, and the app's database beside it as demo-app.sqlite;
    returns the number of SDK requests made."""
    calls = record_driver(out, run, "demo")
    write_app_database(out.with_name("demo-app.sqlite"), app_states(out))
    return calls


def record_main(
    record: Callable[..., int],
    description: str,
    example: str,
    add_options: Callable[[argparse.ArgumentParser], None] | None = None,
) -> None:
    """The command line of a recording script: `python -m ... OUT.jsonl [OPTIONS]`;
    `record(out, **options)` makes the recording and returns the requests it made."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("out", type=Path, help=f"recording to write, e.g. {example}")
    if add_options is not None:
        add_options(parser)
    options = vars(parser.parse_args())
    out: Path = options.pop("out")
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        calls = record(out, **options)
    except ShadowError as exc:
        raise SystemExit(f"make_recording: error: {exc}") from None
    print(calls)


def main() -> None:
    record_main(make_recording, __doc__.splitlines()[0], "recordings/demo.jsonl")


if __name__ == "__main__":
    main()
