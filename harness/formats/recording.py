"""Read, write and validate recordings: JSON Lines (optionally gzip), streaming both ways.

Line 1 is a header object; every later line is one exchange (see
docs/recording-format.md and harness/schemas/recording-v2.schema.json). Readers never
hold more than one line in memory, so a recording of a million exchanges reads in
constant memory. Every problem is reported as `FILE:LINE: what is wrong`.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import time
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from harness import __version__
from harness.errors import RecordingError, ShadowWarning
from harness.formats.untrusted import (
    MAX_DEPTH,
    JSONProblem,
    line_limit_hint,
    load_json,
    max_line_chars,
)
from harness.model import Exchange, Headers, Request, Response, body_from_json
from harness.stripe.times import is_calendar_time

FORMAT_NAME = "stripe-shadow-recording"
FORMAT_VERSION = 2
# An exchange's `direction` (version 2): `outbound`, a call to Stripe's API (the default,
# and every exchange of a version 1 recording), or `inbound`, a webhook delivery Stripe
# made to the customer's handler, with the handler's answer (docs/events.md).
DIRECTIONS = ("outbound", "inbound")

# Seqs are written as 64-bit integers by the stages that index them.
MAX_SEQ = (1 << 63) - 1
# The latest `started` a recording may hold: the last second of the year 9999, the
# latest time a date can show.
MAX_STARTED = 253402300799
# An exchange that took longer than a day was not an HTTP exchange.
MAX_DURATION = 86400.0


class TruncatedRecordingWarning(ShadowWarning):
    """The last line of a recording was cut off, as when a recorder is killed mid-write."""


@dataclass(slots=True)
class Header:
    """The first line of a recording: what it is, who made it, what was redacted."""

    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    tool: str = f"stripe-shadow {__version__}"
    source: dict[str, Any] = field(default_factory=dict)
    redaction: dict[str, Any] = field(default_factory=lambda: {"applied": False})
    version: int = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "format": FORMAT_NAME,
            "version": self.version,
            "created": self.created,
            "tool": self.tool,
            "source": self.source,
            "redaction": self.redaction,
        }
        data.update(self.extra)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Header:
        known = {"format", "version", "created", "tool", "source", "redaction"}
        return cls(
            created=data["created"],
            tool=data.get("tool", ""),
            source=data.get("source", {}),
            redaction=data.get("redaction", {}),
            version=data["version"],
            extra={k: v for k, v in data.items() if k not in known},
        )


def _open_text(path: Path, mode: str) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.GzipFile(path, mode + "b"), encoding="utf-8", newline="\n")
    return open(path, mode, encoding="utf-8", newline="\n")


# --- validation ------------------------------------------------------------------------


def _require(data: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in data:
        raise ValueError(f"{where}: missing field '{key}'")
    value = data[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        expected = (
            kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        )
        raise ValueError(f"{where}.{key}: expected {expected}, got {type(value).__name__}")
    return value


def _check_headers(data: dict[str, Any], where: str) -> None:
    headers = data.get("headers", [])
    if not isinstance(headers, list):
        raise ValueError(f"{where}.headers: expected a list of [name, value] pairs")
    for index, pair in enumerate(headers):
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or not isinstance(pair[0], str)
            or not isinstance(pair[1], str)
        ):
            raise ValueError(f"{where}.headers[{index}]: expected [name, value] strings")


def _check_body(data: dict[str, Any], where: str) -> None:
    if "body" in data and not isinstance(data["body"], str):
        raise ValueError(f"{where}.body: expected a string, got {type(data['body']).__name__}")
    encoding = data.get("body_encoding", "utf-8")
    if encoding not in ("utf-8", "base64"):
        raise ValueError(f"{where}.body_encoding: expected 'utf-8' or 'base64', got {encoding!r}")


def validate_header(data: Any) -> None:
    if not isinstance(data, dict):
        raise ValueError("header: expected a JSON object on the first line")
    if data.get("format") != FORMAT_NAME:
        raise ValueError(
            f"header.format: expected '{FORMAT_NAME}', got {data.get('format')!r} "
            "(is this a stripe-shadow recording? HAR and other formats must be imported first)"
        )
    version = _require(data, "version", int, "header")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"header.version: recording format version {version} is newer than this "
            f"stripe-shadow reads ({FORMAT_VERSION}); upgrade stripe-shadow"
        )
    if version < 1:
        raise ValueError(f"header.version: {version} is not a recording format version")
    _require(data, "created", str, "header")
    _require(data, "redaction", dict, "header")


def validate_exchange(data: Any) -> None:
    if not isinstance(data, dict):
        raise ValueError(f"exchange: expected a JSON object, got {type(data).__name__}")
    seq = _require(data, "seq", int, "exchange")
    if not 0 <= seq <= MAX_SEQ:
        raise ValueError(f"exchange.seq: {_shown(seq)} is not a seq (0 to 2^63-1)")
    started = _require(data, "started", (int, float), "exchange")
    if not 0 <= started <= MAX_STARTED:
        raise ValueError(
            f"exchange.started: {_shown(started)} is not a Unix time in seconds "
            f"(0 to {MAX_STARTED}, the end of the year 9999)"
        )
    duration = _require(data, "duration", (int, float), "exchange")
    if not 0 <= duration <= MAX_DURATION:
        raise ValueError(
            f"exchange.duration: {_shown(duration)} is not a duration in seconds "
            f"(0 to {MAX_DURATION:g})"
        )
    direction = data.get("direction", "outbound")
    if direction not in DIRECTIONS:
        raise ValueError(f"exchange.direction: {_shown(direction)} is not one of outbound, inbound")
    request = _require(data, "request", dict, "exchange")
    _require(request, "method", str, "request")
    path = _require(request, "path", str, "request")
    if not path.startswith("/"):
        raise ValueError(f"request.path: must start with '/', got {path[:40]!r}")
    if "query" in request and not isinstance(request["query"], str):
        raise ValueError("request.query: expected a string")
    port = request.get("port")
    if port is not None and (type(port) is not int or not 0 <= port <= 65535):
        raise ValueError("request.port: expected a port number (0 to 65535)")
    _check_headers(request, "request")
    _check_body(request, "request")
    response = data.get("response")
    error = data.get("error")
    if response is None and error is None:
        raise ValueError("exchange: needs a 'response' or an 'error'")
    if response is not None:
        if not isinstance(response, dict):
            raise ValueError("exchange.response: expected an object")
        status = _require(response, "status", int, "response")
        if not 100 <= status <= 599:
            raise ValueError(f"response.status: {status} is not an HTTP status")
        _check_headers(response, "response")
        _check_body(response, "response")
    if error is not None and not isinstance(error, str):
        raise ValueError("exchange.error: expected a string")


def read_exchange(data: Any) -> Exchange:
    """An exchange from a parsed line, checked as validate_exchange checks it and built
    as Exchange.from_json builds it, in one pass over the fields a common line has.

    Every reader of recordings and target files comes here, a user's recording and the
    harness's own files alike: the check is the same, only cheaper. A line the quick
    check does not take (a field missing or of an unusual type, a header that is not a
    pair of strings) goes to validate_exchange, which refuses it with its one-line
    message or accepts it for Exchange.from_json to build; tests/test_fastpath.py holds
    the two ways to the same exchanges and the same messages."""
    exchange = _quick_exchange(data) if type(data) is dict else None
    if exchange is None:
        validate_exchange(data)
        exchange = Exchange.from_json(data)
    return exchange


def read_line(line: str | bytes) -> Exchange:
    """The exchange of one line of a recording or a target file: what
    `read_exchange(load_json(line))` gives, or the same ValueError, in less time.

    orjson parses the line as load_json would, but for the long-integer test: an
    integer past 64 bits becomes a float of at least 2^63 in orjson's hands, where the
    standard library keeps it an integer. Where such a float could reach the exchange
    (every field read_exchange types strictly refuses it, and its range checks refuse
    it as a time), or when orjson refuses the line, the line is read by load_json and
    read_exchange after all; tests/test_fastpath.py holds the two to the same exchanges
    and messages."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError:
        data = None
    if type(data) is dict:
        exchange = _quick_exchange(data)
        if (
            exchange is not None
            and (_shallow(data, exchange) or _brackets(line) <= MAX_DEPTH)
            and _as_parsed(exchange)
        ):
            return exchange
    return read_exchange(load_json(line))


