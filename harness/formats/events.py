"""`<target>.events.jsonl` (docs/run-format.md, docs/events.md): the events one target
sent during a replay, one line each as it arrived, written by the replay's receiver (or
its poller) and read by compare.

The first line is a header, `{"format": "stripe-shadow-events", "version": 1, "target":
NAME, "source": "webhook" | "poll"}`; each later line is `{"received": UNIX, "late": BOOL,
"event": {...}}`, the event as the target sent it with its secrets redacted (and, when the
target forwards its events, `"forwarded": {"status": N}`, the handler's answer). Only events
whose signature was good are written; a refused delivery is counted in run.json, never
stored. A reader keeps an event id's first line: Stripe delivers at least once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from harness.errors import InputError
from harness.formats.untrusted import JSONProblem, load_json

EVENTS_FORMAT = "stripe-shadow-events"
EVENTS_VERSION = 1
EVENTS_SUFFIX = ".events.jsonl"


def events_file(run_dir: Path, target: str) -> Path:
    """Where a target's events go in a run directory."""
    return run_dir / f"{target}{EVENTS_SUFFIX}"


@dataclass(slots=True)
class ReceivedEvent:
    """One event as a target sent it: the event object, when it arrived, and whether it
    arrived after the target's last answer (while the replay waited for events)."""

    event: dict[str, Any]
    received: float
    late: bool = False
    # Forwarded to the customer's handler: {"status": N} or {"status": null, "error": why}.
    forwarded: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return str(self.event.get("id") or "")

    @property
    def type(self) -> str:
        return str(self.event.get("type") or "")

    @property
    def created(self) -> float:
        created = self.event.get("created")
        return float(created) if isinstance(created, int | float) else self.received

    def to_json(self) -> dict[str, Any]:
        data = {"received": self.received, "late": self.late, "event": self.event}
        if self.forwarded is not None:
            data["forwarded"] = self.forwarded
        return data


class EventWriter:
    """Appends a target's events, one line each, flushed as they come (a killed replay
    keeps what arrived)."""

    def __init__(self, path: Path, target: str, source: str) -> None:
        self.path = path
        self._file: IO[str] = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed by close()
        header = {
            "format": EVENTS_FORMAT,
            "version": EVENTS_VERSION,
            "target": target,
            "source": source,
        }
        self._write(header)

    def _write(self, data: dict[str, Any]) -> None:
        self._file.write(json.dumps(data, separators=(",", ":"), sort_keys=True) + "\n")
        self._file.flush()

    def write(self, received: ReceivedEvent) -> None:
        self._write(received.to_json())

    def close(self) -> None:
        self._file.close()


def _problem(path: Path, line: int, what: str) -> InputError:
    return InputError(f"{path}:{line}: {what}; replay the run again to receive its events")


def iter_events(path: str | os.PathLike[str]) -> Iterator[ReceivedEvent]:
    """Every event of an events file, each id once (its first arrival), in file order;
    InputError names the file, the line and what is wrong."""
    file = Path(path)
    seen: set[str] = set()
    try:
        handle = open(file, encoding="utf-8", errors="replace")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise InputError(f"{file}: cannot be read ({exc.strerror})") from None
    with handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                data = load_json(text)
            except JSONProblem as exc:
                raise _problem(file, number, exc.problem) from None
            if number == 1:
                if not isinstance(data, dict) or data.get("format") != EVENTS_FORMAT:
                    raise _problem(file, 1, f"not an events file (no {EVENTS_FORMAT} header)")
                if data.get("version") != EVENTS_VERSION:
                    raise _problem(
                        file, 1, f"version {data.get('version')!r} is not {EVENTS_VERSION}"
                    )
                continue
            received = _received(data)
            if received is None:
                raise _problem(
                    file, number, "expected {received, late, event} with an event id and type"
                )
            if received.id in seen:
                continue
            seen.add(received.id)
            yield received


def _received(data: Any) -> ReceivedEvent | None:
    if not isinstance(data, dict):
        return None
    event, received = data.get("event"), data.get("received")
    if not isinstance(event, dict) or not isinstance(received, int | float):
        return None
    if not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        return None
    forwarded = data.get("forwarded")
    return ReceivedEvent(
        event,
        float(received),
        data.get("late") is True,
        forwarded if isinstance(forwarded, dict) else None,
    )


# --- summary.json's `events` section --------------------------------------------------------

EVENTS_SECTION_VERSION = 1
EVENT_OUTCOMES = ("match", "noise", "expected", "differs", "missing", "unexpected")
_CAUSE_TEXTS = ("id", "type", "path", "kind", "severity", "outcome")


def check_events_section(section: Any, where: str, severities: tuple[str, ...]) -> None:
    """The shape of summary.json's `events` (docs/summary-format.md) the report and the
    gate read, one field at a time; InputError names the field."""
    again = "; re-run `shadow compare` to write the summary again"
    if not isinstance(section, dict):
        raise InputError(f"{where}: events: expected a JSON object{again}")
    if section.get("version") != EVENTS_SECTION_VERSION:
        raise InputError(
            f"{where}: events.version: {str(section.get('version'))[:20]} is not an events "
            f"section version this stripe-shadow reads ({EVENTS_SECTION_VERSION}){again}"
        )
    for key in ("targets", "types", "candidates"):
        if not isinstance(section.get(key), dict):
            raise InputError(f"{where}: events.{key}: missing or not a JSON object{again}")
    for name, entry in section["candidates"].items():
        field = f"events.candidates.{name}"
        if not isinstance(entry, dict):
            raise InputError(f"{where}: {field}: expected a JSON object{again}")
        outcomes = entry.get("outcomes")
        if not isinstance(outcomes, dict) or any(k not in EVENT_OUTCOMES for k in outcomes):
            raise InputError(
                f"{where}: {field}.outcomes: expected counts of {', '.join(EVENT_OUTCOMES)}{again}"
            )
        if not all(type(v) is int and v >= 0 for v in outcomes.values()):
            raise InputError(f"{where}: {field}.outcomes: a count is not a count{again}")
        causes = entry.get("causes")
        if not isinstance(causes, list):
            raise InputError(f"{where}: {field}.causes: missing or not a list{again}")
        for index, cause in enumerate(causes):
            here = f"{field}.causes[{index}]"
            if not isinstance(cause, dict):
                raise InputError(f"{where}: {here}: expected a JSON object{again}")
            for key in _CAUSE_TEXTS:
                if not isinstance(cause.get(key), str):
                    raise InputError(f"{where}: {here}.{key}: missing or not a string{again}")
            if cause["severity"] not in severities:
                raise InputError(
                    f"{where}: {here}.severity: not one of {', '.join(severities)}{again}"
                )
            if type(cause.get("count")) is not int or cause["count"] < 0:
                raise InputError(f"{where}: {here}.count: not a count{again}")
