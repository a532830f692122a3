"""A launched target's own output, redacted line by line before it reaches the run
directory (`<target>.log`): a target may print the Authorization header the harness sent
it, or a card number from a request it logs, and nothing secret is ever written."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import BinaryIO

from harness.capture.redact import redact_text

# A line longer than this is written (redacted) in pieces: a program that prints no line
# break must not make the harness hold all it prints.
_MAX_LINE = 1 << 20


def redact_log(data: bytes) -> bytes:
    """Output redacted as text (latin-1 maps every byte to a character and back, and every
    rule is ASCII, so the other bytes stay as they were)."""
    return redact_text(data.decode("latin-1")).encode("latin-1")


class LogLines:
    """Cuts a stream of chunks into whole lines, each redacted on its own (a secret never
    spans a line break; it may span two chunks)."""

    def __init__(self) -> None:
        self._partial = b""

    def feed(self, chunk: bytes) -> bytes:
        """The redacted lines `chunk` completes; the rest waits for the next chunk."""
        data = self._partial + chunk
        end = data.rfind(b"\n") + 1
        if end == 0 and len(data) < _MAX_LINE:
            self._partial = data
            return b""
        if end == 0:
            end = len(data)
        self._partial = data[end:]
        return redact_log(data[:end])

    def flush(self) -> bytes:
        """What is left after the last line break, redacted."""
        data, self._partial = self._partial, b""
        return redact_log(data) if data else b""


class RedactedLog:
    """The write end of a pipe to give a child process as its stdout and stderr; a thread
    appends what it writes to `path`, redacted, until every writer has closed it."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: BinaryIO = open(path, "ab")  # noqa: SIM115 (closed by the thread)
        read_end, self._write_end = os.pipe()
        self._thread = threading.Thread(
            target=self._copy, args=(read_end,), name=f"log {path.name}", daemon=True
        )
        self._thread.start()

    def fileno(self) -> int:
        """The pipe's write end (for subprocess.Popen's stdout)."""
        return self._write_end

    def started(self) -> None:
        """The child has its copy of the write end: close ours, so the thread sees the end
        of the output when the child (and whatever it started) exits."""
        if self._write_end >= 0:
            os.close(self._write_end)
            self._write_end = -1

    def wait(self, timeout: float) -> None:
        """Wait until everything written so far is in the file (or `timeout` seconds)."""
        self.started()
        self._thread.join(timeout)

    def _copy(self, read_end: int) -> None:
        lines = LogLines()
        try:
            with os.fdopen(read_end, "rb", buffering=0) as pipe:
                while chunk := pipe.read(65536):
                    self._file.write(lines.feed(chunk))
                    self._file.flush()
            self._file.write(lines.flush())
        finally:
            self._file.close()
