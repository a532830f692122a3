"""Redacts and appends a target's result lines in a process of its own, beside the replay.

Redaction is regular-expression work on every body: hundreds of microseconds for a
charge, as much as the HTTP exchange itself costs the event loop. So the replay sends
each finished exchange, unredacted, as one JSON line through a pipe (memory, never disk)
to `python -m harness.replay.resultwriter FILE`, which redacts it and appends it to the
target's file. When the pipe closes — the replay ended, or was killed, even with SIGKILL —
it writes everything it received and exits.

The replay's event loop writes into the pipe itself, without blocking: the lines that
finish within a few milliseconds go in one write, and what the pipe has no room for waits
in memory until the loop sees it writable again. A writer that falls behind (on a busy
machine it gets less of a core than the replay) therefore never stops the event loop:
lines wait in memory (at most `BACKLOG` bytes; beyond that, the journeys that finish
wait, ResultPipe.room). No thread: one writing beside the event loop cost the replay
more CPU in handing over the GIL than the writes themselves. A line that must be in
the pipe before the replay goes on (an in-doubt mark, written before an unrepeatable
request is sent) is waited for (ResultPipe.write_through). What is still in memory when
the replay is killed with SIGKILL is lost, as an answer still on the wire would be: a
resumed run sends those exchanges again, with the Idempotency-Keys it sent them with.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import gc
import json
import os
import select
import subprocess
import sys
import time
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
# Lines go into the pipe together: those finished within this many seconds, or once
# they come to this many bytes (a system call per line was a tenth of the event loop).
_FLUSH_AFTER = 0.005
_FLUSH_BYTES = 1 << 16
# How long closing waits for a writer to read what is left and finish (seconds).
_CLOSE_WAIT = 120.0


class ResultPipe:
    """The replay's end: `write` hands an exchange over, `close` waits until all are on disk
    (`finish` then `wait`, for several writers ending side by side)."""

    def __init__(self, path: Path, header: Header, head: Path | None = None) -> None:
        self.path = path
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "harness.replay.resultwriter",
                str(path),
                json.dumps(header.to_json()),
                *([str(head)] if head is not None else []),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
        )
        assert self._process.stdin is not None
        self._stdin = self._process.stdin
        self._fd = self._stdin.fileno()
        with contextlib.suppress(OSError):
            fcntl.fcntl(self._fd, _F_SETPIPE_SZ, _PIPE_SIZE)
        os.set_blocking(self._fd, False)
        # Lines handed over and not yet in the pipe, in order (the first may be the rest
        # of one the pipe took part of), and their bytes.
        self._pending: list[bytes | memoryview] = []
        self._held = 0
        # The event loop a flush is due on, when one is.
        self._scheduled: asyncio.AbstractEventLoop | None = None
        self._watching: asyncio.AbstractEventLoop | None = None  # waits for room in the pipe
        self._broken = False
        self._deadline: float | None = None  # set by finish: the writer must end by then

    def wait_ready(self) -> None:
        """Wait until the writer has opened (and locked) its file: from then on, a reader
        that waits for the lock sees every line handed over, even if this process dies
        (harness.formats.shards.wait_for_writer)."""
        assert self._process.stdout is not None
        if not self._process.stdout.read(1):
            self._failed()

    def write(self, exchange: Exchange) -> None:
        """Hand a result over: it goes into the pipe with the others finished within
        `_FLUSH_AFTER` seconds, or once they come to `_FLUSH_BYTES` (at once, outside an
        event loop)."""
        self._hold(_line(exchange))
        if self._held >= _FLUSH_BYTES:
            self._flush()
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._flush()
            return
        if self._scheduled is not loop:
            self._scheduled = loop
            loop.call_later(_FLUSH_AFTER, self._flush)

    def write_head(self, exchange: Exchange) -> None:
        """Hand over a line of the head's file (the `head` given) and put it into the
        pipe now, as far as the pipe takes it without blocking. When the pipe is full, it
        waits in memory with the lines before it, for the event loop to write once the
        pipe has room (`pending` says so)."""
        self._hold(_HEAD + _line(exchange))
        if self._watching is None:  # else the pipe is full: trying now would copy them all
            self._flush()

    @property
    def pending(self) -> bool:
        """Some line handed over is not in the pipe yet."""
        return bool(self._pending)

    def _hold(self, line: bytes) -> None:
        if self._broken:
            self._failed()
        self._pending.append(line)
        self._held += len(line)

    async def write_through(self, exchange: Exchange) -> None:
        """Hand a result over and return once it is in the pipe (the writer has it even
        if this process dies now), after every line handed over before it."""
        self.write(exchange)
        self._flush()
        await self.flushed()

    @property
    def full(self) -> bool:
        """More than BACKLOG bytes wait for the pipe: the replay should wait (room)."""
        return self._held > BACKLOG

    async def room(self) -> None:
        """Wait until the lines held for the writer are within BACKLOG."""
        while self.full and not self._broken:
            await asyncio.sleep(_POLL)
        if self._broken:
            self._failed()

    async def flushed(self) -> None:
        """Wait until every line handed over is in the pipe (the writer has it even if
        this process dies now)."""
        while self._pending and not self._broken:
            await asyncio.sleep(_POLL)
        if self._broken:
            self._failed()

    def _flush(self) -> None:
        """Write what the pipe takes without blocking; when some is left, have the event
        loop (if one runs) call again once the pipe has room."""
        self._scheduled = None
        while self._pending and not self._broken:
            first = self._pending[0]
            # The rest of a line the pipe took part of goes alone: joined with the lines
            # after it, a writer far behind would have it copied once a write.
            data = first if isinstance(first, memoryview) else b"".join(self._pending)
            count = len(self._pending) if isinstance(data, bytes) else 1
            try:
                written = os.write(self._fd, data)
            except BlockingIOError:
                break
            except OSError:
                self._broken = True  # the writer died: write() says so
                break
            self._held -= written
            if written < len(data):
                del self._pending[:count]
                self._pending.insert(0, memoryview(data)[written:])
                break
            del self._pending[:count]
        self._watch(bool(self._pending) and not self._broken)

    def _watch(self, wanted: bool) -> None:
        """Have the running event loop call _flush when the pipe has room, or no more."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if self._watching is not None and (not wanted or self._watching is not loop):
            if not self._watching.is_closed():
                self._watching.remove_writer(self._fd)
            self._watching = None
        if wanted and loop is not None and self._watching is None:
            loop.add_writer(self._fd, self._flush)
            self._watching = loop

    def close(self) -> None:
        """Write every line held into the pipe, close it and wait for the writer (a
        writer that reads nothing more for `_CLOSE_WAIT` seconds is killed)."""
        self.finish()
        self.wait()

    def finish(self) -> None:
        """Write every line held into the pipe and close it, without waiting for the
        writer to end: it writes what it has and exits meanwhile (`wait` waits for it).
        A replay finishes all its writers first, then writes its id maps and waits for
        them: their ends overlap, each other's and the id maps'."""
        if self._deadline is not None:
            return
        deadline = self._deadline = time.monotonic() + _CLOSE_WAIT
        if not self._stdin.closed:
            self._watch(False)
            self._flush()
            room = select.poll()
            room.register(self._fd, select.POLLOUT)
            while self._pending and not self._broken:
                left = deadline - time.monotonic()
                if left <= 0 or not room.poll(left * 1000):
                    self._process.kill()  # it reads nothing more
                    break
                self._flush()
            self._watch(False)
            with contextlib.suppress(BrokenPipeError):
                self._stdin.close()

    def wait(self) -> None:
        """Wait for the writer to end, after `finish`; InfrastructureError if it failed."""
        self.finish()
        assert self._deadline is not None
        deadline = self._deadline
        try:
            self._process.wait(timeout=max(deadline - time.monotonic(), 1.0))
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


