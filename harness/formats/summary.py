"""summary.json (docs/summary-format.md): what compare found per candidate, read by the
report, the gate, accept and the pytest plugin, and written once by compare. Every reader
goes through `read_summary_file`, which checks the shape they rely on, one field at a
time."""

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
SUMMARY_VERSION = 1


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
    return data  # type: ignore[no-any-return]


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
    if type(data.get("version")) is not int or data.get("version") != SUMMARY_VERSION:
        raise InputError(
            f"{where}: version: {str(data.get('version'))[:20]} is not a summary version "
            f"this stripe-shadow reads ({SUMMARY_VERSION}); re-run `shadow compare`"
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


