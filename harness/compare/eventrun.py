"""The I/O edge of the event comparison: read each side's events (a target's
`<target>.events.jsonl`, or the recording's inbound deliveries for `baseline: recording`),
what places them in journeys (the recording's ids, each side's Request-Ids), and build
summary.json's `events` section (docs/summary-format.md) with harness.compare.events."""

from __future__ import annotations

import gzip
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.compare.events import (
    EventSide,
    compare_events,
    recorded_journeys,
    request_journeys,
    type_counts,
)
from harness.compare.profile import Profile
from harness.compare.rules import CompareConfig
from harness.compare.timemap import TimeMap
from harness.formats.events import (
    EVENTS_SECTION_VERSION,
    ReceivedEvent,
    events_file,
    iter_events,
)
from harness.formats.recording import iter_exchanges, read_header
from harness.formats.results import iter_results
from harness.formats.rundir import Run
from harness.formats.untrusted import JSONProblem, load_json

RECORDING = "recording"


# Text an inbound delivery's line holds: its direction, or an escape that could spell it.
_INBOUND_MARKS = (b"inbound", b"\\u")
_CHUNK = 1 << 20


def _may_hold_inbound(recording: Path) -> bool:
    """False when the recording cannot hold an inbound delivery: format version 1 (before
    webhook capture), or no line that says `inbound`, even escaped. Scanned as bytes, so
    a recording of API calls only is not parsed a second time for its events."""
    if read_header(recording).version < 2:
        return False
    opener = gzip.open if recording.suffix == ".gz" else open
    try:
        with opener(recording, "rb") as file:
            tail = b""
            while chunk := file.read(_CHUNK):
                window = tail + chunk
                if any(mark in window for mark in _INBOUND_MARKS):
                    return True
                tail = window[-16:]
    except (EOFError, OSError):
        return True  # a cut-off gzip stream: the reader says what it holds
    return False


def recorded_events(recording: Path) -> list[ReceivedEvent] | None:
    """The events a recording's inbound deliveries carried (each id once), or None when
    it holds no inbound delivery."""
    if not _may_hold_inbound(recording):
        return None
    found: list[ReceivedEvent] = []
    seen: set[str] = set()
    inbound = False
    for exchange in iter_exchanges(recording, direction="inbound"):
        inbound = True
        try:
            event = load_json(exchange.request.text)
        except JSONProblem:
            continue
        if not isinstance(event, dict) or not isinstance(event.get("id"), str):
            continue
        if event["id"] in seen or not isinstance(event.get("type"), str):
            continue
        seen.add(event["id"])
        found.append(ReceivedEvent(event, exchange.started))
    return found if inbound else None


def side_events(run: Run, name: str) -> list[ReceivedEvent] | None:
    """A side's events, or None when it has none to compare (no receiver heard it)."""
    if name == RECORDING:
        return recorded_events(run.recording_path)
    path = events_file(run.path, name)
    return list(iter_events(path)) if path.exists() else None


def _journeys_by_seq(run: Run, names: list[str]) -> dict[int, int]:
    for name in names:
        path = run.target_file(name)
        if path.exists():
            return {
                e.seq: e.extra["journey"]
                for e in iter_results(path)
                if isinstance(e.extra.get("journey"), int)
            }
    return {}


def _requests(run: Run, name: str) -> dict[str, int]:
    if name == RECORDING:
        return {}
    path = run.target_file(name)
    return request_journeys(iter_results(path)) if path.exists() else {}


def events_section(
    run: Run,
    baseline: str,
    candidates: Mapping[str, tuple[Mapping[str, str], Mapping[str, str]]],
    times: Mapping[str, tuple[TimeMap, TimeMap]],
    profile: Profile,
    config: CompareConfig,
) -> dict[str, Any] | None:
    """summary.json's `events` section, or None when the baseline heard no events.

    `candidates` holds, per candidate, the baseline's and the candidate's id → recorded
    id; `times`, the two sides' time maps as comparing their answers left them."""
    base_events = side_events(run, baseline)
    if base_events is None:
        return None
    compared = {name: side_events(run, name) for name in candidates}
    journeys = recorded_journeys(
        iter_exchanges(run.recording_path), _journeys_by_seq(run, [*candidates, baseline])
    )
    base_requests = _requests(run, baseline)
    entries: dict[str, Any] = {}
    sides = [EventSide(baseline, base_events, {})]
    for name, (base_ids, other_ids) in candidates.items():
        events = compared[name]
        if events is None:
            continue
        base_times, other_times = times[name]
        base_side = EventSide(baseline, base_events, base_ids, base_times, base_requests)
        side = EventSide(name, events, other_ids, other_times, _requests(run, name))
        sides.append(side)
        entries[name] = compare_events(base_side, side, journeys, profile, config)
    heard = run.info.extra.get("events")
    targets = heard.get("targets") if isinstance(heard, dict) else None
    return {
        "version": EVENTS_SECTION_VERSION,
        "baseline": baseline,
        "targets": targets if isinstance(targets, dict) else {},
        "types": type_counts(sides),
        "candidates": entries,
    }