# What starts a line of the head's file in the pipe (a result line starts with `{`).
_HEAD = b"H"


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
    """Read JSON lines on stdin until it closes; append each, redacted, to argv[0], or
    to the head's file argv[2] when it starts with `_HEAD`."""
    path, header = Path(argv[0]), Header.from_json(json.loads(argv[1]))
    head_path = Path(argv[2]) if len(argv) > 2 else None
    with contextlib.ExitStack() as stack:
        writer = stack.enter_context(ResultWriter(path, header))
        head: ResultWriter | None = None
        # Opened and locked (ResultPipe.wait_ready). The replay may be dead already (it
        # was killed while this process started): then nobody reads, and the lines it
        # handed over are written all the same.
        with contextlib.suppress(OSError):
            os.write(sys.stdout.fileno(), b"+")
        for line in sys.stdin.buffer:
            if not line.endswith(b"\n"):
                break  # the replay died mid-line: that exchange was still in flight
            if line.startswith(_HEAD) and head_path is not None:
                if head is None:
                    head = stack.enter_context(ResultWriter(head_path, header))
                head.write(redact_exchange(Exchange.from_json(_parse(line[len(_HEAD) :]))))
            else:
                writer.write(redact_exchange(Exchange.from_json(_parse(line))))
    return 0


if __name__ == "__main__":
    try:
        code = main(sys.argv[1:])
    finally:
        # Its files are closed and unlocked: what is left is freed by the process's end,
        # without the collector walking every module on the way out (ResultPipe.close
        # waits for this exit).
        gc.freeze()
    sys.exit(code)
