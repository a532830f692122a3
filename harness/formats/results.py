"""A target's result file (`<target>.jsonl`, docs/run-format.md): appended line by line
as replayed exchanges complete, read back in the order written, or in seq order with the
last line for each seq winning.

A target file is written in completion order and a resumed journey appends its exchanges
again, so a reader that wants seq order must reorder. Holding every exchange in a dict
costs about 10 KB each (a gigabyte per 100,000); `iter_in_seq_order` holds neither: one
pass notes where each seq's last line starts (8 bytes per seq, on disk), then the lines
are read back in seq order. A file already in seq order (a recording, as a rule) is
streamed as it is.
"""

from __future__ import annotations

import fcntl
import json
import mmap
import os
import re
import struct
import tempfile
import warnings
from array import array
from collections.abc import Container, Iterator
from pathlib import Path
from typing import Any

from harness.errors import RecordingError
from harness.formats.recording import (
    MAX_SEQ,
    Header,
    RecordingReader,
    TruncatedRecordingWarning,
    read_header,
    read_line,
)
from harness.formats.untrusted import line_limit_hint, load_json, max_line_chars
from harness.model import Exchange

# --- written, and read in the order written -------------------------------------------


def iter_results(path: str | os.PathLike[str]) -> Iterator[Exchange]:
    """Every line of a target file in the order written. A last line cut off by a killed
    replay is skipped silently: the journey it belonged to is redone on resume."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncatedRecordingWarning)
        try:
            reader = RecordingReader(path, allow_truncated=True, unique_seqs=False)
        except RecordingError as exc:
            if exc.line == 1 and Path(path).exists() and Path(path).stat().st_size > 0:
                # Killed while writing the header line: no exchange was written yet.
                with open(path, "rb") as file:
                    if not file.read().endswith(b"\n"):
                        return
            raise
        with reader:
            yield from reader


def latest_exchanges(path: str | os.PathLike[str]) -> dict[int, Exchange]:
    """The replayed exchanges of one target file by seq, the last line for each seq winning
    (a journey redone on `--resume` appends its exchanges again)."""
    latest: dict[int, Exchange] = {}
    for exchange in iter_results(path):
        latest[exchange.seq] = exchange
    return latest


class ResultWriter:
    """Appends replayed exchanges to `<target>.jsonl`, one unbuffered write per line, so a
    replay killed with SIGKILL loses at most the line being written."""

    def __init__(self, path: Path, header: Header) -> None:
        self.path = path
        fresh = not path.exists() or path.stat().st_size == 0
        if not fresh:
            _end_with_newline(path)
        self._file = open(path, "ab", buffering=0)  # noqa: SIM115 - closed by close()
        # Held until closed (or the writer dies): a reader that must see every line
        # waits for it (harness.formats.shards.wait_for_writer).
        fcntl.flock(self._file.fileno(), fcntl.LOCK_EX)
        if fresh:
            self._write(header.to_json())

    def _write(self, data: dict[str, Any]) -> None:
        line = json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"
        self._file.write(line.encode("utf-8"))

    def write(self, exchange: Exchange) -> None:
        self._write(exchange.to_json())

    def close(self) -> None:
        if not self._file.closed:
            os.fsync(self._file.fileno())
            self._file.close()

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _end_with_newline(path: Path) -> None:
    """Cut a half-written last line left by a killed replay, so appending stays valid."""
    with open(path, "rb+") as file:
        data = file.read()
        if data.endswith(b"\n"):
            return
        keep = data.rfind(b"\n") + 1
        file.truncate(keep)


# --- read in seq order ----------------------------------------------------------------

# How our writers start a line (seq is the first key); anything else is parsed in full.
_SEQ_PREFIX = re.compile(rb'\{\s*"seq"\s*:\s*(\d{1,19})\s*[,}]')
# Seqs below this have their slot in the index file (256 MB of it at most, holes
# included); a rare larger one is kept in memory.
DENSE_SEQS = 1 << 25
_SLOT = struct.Struct("<q")
_CHUNK = 1 << 16  # bytes of the index read at a time


def _seq_of(line: bytes) -> int | None:
    match = _SEQ_PREFIX.match(line)
    if match is not None:
        seq: object = int(match.group(1))
    else:
        try:
            seq = load_json(line).get("seq")
        except (ValueError, AttributeError):
            return None
    if isinstance(seq, int) and not isinstance(seq, bool) and 0 <= seq <= MAX_SEQ:
        return seq
    return None


class SeqIndex:
    """Where the last complete line of each seq of a JSON Lines file starts.

    The offsets go to a temporary file, 8 bytes at the position of their seq (a seq
    beyond DENSE_SEQS, in a dict), so the index costs disk and page cache, never the
    reader's own memory: a million results are read in seq order in constant memory.

    The file is scanned in its map, a line's seq read from the prefix our writers give
    it (`{"seq":N,`); a line that starts otherwise is parsed. The slots are written only
    once a seq is seen that is not above the one before: a file in seq order (a
    recording, as a rule) is scanned once and streamed as it is, with no index at all
    unless `entries` is asked for.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.in_order = True  # every seq once, ascending: no need to seek
        self.count = 0
        self._slots = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self._top = 0  # one past the highest seq in the file
        self._beyond: dict[int, int] = {}
        self._indexed = False
        self._limit = max_line_chars()
        if not self._scan(indexing=False):
            self.in_order = False
            self._scan(indexing=True)

    def _scan(self, indexing: bool) -> bool:
        """One pass over the exchange lines; with `indexing`, their slots are written,
        else it stops (False) at the first seq not above the one before."""
        limit = self._limit
        with open(self.path, "rb") as file:
            start = len(file.readline(limit + 1))  # the header
            end = os.fstat(file.fileno()).st_size
            if start >= end:
                self._indexed = indexing
                return True
            with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                return self._scan_lines(mapped, start, end, indexing)

    def _scan_lines(self, mapped: mmap.mmap, offset: int, end: int, indexing: bool) -> bool:
        limit = self._limit
        find, prefix = mapped.find, _SEQ_PREFIX.match
        slots = _SlotWindow(self._slots.fileno()) if indexing else None
        previous, count = -1, 0
        while offset < end:
            stop = find(b"\n", offset) + 1
            if stop == 0:  # cut off by a killed writer: that exchange is redone on resume
                if end - offset > limit:
                    self._too_long(offset)
                break
            if stop - offset > limit:
                self._too_long(offset)
            found = prefix(mapped, offset, stop)
            if found is not None and len(found.group(1)) < 19:
                seq: int | None = int(found.group(1))
            else:
                line = mapped[offset:stop]
                if not line.strip():
                    offset = stop
                    continue
                seq = _seq_of(line)
                if seq is None:
                    raise RecordingError(
                        str(self.path), _line_number(self.path, offset), "no integer seq"
                    )
            assert seq is not None
            if seq <= previous:
                if slots is None:
                    return False
                self.in_order = False
            previous = seq
            count += 1
            if slots is not None:
                if seq < DENSE_SEQS:
                    # offset + 1: a hole in the file reads as 0, "no line".
                    slots.put(seq, offset + 1)
                    self._top = max(self._top, seq + 1)
                else:
                    self._beyond[seq] = offset
            offset = stop
        if slots is not None:
            slots.flush()
            self._indexed = True
        self.count = count
        return True

    def _too_long(self, offset: int) -> None:
        number = _line_number(self.path, offset)
        raise RecordingError(str(self.path), number, f"line {line_limit_hint()}")

    def offsets(self) -> Iterator[int]:
        """The offset of the line to read for each seq, in seq order."""
        for _, offset in self.entries():
            yield offset

    def entries(self) -> Iterator[tuple[int, int]]:
        """(seq, the offset of its line to read), in seq order."""
        if not self._indexed:
            self._scan(indexing=True)
        slots = self._slots.fileno()
        size = self._top * _SLOT.size
        for start in range(0, size, _CHUNK):
            chunk = array("q", os.pread(slots, min(_CHUNK, size - start), start))
            first = start // _SLOT.size
            for index, at in enumerate(chunk):
                if at:
                    yield first + index, at - 1
        for seq in sorted(self._beyond):
            yield seq, self._beyond[seq]

    def close(self) -> None:
        self._slots.close()