def _brackets(line: str | bytes) -> int:
    """How many lists and objects a line may open: more than MAX_DEPTH, and load_json
    looks how deep they nest."""
    if isinstance(line, str):
        return line.count("{") + line.count("[")
    return line.count(b"{") + line.count(b"[")


# The fields a request and a response of a line may have; _quick_exchange checks the
# type of each (headers: a list of pairs of texts).
_REQUEST_FIELDS = frozenset(
    {"method", "scheme", "host", "port", "path", "query", "headers", "body", "body_encoding"}
)
_RESPONSE_FIELDS = frozenset({"status", "headers", "body", "body_encoding"})
_PLAIN = frozenset({str, int, float, bool, type(None)})


def _shallow(data: dict[str, Any], exchange: Exchange) -> bool:
    """Whether a line _quick_exchange took nests no deeper than its headers (four
    levels: the line, the request, its headers, a pair): its request and response hold
    only their own fields, and its extra fields plain values. Most lines of a recording
    do, and need not have their brackets counted (a pass over the whole line)."""
    response = data.get("response")
    return (
        data["request"].keys() <= _REQUEST_FIELDS
        and (response is None or response.keys() <= _RESPONSE_FIELDS)
        and set(map(type, exchange.extra.values())) <= _PLAIN
    )


