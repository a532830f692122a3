"""`shadow import`: files and directories of foreign recordings in, one recording out.

For every file (directories are walked, hidden entries skipped): the format is recognised
from the content (or named), the reader streams its interactions, and each one has its
placeholders undone, its bodies decoded, its host checked (only Stripe's hosts and those
added are kept), its time found, and is redacted by the recorder's own redaction before
it is spooled to a temporary file. Then the spooled exchanges are written in recorded
order, stably by file and position, as one recording. Only the spool's offsets and times
stay in memory, so inputs of any size import.

A file that cannot be read is refused with one line (file, line or entry, reason) and
the rest of the import goes on; with `strict` the first problem ends the import and
nothing is written.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import zlib
from array import array
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from harness import __version__
from harness.capture.importers.base import ENTRY_ERRORS, Entry, FileProblem, Format
from harness.capture.importers.bodies import decode_bodies
from harness.capture.importers.placeholders import (
    Placeholders,
    Sighting,
    placeholder_inside_words,
    scan_exchange,
)
from harness.capture.importers.registry import format_named, recognise
from harness.capture.importers.streams import open_input, shape_of
from harness.capture.redact import RedactionPolicy, redact_exchange, redact_text
from harness.errors import InputError
from harness.formats.atomic import replacing
from harness.formats.recording import Header, RecordingWriter
from harness.model import Exchange
from harness.stripe import STRIPE_HOSTS
from harness.stripe.times import http_date

# What reading a file can raise besides FileProblem, for input nobody checked: each ends
# that file with a one-line reason, never a traceback.
_FILE_ERRORS = (*ENTRY_ERRORS, OSError, EOFError, zlib.error, RecursionError, UnicodeError)
MARKER = "<redacted"


class ImportRefused(InputError):
    """The first problem of an import run with `strict`."""


@dataclass(slots=True)
class ImportOptions:
    """How to import: the format (`auto` recognises each file), the hosts kept besides
    Stripe's, the placeholders to undo, whether the first problem is fatal, and the
    redaction policy (secrets always; personal data as asked)."""

    format: str = "auto"
    hosts: Iterable[str] = ()
    placeholders: Placeholders = field(default_factory=Placeholders)
    strict: bool = False
    policy: RedactionPolicy = field(default_factory=RedactionPolicy)

    @property
    def kept_hosts(self) -> frozenset[str]:
        return frozenset(STRIPE_HOSTS) | {h.strip().lower() for h in self.hosts if h.strip()}


@dataclass(slots=True)
class ImportedFile:
    """One input file: its format, how many interactions it held and how many were
    imported, or why it was refused as a whole."""

    path: str
    format: str | None = None
    interactions: int = 0
    imported: int = 0
    refused: str | None = None
    secrets_redacted: int = 0  # markers its imported exchanges gained

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"path": self.path, "format": self.format}
        data["interactions"] = self.interactions
        data["imported"] = self.imported
        if self.refused is not None:
            data["refused"] = self.refused
        return data


@dataclass(slots=True)
class ImportResult:
    """What an import did; `problems` are one line each, `FILE: where: reason`."""

    out: Path | None = None
    files: list[ImportedFile] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # hidden or empty files
    problems: list[str] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)  # reason → interactions
    other_hosts: Counter[str] = field(default_factory=Counter)
    placeholders: Counter[str] = field(default_factory=Counter)
    first_time: float | None = None
    last_time: float | None = None
    sightings: dict[str, Sighting] = field(default_factory=dict)  # --scan

    @property
    def interactions(self) -> int:
        return sum(f.interactions for f in self.files)

    @property
    def imported(self) -> int:
        return sum(f.imported for f in self.files)

    @property
    def secrets_redacted(self) -> int:
        return sum(f.secrets_redacted for f in self.files if f.refused is None)

    @property
    def formats(self) -> Counter[str]:
        return Counter(f.format for f in self.files if f.format and f.refused is None)

    @property
    def exit_code(self) -> int:
        return 2 if self.problems else 0


# --- the files ----------------------------------------------------------------------------


def walk(paths: Iterable[str | os.PathLike[str]], result: ImportResult) -> Iterator[Path]:
    """Every file named or under a directory named, in a stable order. Hidden files and
    directories (`.git`, `.DS_Store`) and empty files are skipped."""
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    found = Path(root) / name
                    if name.startswith(".") or _empty(found):
                        result.skipped.append(str(found))
                    else:
                        yield found
        elif path.exists() and _empty(path):
            result.skipped.append(str(path))
        else:
            yield path


def _empty(path: Path) -> bool:
    try:
        return path.is_file() and path.stat().st_size == 0
    except OSError:
        return False


# --- reading ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Imported:
    """One exchange ready to be written, with its file and its recorded time."""

    file: int
    exchange: Exchange
    recorded: float | None


class _Reading:
    """Reads every file in turn and yields each kept exchange, redacted."""

    def __init__(
        self, options: ImportOptions, result: ImportResult, scanning: bool = False
    ) -> None:
        self.options = options
        self.scanning = scanning  # --scan reads what an import would refuse
        self.result = result
        self.hosts = options.kept_hosts
        self.forced: Format | None = None
        if options.format != "auto":
            self.forced = format_named(options.format)
        # Files refused after some of their exchanges were yielded: the spool drops those.
        self.on_refused: list[int] = []

    def problem(self, line: str) -> None:
        # One line, whatever a file's names and values hold: unprintable characters escaped,
        # and the secrets a value quoted in it may hold redacted (it is printed, and CI
        # keeps what is printed).
        line = "".join(c if c.isprintable() else repr(c)[1:-1] for c in line)
        line = redact_text(line, self.options.policy)
        if self.options.strict:
            raise ImportRefused(line)
        self.result.problems.append(line)

    def exchanges(self, paths: Iterable[str | os.PathLike[str]]) -> Iterator[_Imported]:
        for path in walk(paths, self.result):
            index = len(self.result.files)
            imported = ImportedFile(str(path))
            self.result.files.append(imported)
            try:
                with open(path, "rb") as raw:
                    yield from self._file(index, imported, open_input(raw))
            except FileProblem as exc:
                self._refuse(index, imported, exc.reason, exc.where)
            except _FILE_ERRORS as exc:
                reason = " ".join(str(exc).split()) or type(exc).__name__
                if isinstance(exc, FileNotFoundError):
                    reason = "no such file or directory"
                self._refuse(index, imported, f"cannot be read ({reason})", "")

    def _refuse(self, index: int, imported: ImportedFile, reason: str, where: str) -> None:
        dropped = imported.imported
        reason = redact_text(reason, self.options.policy)  # the recording's header holds it
        imported.refused = reason
        imported.imported = 0
        self.on_refused.append(index)
        lost = f"; its {dropped} imported exchanges are left out" if dropped else ""
        self.problem(f"{imported.path}: {where + ': ' if where else ''}{reason}; refused{lost}")

    def _file(self, index: int, imported: ImportedFile, stream: IO[bytes]) -> Iterator[_Imported]:
        format_ = self.forced
        if format_ is None:
            recognised = recognise(shape_of(stream))
            if isinstance(recognised, str):
                raise FileProblem(recognised)
            format_ = recognised
        imported.format = format_.name
        for entry in format_.read(stream):
            imported.interactions += 1
            kept = self._entry(imported, entry)
            if kept is not None:
                imported.imported += 1
                yield _Imported(index, kept, self._time(entry, kept))

    def _entry(self, imported: ImportedFile, entry: Entry) -> Exchange | None:
        if entry.problem is not None:
            self.result.dropped["malformed"] += 1
            self.problem(f"{imported.path}: {entry.where}: {entry.problem}")
            return None
        if entry.exchange is None:
            self.result.dropped[entry.dropped or "not an exchange"] += 1
            return None
        exchange = entry.exchange
        decode_bodies(exchange)
        self.options.placeholders.undo(exchange)
        host = exchange.request.host.lower()
        if host not in self.hosts:
            self.result.other_hosts[host] += 1
            self.result.dropped["not a Stripe host"] += 1
            return None
        broken = None if self.scanning else placeholder_inside_words(exchange)
        if broken is not None:
            raise FileProblem(
                f"{broken} replaced parts of words (a filter replaced a short value "
                "everywhere): paths, ids and secrets are broken until it is undone; pass "
                f"--placeholder '{broken}=VALUE' (shadow import --scan shows where it sits)",
                entry.where,
            )
        redacted = redact_exchange(exchange, self.options.policy)
        imported.secrets_redacted += max(0, _markers(redacted) - _markers(exchange))
        redacted.extra["origin"] = {"file": imported.path, "entry": entry.position}
        return redacted

    @staticmethod
    def _time(entry: Entry, exchange: Exchange) -> float | None:
        """The format's own time, else the response's Date header."""
        moment = entry.recorded
        if moment is None and exchange.response is not None:
            moment = http_date(exchange.response.header("Date"))
        return moment if moment is not None and math.isfinite(moment) else None


def _markers(exchange: Exchange) -> int:
    """Redaction markers in an exchange (to count what redaction replaced)."""
    request = exchange.request
    parts = [request.path, request.query, request.text]
    parts.extend(value for _, value in request.headers)
    if exchange.response is not None:
        parts.append(exchange.response.text)
        parts.extend(value for _, value in exchange.response.headers)
    return sum(part.count(MARKER) for part in parts)


# --- writing ------------------------------------------------------------------------------


class _Spool:
    """Redacted exchanges on a temporary file, and per exchange only its offset, its file
    and its time: what ordering them needs."""

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        self.offsets = array("q")
        self.files = array("l")
        self.times = array("d")

    def add(self, item: _Imported) -> None:
        self.offsets.append(self.file.tell())
        self.files.append(item.file)
        self.times.append(item.recorded if item.recorded is not None else math.nan)
        line = json.dumps(item.exchange.to_json(), ensure_ascii=False, separators=(",", ":"))
        self.file.write(line.encode("utf-8") + b"\n")

    def forget(self, file: int) -> None:
        """Leave out every exchange of a refused file (the last file spooled)."""
        index = len(self.files) - 1
        while index >= 0 and self.files[index] == file:
            self.offsets[index] = -1
            index -= 1

    def settle_times(self, first: int) -> None:
        """Exchanges from `first` on are one file's: those without a time take the one of
        the exchange before them in the file (or after, at its start); a file with no time
        at all sorts after every timed exchange (+inf)."""
        times = self.times
        known = next((times[i] for i in range(first, len(times)) if not math.isnan(times[i])), None)
        if known is None:
            for index in range(first, len(times)):
                times[index] = math.inf
            return
        for index in range(first, len(times)):
            if math.isnan(times[index]):
                times[index] = known
            known = times[index]

    def order(self) -> list[int]:
        """Indexes in recorded order; ties keep file and position order (a stable sort)."""
        times = self.times
        return sorted((i for i in range(len(times)) if self.offsets[i] >= 0), key=times.__getitem__)

    def read(self, index: int) -> Exchange:
        self.file.seek(self.offsets[index])
        return Exchange.from_json(json.loads(self.file.readline()))

    def close(self) -> None:
        self.file.close()


def import_paths(
    paths: Iterable[str | os.PathLike[str]], out: str | os.PathLike[str], options: ImportOptions
) -> ImportResult:
    """Import every recording under `paths` into the recording `out`."""
    result = ImportResult(out=Path(out))
    reading = _Reading(options, result)
    spool = _Spool()
    try:
        current, first = -1, 0
        for item in reading.exchanges(paths):
            while reading.on_refused:  # before the next file's first exchange is added
                spool.forget(reading.on_refused.pop())
            if item.file != current:
                if current >= 0:
                    spool.settle_times(first)
                current, first = item.file, len(spool.times)
            spool.add(item)
        if current >= 0:
            spool.settle_times(first)
        while reading.on_refused:
            spool.forget(reading.on_refused.pop())
        result.placeholders = Counter(options.placeholders.undone)
        _write(result, options, spool)
    finally:
        spool.close()
    return result


def _write(result: ImportResult, options: ImportOptions, spool: _Spool) -> None:
    assert result.out is not None
    header = Header(
        source={
            "kind": "import",
            "importers": sorted(result.formats),
            "files": [f.to_json() for f in result.files],
            "hosts": sorted(options.kept_hosts),
            "placeholders_undone": dict(result.placeholders),
        },
        redaction=options.policy.header_json(),
        tool=f"stripe-shadow {__version__} (shadow import)",
    )
    order = spool.order()
    # In recorded order, the timed exchanges come first and the untimed (+inf) last.
    untimed_from = bisect_left(order, math.inf, key=spool.times.__getitem__)
    if untimed_from:
        result.first_time = spool.times[order[0]]
        result.last_time = spool.times[order[untimed_from - 1]]
    latest = result.last_time if result.last_time is not None else 0.0
    with replacing(result.out) as partial, RecordingWriter(partial, header) as writer:
        for seq, index in enumerate(order):
            exchange = spool.read(index)
            exchange.seq = seq
            moment = spool.times[index]
            exchange.started = moment if math.isfinite(moment) else latest
            writer.write(exchange)


def scan_paths(paths: Iterable[str | os.PathLike[str]], options: ImportOptions) -> ImportResult:
    """Read every recording under `paths` as an import would, writing nothing, and list
    the placeholders their exchanges still hold (after `options.placeholders`)."""
    result = ImportResult()
    for item in _Reading(options, result, scanning=True).exchanges(paths):
        scan_exchange(item.exchange, result.sightings)
    result.placeholders = Counter(options.placeholders.undone)
    return result