class _SlotWindow:
    """Writes an index file's slots through a window of WINDOW slots held in memory: a
    file in seq order, or nearly (a target file is written in the order answers come
    back), moves it once every WINDOW lines, where a write per line cost a system call
    each."""

    WINDOW = 1024

    def __init__(self, fileno: int) -> None:
        self.fileno = fileno
        self.first = -1  # the first seq of the window; -1: none yet
        self.slots = array("q")

    def put(self, seq: int, value: int) -> None:
        first = seq - seq % self.WINDOW
        if first != self.first:
            self.flush()
            size = self.WINDOW * _SLOT.size
            held = os.pread(self.fileno, size, first * _SLOT.size)
            self.first, self.slots = first, array("q", held + bytes(size - len(held)))
        self.slots[seq - first] = value

    def flush(self) -> None:
        if self.first >= 0:
            os.pwrite(self.fileno, self.slots.tobytes(), self.first * _SLOT.size)


def _line_number(path: Path, offset: int) -> int:
    """The 1-based line number at a byte offset (only ever asked on an error)."""
    with open(path, "rb") as file:
        return file.read(offset).count(b"\n") + 1


def _exchange(path: Path, offset: int, line: bytes) -> Exchange:
    try:
        return read_line(line)
    except ValueError as exc:
        raise RecordingError(str(path), _line_number(path, offset), str(exc)) from None