# A float this large came from an integer past 64 bits, or was written as large.
_BIG = float(1 << 63)


def _as_parsed(exchange: Exchange) -> bool:
    """Whether the fields _quick_exchange passes through unchecked (the request's
    scheme and host, the extra fields) hold no float orjson could have made of a long
    integer: then the standard library would have read the same values."""
    request = exchange.request
    if type(request.scheme) is not str or type(request.host) is not str:
        return False
    stack: list[Any] = list(exchange.extra.values())
    while stack:
        value = stack.pop()
        kind = type(value)
        if kind is float:
            if not -_BIG < value < _BIG:
                return False
        elif kind is list:
            stack.extend(value)
        elif kind is dict:
            stack.extend(value.values())
    return True


_EXCHANGE_FIELDS = frozenset({"seq", "started", "duration", "request", "response", "error"})


def _quick_exchange(data: dict[str, Any]) -> Exchange | None:
    """The exchange of a line whose every field validate_exchange checks is of the
    type and in the range it wants (exact types: what a JSON parser makes), else None."""
    seq, started, duration = data.get("seq"), data.get("started"), data.get("duration")
    request, response, error = data.get("request"), data.get("response"), data.get("error")
    if not (
        type(seq) is int
        and 0 <= seq <= MAX_SEQ
        and (type(started) is float or type(started) is int)
        and 0 <= started <= MAX_STARTED
        and (type(duration) is float or type(duration) is int)
        and 0 <= duration <= MAX_DURATION
        and data.get("direction", "outbound") in DIRECTIONS
        and (error is None or type(error) is str)
        and (response is not None or error is not None)
        and type(request) is dict
        and type(request.get("method")) is str
        and type(path := request.get("path")) is str
        and path.startswith("/")
        and type(request.get("query", "")) is str
        and ((port := request.get("port")) is None or (type(port) is int and 0 <= port <= 65535))
        and _quick_body(request)
        and (headers := _quick_headers(request)) is not None
    ):
        return None
    answer_headers = None
    if response is not None and not (
        type(response) is dict
        and type(status := response.get("status")) is int
        and 100 <= status <= 599
        and _quick_body(response)
        and (answer_headers := _quick_headers(response)) is not None
    ):
        return None
    sent = Request(
        request["method"],
        path,
        request.get("query", ""),
        headers,
        body_from_json(request),
        request.get("scheme", "https"),
        request.get("host", "api.stripe.com"),
        port,
    )
    answer = None
    if response is not None:
        assert answer_headers is not None
        answer = Response(response["status"], answer_headers, body_from_json(response))
    extra = data.copy()  # and the fields it has taken out: a copy costs less than a filter
    for key in _EXCHANGE_FIELDS:
        extra.pop(key, None)
    return Exchange(seq, started, duration, sent, answer, error, extra)


def _quick_body(data: dict[str, Any]) -> bool:
    """The body checks of _check_body, for a body that passes them."""
    return type(data.get("body", "")) is str and data.get("body_encoding", "utf-8") in (
        "utf-8",
        "base64",
    )


def _quick_headers(data: dict[str, Any]) -> Headers | None:
    """The headers of a request or response when they are a list of [name, value]
    string pairs, else None: _check_headers says what is wrong."""
    pairs = data.get("headers", [])
    if type(pairs) is not list:
        return None
    headers = Headers()
    add = headers.append
    for pair in pairs:
        if type(pair) is not list or len(pair) != 2:
            return None
        name, value = pair
        if type(name) is not str or type(value) is not str:
            return None
        add((name, value))
    return headers


def _shown(number: float) -> str:
    """A number as a message shows it: a long one cut short."""
    text = repr(number)
    return text if len(text) <= 24 else f"{text[:12]}…({len(text)} digits)"


# --- reading ---------------------------------------------------------------------------


