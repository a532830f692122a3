"""summary.json (docs/summary-format.md): what compare found per candidate, read by the
report, the gate, accept and the pytest plugin, and written once by compare. Every reader
goes through `read_summary_file`, which checks the shape they rely on, one field at a
time, and reads a summary of an older version in the current shape."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from harness.errors import InputError
from harness.formats.atomic import write_json_atomically
from harness.formats.events import check_events_section
from harness.formats.recording import MAX_SEQ
from harness.formats.untrusted import read_json_file
from harness.model import OUTCOME_KINDS, SEVERITIES

SUMMARY_FILE = "summary.json"
# 2: a group is a cause (object type, field, kind) with the locations it was seen at.
SUMMARY_VERSION = 2
# Versions read: a version 1 summary's groups (one per endpoint, path and kind) are read
# as causes of no object with one location (`as_current`).
READABLE_VERSIONS = (1, 2)


def write_summary(run_dir: Path, document: dict[str, Any]) -> Path:
    """RUN_DIR/summary.json, replaced at once."""
    path = run_dir / SUMMARY_FILE
    write_json_atomically(path, document)
    return path


def load_summary(run_dir: Path) -> dict[str, Any]:
    """RUN_DIR/summary.json, checked for the fields the report reads."""
    path = run_dir / SUMMARY_FILE
    try:
        if not run_dir.is_dir():
            raise InputError(f"{run_dir}: no such run directory")
        if not path.exists():
            raise InputError(f"{path}: missing; run `shadow compare {run_dir}` first to write it")
    except OSError as exc:
        raise InputError(f"{run_dir}: cannot be read ({exc.strerror})") from None
    return read_summary_file(path)


def read_summary_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A summary.json (a run's or a report's copy), checked for the fields the report and
    the gate read."""
    file = Path(path)
    data = read_json_file(
        file,
        missing="no such summary file; `shadow compare RUN_DIR` writes one",
        named="summary.json",
        again="re-run `shadow compare` to write it again",
    )
    check_summary(data, str(file))
    return as_current(data)


# No count in a summary comes near this: 2^53, the largest integer every JSON reader
# (a browser's included) holds exactly.
MAX_COUNT = 1 << 53

_CANDIDATE_FIELDS = (
    ("outcomes", dict),
    ("severities", dict),
    ("groups", list),
    ("endpoints", dict),
)
_GROUP_TEXTS = ("id", "endpoint", "path", "kind", "severity")
_GROUP_COUNTS = ("count", "occurrences", "journeys")


def _count(value: Any, where: str, field: str) -> int:
    """A count: an integer from 0 to MAX_COUNT, not text, null, NaN or a fraction."""
    if type(value) is not int or not 0 <= value <= MAX_COUNT:
        shown = repr(value) if len(repr(value)) <= 24 else repr(value)[:20] + "…"
        raise InputError(
            f"{where}: {field}: {shown} is not a count (an integer from 0 to 2^53); "
            "re-run `shadow compare` to write the summary again"
        )
    return value


def _counts(values: Any, where: str, field: str, names: tuple[str, ...]) -> int:
    """An object of name → count whose names are among `names`; returns the total."""
    if not isinstance(values, dict):
        raise InputError(f"{where}: {field}: missing or not a JSON object")
    for name in values:
        if name not in names:
            raise InputError(f"{where}: {field}.{name}: not one of {', '.join(names)}")
    return sum(_count(count, where, f"{field}.{name}") for name, count in values.items())