def iter_in_seq_order(
    path: str | os.PathLike[str], seqs: Container[int] | None = None
) -> Iterator[Exchange]:
    """The exchanges of a target file or recording in ascending seq, the last line for
    each seq winning; a truncated last line is skipped. A gzip recording must be in seq
    order already (recordings are: seq is the position). With `seqs`, only those (a
    shard's: the other lines are not parsed, but in a gzip recording)."""
    file_path = Path(path)
    if file_path.suffix == ".gz":
        for exchange in _ascending_gzip(file_path):
            if seqs is None or exchange.seq in seqs:
                yield exchange
        return
    try:
        read_header(file_path)  # a wrong header is one clear error, before any work
    except RecordingError as exc:
        if exc.line == 1 and file_path.stat().st_size > 0 and not _has_header(file_path):
            return  # killed while writing its header: no exchange was written
        raise
    index = SeqIndex(file_path)
    try:
        if index.in_order and seqs is None:
            yield from iter_results(file_path)
            return
        # Mapped, not read: a seek and a readline per line cost three times as much as
        # finding its end in the map, and the page cache holds it either way.
        with (
            open(file_path, "rb") as file,
            mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mapped,
        ):
            for seq, offset in index.entries():
                if seqs is None or seq in seqs:
                    end = mapped.find(b"\n", offset)  # indexed lines end with one
                    yield _exchange(file_path, offset, mapped[offset : end + 1])
    finally:
        index.close()


def _ascending_gzip(path: Path) -> Iterator[Exchange]:
    previous = -1
    with RecordingReader(path, allow_truncated=True) as reader:
        for number, exchange in enumerate(reader, start=2):
            if exchange.seq <= previous:
                raise RecordingError(
                    str(path),
                    number,
                    f"seq {exchange.seq} after {previous}: a compressed file must be in seq "
                    "order (decompress it to compare it in any order)",
                )
            previous = exchange.seq
            yield exchange


def _has_header(path: Path) -> bool:
    """False for a file whose first line was cut off (empty files included)."""
    with open(path, "rb") as file:
        return file.readline(max_line_chars() + 1).endswith(b"\n")