class SeqSet:
    """The seqs seen so far, a bit each below DENSE (a million exchanges: 125 KB), the
    rare larger one in a set."""

    DENSE = 1 << 27

    def __init__(self) -> None:
        self._bits = bytearray()
        self._beyond: set[int] = set()

    def add(self, seq: int) -> bool:
        """Note `seq`; False when it was there already."""
        if seq >= self.DENSE:
            if seq in self._beyond:
                return False
            self._beyond.add(seq)
            return True
        byte, bit = seq >> 3, 1 << (seq & 7)
        if byte >= len(self._bits):
            self._bits.extend(bytes(max(byte + 1 - len(self._bits), len(self._bits))))
        if self._bits[byte] & bit:
            return False
        self._bits[byte] |= bit
        return True


class RecordingReader:
    """Streams a recording: `header` is read on open, exchanges on iteration.

    Lines longer than `max_line_chars()` are refused (a gzip bomb never takes more than
    that), and so is a seq given twice unless `unique_seqs` is False (a target file, to
    which a resumed run appends a journey's results again).

    >>> with RecordingReader("recordings/demo.jsonl") as recording:
    ...     for exchange in recording: ...
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        allow_truncated: bool = False,
        unique_seqs: bool = True,
        direction: str | None = "outbound",
    ) -> None:
        self.path = Path(path)
        # Which exchanges iterating yields: the API calls (every stage that replays,
        # plans or compares answers), the webhook deliveries, or (None) all of them.
        self.direction = direction
        self.allow_truncated = allow_truncated
        self.truncated = False
        self._max_line = max_line_chars()
        self._seqs = SeqSet() if unique_seqs else None
        try:
            self._file = _open_text(self.path, "r")
        except FileNotFoundError:
            raise RecordingError(str(self.path), None, "no such file") from None
        except IsADirectoryError:
            raise RecordingError(str(self.path), None, "is a directory, not a recording") from None
        except OSError as exc:
            problem = f"cannot be opened ({exc.strerror})"
            raise RecordingError(str(self.path), None, problem) from None
        self._lines = self._numbered_lines()
        try:
            self.header = self._read_header()
        except BaseException:
            self._file.close()
            raise

    def _numbered_lines(self) -> Iterator[tuple[int, str]]:
        number = 0
        readline = self._file.readline
        limit = self._max_line
        try:
            while True:
                line = readline(limit + 1)
                if not line:
                    return
                number += 1
                if len(line) > limit:
                    raise RecordingError(str(self.path), number, f"line {line_limit_hint()}")
                yield number, line
        except EOFError:
            # A gzip stream without its trailer: the writer was killed. Every line it
            # flushed before that has been read.
            self._truncated_at(number + 1)
        except (OSError, UnicodeDecodeError, zlib.error) as exc:
            raise RecordingError(str(self.path), number + 1, f"cannot be read: {exc}") from None

    def _truncated_at(self, number: int) -> None:
        if not self.allow_truncated:
            raise RecordingError(
                str(self.path),
                number,
                "truncated last line (was the recorder killed?); pass "
                "--allow-truncated to read the complete exchanges before it",
            )
        self.truncated = True
        warnings.warn(
            f"{self.path}:{number}: truncated last line skipped (the recorder was "
            "probably stopped mid-write)",
            TruncatedRecordingWarning,
            stacklevel=3,
        )

    def _read_header(self) -> Header:
        try:
            number, line = next(self._lines)
        except StopIteration:
            raise RecordingError(str(self.path), 1, "empty file: expected a header line") from None
        data = self._parse(number, line)
        try:
            validate_header(data)
        except ValueError as exc:
            raise RecordingError(str(self.path), number, str(exc)) from None
        return Header.from_json(data)

    def _parse(self, number: int, line: str) -> Any:
        try:
            return load_json(line)
        except JSONProblem as exc:
            raise RecordingError(str(self.path), number, exc.problem) from None

    def __iter__(self) -> Iterator[Exchange]:
        path = str(self.path)
        seqs = self._seqs
        for number, line in self._lines:
            if line[0] != "{" and not line.strip():
                continue
            if not line.endswith("\n"):
                # The last line of the file, cut off before its newline: the expected result
                # of a recorder killed mid-write. Complete lines always end with "\n".
                try:
                    data = load_json(line)
                    validate_exchange(data)
                except ValueError:
                    self._truncated_at(number)
                    return
            try:
                exchange = read_line(line)
            except ValueError as exc:  # JSONProblem's message is its problem
                raise RecordingError(path, number, str(exc)) from None
            if seqs is not None and not seqs.add(exchange.seq):
                raise RecordingError(
                    path, number, f"seq {exchange.seq} appears twice; every exchange needs its own"
                )
            if self.direction is None or self.direction == exchange.extra.get(
                "direction", "outbound"
            ):
                yield exchange

    def positions(self, wanted: bytearray | bytes) -> Iterator[tuple[int, Exchange]]:
        """(position, exchange) for the positions `wanted` marks (1), in order; the other
        lines are counted, not parsed (a shard of a plan made from this recording, which
        checked them all). Positions count what iterating yields: the exchanges of the
        reader's direction."""
        path = str(self.path)
        position = -1
        for number, line in self._lines:
            if not line.strip() or (self.direction is not None and not self._directed(line)):
                continue
            position += 1
            if position >= len(wanted) or not wanted[position]:
                continue
            if not line.endswith("\n"):
                try:  # a last line cut off, as __iter__ tells it
                    validate_exchange(load_json(line))
                except ValueError:
                    self._truncated_at(number)
                    return
            try:
                data = self._parse(number, line)
                yield position, read_exchange(data)
            except ValueError as exc:
                raise RecordingError(path, number, str(exc)) from None

    def _directed(self, line: str) -> bool:
        """Whether a line holds an exchange of the reader's direction. A line is read for
        it only when it holds the text `"inbound"` with its quotes unescaped, that is as
        a JSON string of its own (a body's quotes are escaped): webhook deliveries are
        few, and most recordings have none."""
        if '"inbound"' not in line:
            return self.direction == "outbound"
        try:
            data = load_json(line)
        except ValueError:
            return True  # not read here: parsing it says what is wrong, if it is wanted
        direction = data.get("direction", "outbound") if isinstance(data, dict) else None
        return direction == self.direction

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> RecordingReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def read_header(path: str | os.PathLike[str]) -> Header:
    with RecordingReader(path) as reader:
        return reader.header


