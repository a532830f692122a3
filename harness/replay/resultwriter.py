"""Redacts and appends a target's result lines in a process of its own, beside the replay.

Redaction is regular-expression work on every body: hundreds of microseconds for a
charge, as much as the HTTP exchange itself costs the event loop. So the replay sends
each finished exchange, unredacted, as one JSON line through a pipe (memory, never disk)
to `python -m harness.replay.resultwriter FILE`, which redacts it and appends it to the
target's file. When the pipe closes — the replay ended, or was killed, even with SIGKILL —
it writes everything it received and exits.

A thread of the replay's process writes into the pipe, so that a writer that falls
behind (on a busy machine it gets less of a core than the replay) no longer stops the
event loop in a blocking write: lines wait in memory (at most `BACKLOG` bytes; beyond
that, the journeys that finish wait, ResultPipe.room). A line that must be in the pipe
before the replay goes on (an in-doubt mark, written before an unrepeatable request is
sent) is waited for (ResultPipe.flushed). What is still in memory when the replay is
killed with SIGKILL is lost, as an answer still on the wire would be: a resumed run sends
those exchanges again, with the Idempotency-Keys it sent them with.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import orjson

from harness.capture.redact import redact_exchange
from harness.errors import InfrastructureError
from harness.formats.recording import Header
from harness.formats.results import ResultWriter
from harness.model import Exchange

_PIPE_SIZE = 1 << 20  # room for a few hundred results before the replay has to wait
_F_SETPIPE_SZ = 1031  # Linux
# Bytes of result lines the replay may hold for its writer beyond the pipe's.
BACKLOG = 16 << 20
# How often a journey that waits for the writer looks again (seconds).
_POLL = 0.002


class ResultPipe:
    """The replay's end: `write` hands an exchange over, `close` waits until all are on disk."""

    def __init__(self, path: Path, header: Header) -> None:
        self.path = path
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "harness.replay.resultwriter",
                str(path),
                json.dumps(header.to_json()),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
        )
        assert self._process.stdin is not None
        self._stdin = self._process.stdin
        with contextlib.suppress(OSError):
            fcntl.fcntl(self._stdin.fileno(), _F_SETPIPE_SZ, _PIPE_SIZE)
        # Lines handed over and not yet in the pipe: the pump thread writes them in order.
        self._lines: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        # Lines and bytes handed over (counted by the replay's thread) and written into
        # the pipe (by the pump): each counter has one thread that changes it.
        self._handed = self._handed_bytes = 0
        self._written = self._written_bytes = 0
        self._broken = False
        self._pump = threading.Thread(target=self._write_lines, name="result-pipe", daemon=True)
        self._pump.start()

    def _write_lines(self) -> None:
        while (line := self._lines.get()) is not None:
            try:
                self._stdin.write(line)
            except (OSError, ValueError):
                self._broken = True  # the writer died: write() says so in the replay
                return
            self._written_bytes += len(line)
            self._written += 1

    def wait_ready(self) -> None:
        """Wait until the writer has opened (and locked) its file: from then on, a reader
        that waits for the lock sees every line handed over, even if this process dies
        (harness.formats.shards.wait_for_writer)."""
        assert self._process.stdout is not None
        if not self._process.stdout.read(1):
            self._failed()

    def write(self, exchange: Exchange) -> None:
        """Hand a result over; the pump writes it into the pipe."""
        line = _line(exchange)
        if self._broken:
            self._failed()
        self._handed_bytes += len(line)
        self._handed += 1
        self._lines.put(line)

    async def write_through(self, exchange: Exchange) -> None:
        """Hand a result over and return once it is in the pipe (the writer has it even
        if this process dies now): written here when the pump has nothing left to write,
        as is usual, else after everything handed over before it."""
        if self._written < self._handed:
            self.write(exchange)
            await self.flushed()
            return
        try:
            self._stdin.write(_line(exchange))  # the pump is idle: no other writer
        except (OSError, ValueError):
            self._failed()

    @property
    def full(self) -> bool:
        """More than BACKLOG bytes wait for the pipe: the replay should wait (room)."""
        return self._handed_bytes - self._written_bytes > BACKLOG

    async def room(self) -> None:
        """Wait until the lines held for the writer are within BACKLOG."""
        while self.full and not self._broken:
            await asyncio.sleep(_POLL)
        if self._broken:
            self._failed()

    async def flushed(self) -> None:
        """Wait until every line handed over is in the pipe (the writer has it even if
        this process dies now)."""
        while self._written < self._handed and not self._broken:
            await asyncio.sleep(_POLL)
        if self._broken:
            self._failed()

    def close(self) -> None:
        if self._pump.is_alive():
            self._lines.put(None)  # after every line handed over
            self._pump.join(timeout=120)
            if self._pump.is_alive():  # a writer that reads nothing more
                self._process.kill()
                self._pump.join()
        if not self._stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self._stdin.close()
        try:
            self._process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.returncode != 0:
            self._failed()
        for stream in (self._process.stdout, self._process.stderr):
            if stream is not None:
                stream.close()

    def _failed(self) -> None:
        self._process.wait()
        stderr = (
            self._process.stderr.read().decode("utf-8", "replace") if self._process.stderr else ""
        )
        last = stderr.strip().splitlines()[-1:] or ["no output"]
        raise InfrastructureError(f"{self.path}: the result writer failed ({last[0]})")

    def __enter__(self) -> ResultPipe:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _line(exchange: Exchange) -> bytes:
    """An exchange as one JSON line for the writer."""
    data = exchange.to_json()
    try:
        # orjson: a third of the standard library's time, on the engine's one core.
        return orjson.dumps(data, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:
        # What orjson refuses to write (an integer past 64 bits, in a transform's note):
        # the standard library writes it.
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


# Nineteen digits in a row (every digit made a 9 first): an integer orjson may read as a
# float, past 64 bits, which ResultPipe wrote with the standard library.
_DIGITS_AS_NINES = bytes.maketrans(b"0123456789", b"9" * 10)
_LONG_DIGITS = b"9" * 19


def _parse(line: bytes) -> Any:
    """A line ResultPipe wrote: orjson reads it, or the standard library when it may
    hold an integer past 64 bits (orjson would read a float)."""
    if _LONG_DIGITS in line.translate(_DIGITS_AS_NINES):
        return json.loads(line)
    return orjson.loads(line)


def main(argv: list[str]) -> int:
    """Read JSON lines on stdin until it closes; append each, redacted, to argv[0]."""
    path, header = Path(argv[0]), Header.from_json(json.loads(argv[1]))
    with ResultWriter(path, header) as writer:
        # Opened and locked (ResultPipe.wait_ready). The replay may be dead already (it
        # was killed while this process started): then nobody reads, and the lines it
        # handed over are written all the same.
        with contextlib.suppress(OSError):
            os.write(sys.stdout.fileno(), b"+")
        for line in sys.stdin.buffer:
            if not line.endswith(b"\n"):
                break  # the replay died mid-line: that exchange was still in flight
            writer.write(redact_exchange(Exchange.from_json(_parse(line))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