def check_summary(data: Any, where: str) -> None:
    """The shape the report and the gate rely on (docs/summary-format.md), one field at
    a time: types, counts that are counts, totals that add up."""
    if not isinstance(data, dict):
        raise InputError(f"{where}: expected a JSON object")
    if type(data.get("version")) is not int or data.get("version") not in READABLE_VERSIONS:
        raise InputError(
            f"{where}: version: {str(data.get('version'))[:20]} is not a summary version "
            f"this stripe-shadow reads ({', '.join(map(str, READABLE_VERSIONS))}); "
            "re-run `shadow compare`"
        )
    for key, kinds in (("baseline", (str,)), ("secondary", (str, type(None)))):
        if key in data and not isinstance(data[key], kinds):
            raise InputError(f"{where}: {key}: expected a target name")
    for key in ("run", "config"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise InputError(f"{where}: {key}: expected a JSON object")
    candidates = data.get("candidates")
    if not isinstance(candidates, dict):
        raise InputError(f"{where}: candidates: expected an object of candidate name → results")
    for name, candidate in candidates.items():
        field = f"candidates.{name}"
        if not isinstance(candidate, dict):
            raise InputError(f"{where}: {field}: expected an object")
        for key, kind in _CANDIDATE_FIELDS:
            if not isinstance(candidate.get(key), kind):
                raise InputError(f"{where}: {field}.{key}: missing or not a JSON {kind.__name__}")
        exchanges = _count(candidate.get("exchanges", 0), where, f"{field}.exchanges")
        total = _counts(candidate["outcomes"], where, f"{field}.outcomes", OUTCOME_KINDS)
        if total != exchanges:
            raise InputError(
                f"{where}: {field}.outcomes: add up to {total}, but exchanges says {exchanges}"
            )
        _counts(candidate["severities"], where, f"{field}.severities", SEVERITIES)
        for endpoint, counts in candidate["endpoints"].items():
            _counts(counts, where, f"{field}.endpoints[{endpoint!r}]", OUTCOME_KINDS)
        for index, group in enumerate(candidate["groups"]):
            _check_group(group, where, f"{field}.groups[{index}]")
        _check_errors(candidate, where, field)
    if "events" in data:
        check_events_section(data["events"], where, SEVERITIES)


def _check_group(group: Any, where: str, field: str) -> None:
    if not isinstance(group, dict):
        raise InputError(f"{where}: {field}: expected an object")
    for key in (*_GROUP_TEXTS, "count", "samples"):
        if key not in group:
            raise InputError(f"{where}: {field}.{key}: missing")
    for key in _GROUP_TEXTS:
        if not isinstance(group[key], str):
            raise InputError(f"{where}: {field}.{key}: expected a string")
    if group["severity"] not in SEVERITIES:
        raise InputError(f"{where}: {field}.severity: not one of {', '.join(SEVERITIES)}")
    for key in _GROUP_COUNTS:
        if key in group:
            _count(group[key], where, f"{field}.{key}")
    if group.get("outcome") is not None and group["outcome"] not in OUTCOME_KINDS:
        raise InputError(f"{where}: {field}.outcome: not one of {', '.join(OUTCOME_KINDS)}")
    _check_samples(group["samples"], where, field)
    for key in ("cause", "object", "field"):
        if group.get(key) is not None and not isinstance(group[key], str):
            raise InputError(f"{where}: {field}.{key}: expected a string")
    locations = group.get("locations", [])
    if not isinstance(locations, list):
        raise InputError(f"{where}: {field}.locations: expected a list")
    for index, location in enumerate(locations):
        _check_location(location, where, f"{field}.locations[{index}]")


def _check_location(location: Any, where: str, field: str) -> None:
    if not isinstance(location, dict):
        raise InputError(f"{where}: {field}: expected an object")
    for key in ("endpoint", "path"):
        if not isinstance(location.get(key), str):
            raise InputError(f"{where}: {field}.{key}: missing or not a string")
    ids = location.get("ids", [])
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise InputError(f"{where}: {field}.ids: expected a list of group ids")
    for key in ("count", "journeys"):
        if key in location:
            _count(location[key], where, f"{field}.{key}")
    _check_samples(location.get("samples", []), where, field)


def _check_samples(samples: Any, where: str, field: str) -> None:
    if not isinstance(samples, list) or not all(
        type(s) is int and 0 <= s <= MAX_SEQ for s in samples
    ):
        raise InputError(f"{where}: {field}.samples: expected a list of seqs")


def _check_errors(candidate: dict[str, Any], where: str, field: str) -> None:
    errors = candidate.get("errors", [])
    if not isinstance(errors, list) or not all(isinstance(e, str) for e in errors):
        raise InputError(f"{where}: {field}.errors: expected a list of messages")
    groups = candidate.get("error_groups", [])
    if not isinstance(groups, list):
        raise InputError(f"{where}: {field}.error_groups: expected a list")
    for index, group in enumerate(groups):
        here = f"{field}.error_groups[{index}]"
        if not isinstance(group, dict) or not isinstance(group.get("message"), str):
            raise InputError(f"{where}: {here}: expected {{message, count, samples}}")
        _count(group.get("count"), where, f"{here}.count")
        _check_samples(group.get("samples", []), where, here)


def as_current(data: dict[str, Any]) -> dict[str, Any]:
    """A checked summary in the current version's shape: a version 1 group (endpoint,
    path, kind) becomes a cause of no object seen at that one place, keeping its id, so
    the gate and accept find it as they did. (A group of either version that lacks a
    field of causes gets it the same way, so no reader meets a missing one.)"""
    for candidate in data["candidates"].values():
        for group in candidate["groups"]:
            group.setdefault("cause", f"{group['endpoint']} {group['path']} {group['kind']}")
            group.setdefault("object", None)
            group.setdefault("field", group["path"])
            group.setdefault("endpoints", [group["endpoint"]])
            group.setdefault(
                "locations",
                [
                    {
                        "endpoint": group["endpoint"],
                        "path": group["path"],
                        "ids": [group["id"]],
                        "severity": group["severity"],
                        "count": group["count"],
                        "journeys": group.get("journeys", 0),
                        "samples": group["samples"],
                        "example": group.get("example"),
                    }
                ],
            )
    return data


def seen_in(group: dict[str, Any]) -> str:
    """`18 exchanges, 7 endpoints`, `1 exchange, POST /v1/charges` for a cause seen at one
    endpoint, `1 exchange` for a cause of no object (its words name the endpoint)."""
    count = int(group.get("count", 0))
    exchanges = f"{count} exchange{'s' if count != 1 else ''}"
    if not group.get("object"):
        return exchanges
    endpoints = group.get("endpoints") or [group.get("endpoint", "")]
    where = endpoints[0] if len(endpoints) == 1 else f"{len(endpoints)} endpoints"
    return f"{exchanges}, {where}"
