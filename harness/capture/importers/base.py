"""What every importer shares: the entry a reader yields, the format record a reader is
registered under, and the small conversions from a foreign interaction to an Exchange.

A reader is one function, `read(stream) -> Iterator[Entry]`: it streams the file and
yields one Entry per interaction it finds, in file order. An interaction it cannot make
sense of is yielded as an Entry with a `problem` (the rest of the file goes on); a file
it cannot read any further raises FileProblem (the whole file is refused).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urlsplit

from harness.model import Exchange, Headers, Request, Response


class FileProblem(Exception):
    """A file that cannot be read any further; `where` is "line N" or "entry N" or ""."""

    def __init__(self, reason: str, where: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.where = where


@dataclass(slots=True)
class Entry:
    """One interaction of a file: its exchange, or why it could not be read.

    `position` counts interactions from 0 in file order; `line` is the file's line where
    the interaction starts, when the format has lines worth naming (YAML). `recorded` is
    the format's own time for the interaction (Ruby VCR's `recorded_at`, HAR's
    `startedDateTime`, mitmproxy's request start), None when it has none. `dropped` says
    why an interaction that is no exchange at all (a TCP flow) was left out.
    """

    position: int
    line: int | None = None
    exchange: Exchange | None = None
    recorded: float | None = None
    problem: str | None = None
    dropped: str | None = None

    @property
    def where(self) -> str:
        if self.line is not None:
            return f"entry {self.position} (line {self.line})"
        return f"entry {self.position}"


@dataclass(frozen=True, slots=True)
class Shape:
    """What a file looks like, read from its first interaction only: the container
    (`json`, `yaml`, `tnetstring`) and every key path seen, dotted, with `item` for a
    list's entries (`log.entries.item.request.url`)."""

    container: str
    paths: frozenset[str] = frozenset()

    def has(self, *paths: str) -> bool:
        return all(path in self.paths for path in paths)

    def empty_list(self, key: str) -> bool:
        """A top-level `key` with no entries (an empty cassette)."""
        return key in self.paths and not any(p.startswith(f"{key}.item") for p in self.paths)


Reader = Callable[[IO[bytes]], Iterator[Entry]]


@dataclass(frozen=True, slots=True)
class Format:
    """An importer: its name on the command line, how to recognise a file of its kind
    from the file's Shape, and its reader."""

    name: str
    description: str
    sniff: Callable[[Shape], bool]
    read: Reader


# --- reading entries one by one ----------------------------------------------------------

# What converting one malformed interaction can raise: each is turned into that entry's
# problem, and the next interaction is read.
ENTRY_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError)

Converter = Callable[[Any], tuple[Exchange, float | None]]


def entries(items: Iterable[tuple[int, int | None, Any]], convert: Converter) -> Iterator[Entry]:
    """Entries from a stream of (position, line, raw interaction): each converted on its
    own, so one malformed interaction is reported and the next one read."""
    for position, line, raw in items:
        try:
            exchange, recorded = convert(raw)
        except ENTRY_ERRORS as exc:
            yield Entry(position, line, problem=_one_line(exc))
            continue
        exchange.seq = position
        yield Entry(position, line, exchange=exchange, recorded=recorded)


def _one_line(exc: BaseException) -> str:
    text = str(exc) if not isinstance(exc, KeyError) else f"missing field {exc.args[0]!r}"
    return " ".join(text.split()) or type(exc).__name__


# --- fields of untrusted data ------------------------------------------------------------


def mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: expected a mapping, got {_kind(value)}")
    return value


def text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{where}: expected a string, got {_kind(value)}")
    return value


def optional_text(value: Any, where: str) -> str | None:
    return None if value is None else text(value, where)


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def scalar_text(value: Any, where: str) -> str:
    """A header value or a form value: YAML may have read `664` as a number."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise ValueError(f"{where}: expected a string, got {_kind(value)}")


def headers_from(value: Any, where: str) -> Headers:
    """Headers in any of the shapes cassettes use: a mapping of name to a list of values
    (VCR, go-vcr) or to one value (ExVCR), a list of `{name, value}` (HAR) or of
    `[name, value]` pairs. A value of null means the header was filtered out: skipped."""
    if value is None:
        return Headers()
    out = Headers()
    if isinstance(value, Mapping):
        for name, values in value.items():
            key = scalar_text(name, f"{where} name")
            if values is None:
                continue
            for item in values if isinstance(values, list) else [values]:
                if item is not None:
                    out.append((key, scalar_text(item, f"{where}.{key}")))
        return out
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, Mapping):
                name, header_value = item.get("name"), item.get("value")
            elif isinstance(item, list) and len(item) == 2:
                name, header_value = item
            else:
                raise ValueError(f"{where}[{index}]: expected a name and a value")
            if header_value is None:
                continue
            out.append(
                (scalar_text(name, f"{where}[{index}].name"), scalar_text(header_value, where))
            )
        return out
    raise ValueError(f"{where}: expected a mapping or a list, got {_kind(value)}")


def status_code(value: Any, where: str) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 100 <= value <= 599:
        raise ValueError(f"{where}: {value!r} is not an HTTP status")
    return value


# --- building the exchange ---------------------------------------------------------------

_DEFAULT_PORTS = {"https": 443, "http": 80}
# HTTP/2 pseudo-headers (`:authority`, `:path`) that browsers put into HAR files: the URL
# already says them.
_PSEUDO_HEADER = re.compile(r"^:")


def request_from(method: str, url: str, headers: Headers, body: str | bytes) -> Request:
    """A Request from an absolute URL as cassettes store it."""
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.hostname:
        raise ValueError(f"request url: {url[:80]!r} is not an absolute URL")
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    if not method.strip():
        raise ValueError("request method: empty")
    return Request(
        method=method.strip().lstrip(":").upper(),
        scheme=parts.scheme.lower(),
        host=parts.hostname.lower(),
        port=port,
        path=parts.path or "/",
        query=parts.query,
        headers=Headers((k, v) for k, v in headers if not _PSEUDO_HEADER.match(k)),
        body=body,
    )


def exchange_from(
    request: Request,
    response: Response | None,
    *,
    duration: float = 0.0,
    error: str | None = None,
) -> Exchange:
    if response is None and error is None:
        error = "no response was recorded"
    return Exchange(
        seq=0,
        started=0.0,
        duration=duration if math.isfinite(duration) and duration >= 0 else 0.0,
        request=request,
        response=response,
        error=error,
    )