def recording_start(path: str | os.PathLike[str]) -> float | None:
    """When the recorded traffic began: the start of its first exchange that has a real
    time, among the first thousand (an imported cassette may have none; then None)."""
    with RecordingReader(path, allow_truncated=True) as reader:
        for _, exchange in zip(range(1000), reader, strict=False):
            if is_calendar_time(exchange.started):
                return exchange.started
    return None


def iter_exchanges(
    path: str | os.PathLike[str],
    *,
    allow_truncated: bool = False,
    direction: str | None = "outbound",
) -> Iterator[Exchange]:
    """Every exchange of a recording (of `direction`: its API calls unless asked
    otherwise), in order, one at a time."""
    with RecordingReader(path, allow_truncated=allow_truncated, direction=direction) as reader:
        yield from reader


# --- writing ---------------------------------------------------------------------------


class RecordingWriter:
    """Appends exchanges to a recording, flushing each so a crash loses at most one line.

    With a `.gz` name the stream is sync-flushed after each exchange, so what was written
    before a crash stays readable (the reader then reports a truncated end).
    """

    def __init__(self, path: str | os.PathLike[str], header: Header) -> None:
        self.path = Path(path)
        self.count = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._raw = open(self.path, "wb")  # noqa: SIM115 (closed in close())
        self._file: IO[bytes] | gzip.GzipFile = self._raw
        if self.path.suffix == ".gz":
            self._file = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=6, mtime=0)
        self._write_line(header.to_json())

    def _write_line(self, data: dict[str, Any]) -> None:
        line = json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"
        self._file.write(line.encode("utf-8"))
        if isinstance(self._file, gzip.GzipFile):
            self._file.flush(zlib.Z_SYNC_FLUSH)
        self._raw.flush()

    def write(self, exchange: Exchange) -> None:
        self._write_line(exchange.to_json())
        self.count += 1

    def close(self) -> None:
        if not self._raw.closed:
            if self._file is not self._raw:
                self._file.close()  # writes the gzip trailer
            self._raw.flush()
            os.fsync(self._raw.fileno())
            self._raw.close()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def write_recording(
    path: str | os.PathLike[str], header: Header, exchanges: Iterator[Exchange] | list[Exchange]
) -> int:
    """Write a whole recording; returns the number of exchanges written."""
    with RecordingWriter(path, header) as writer:
        for exchange in exchanges:
            writer.write(exchange)
        return writer.count


def now() -> float:
    """Wall-clock time as stored in `started` (Unix seconds)."""
    return time.time()
