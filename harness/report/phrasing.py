"""Plain-language wording shared by every report format: verdicts, kinds of change,
before/after examples. Pure functions of summary.json data."""

from __future__ import annotations

import json
import re
from typing import Any

from harness.model import OUTCOME_KINDS, SEVERITIES

# What each kind of difference means, for a reader who does not know this tool.
KIND_PHRASES = {
    "status": "status code changed",
    "error": "error changed",
    "removed": "field removed",
    "added": "field added",
    "type": "type changed",
    "value": "value changed",
}

OUTCOME_PHRASES = {
    "match": "matching",
    "noise": "noise",
    "expected": "expected",
    "difference": "differences",
    "error": "errors",
}

ABSENT = "(absent)"


# Bidi embeddings, overrides and isolates: text after one reads in another direction, so
# a value could make the words around it say something else.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def escape_bidi(text: str) -> str:
    """`text` with each bidi control written as its escape (`\\u202e`), as every report
    format shows it."""
    if not _BIDI_CONTROLS.search(text):
        return text
    return _BIDI_CONTROLS.sub(lambda match: f"\\u{ord(match.group(0)):04x}", text)


def kind_phrase(kind: str) -> str:
    return KIND_PHRASES.get(kind, kind)


def short_value(value: Any, limit: int = 60) -> str:
    """One value as compact JSON text, cut to `limit` characters."""
    text = json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def change_text(kind: str, baseline: Any, candidate: Any, limit: int = 60) -> str:
    """`"usd" → "eur"`, with `(absent)` on the side where the field is missing."""
    before = ABSENT if kind == "added" else short_value(baseline, limit)
    after = ABSENT if kind == "removed" else short_value(candidate, limit)
    return f"{before} → {after}"


def before_after(group: dict[str, Any], limit: int = 60) -> str:
    """A group's one-line example: its first sample's values before and after."""
    example = group.get("example") or {}
    return change_text(
        str(group.get("kind")), example.get("baseline"), example.get("candidate"), limit
    )


def percent(part: int, whole: int) -> str:
    """`85.6 %`, or `-` when there is nothing to divide by."""
    if whole <= 0:
        return "-"
    value = 100.0 * part / whole
    if part != whole and value >= 99.95:
        return "99.9 %"  # never round a run with differences up to 100 %
    return f"{value:.1f} %".replace(".0 %", " %")


def outcome_counts(candidate: dict[str, Any]) -> dict[str, int]:
    counts = candidate.get("outcomes") or {}
    return {kind: int(counts.get(kind, 0)) for kind in OUTCOME_KINDS}


def severity_counts(candidate: dict[str, Any]) -> dict[str, int]:
    counts = candidate.get("severities") or {}
    return {severity: int(counts.get(severity, 0)) for severity in SEVERITIES}


def verdict(candidate: dict[str, Any]) -> str:
    """`regressions found`, `errors only` or `no regressions`."""
    outcomes = outcome_counts(candidate)
    if outcomes["difference"]:
        return "regressions found"
    if outcomes["error"]:
        return "no regressions, but some exchanges could not be compared"
    return "no regressions"


def verdict_passed(candidate: dict[str, Any]) -> bool:
    outcomes = outcome_counts(candidate)
    return outcomes["difference"] == 0 and outcomes["error"] == 0


def severities_text(candidate: dict[str, Any]) -> str:
    """`1 critical, 3 high, 1 medium, 0 low`."""
    return ", ".join(f"{n} {severity}" for severity, n in severity_counts(candidate).items())


def verdict_line(candidate: dict[str, Any]) -> str:
    """Exchanges, % matching, regressions by severity, expected, noise, errors: one line."""
    outcomes = outcome_counts(candidate)
    exchanges = int(candidate.get("exchanges", 0))
    return (
        f"{exchanges} exchanges · {percent(outcomes['match'], exchanges)} matching · "
        f"{outcomes['difference']} with regressions ({severities_text(candidate)}) · "
        f"{outcomes['expected']} expected · {outcomes['noise']} noise · "
        f"{outcomes['error']} error{'s' if outcomes['error'] != 1 else ''}"
    )


def group_counts(group: dict[str, Any]) -> str:
    """`12 exchanges in 3 journeys`."""
    count = int(group.get("count", 0))
    journeys = int(group.get("journeys", 0))
    return (
        f"{count} exchange{'s' if count != 1 else ''} in "
        f"{journeys} journey{'s' if journeys != 1 else ''}"
    )


def duration_text(seconds: float | None) -> str:
    """`8 s`, `3 min 12 s`, `2 h 5 min`."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    if whole < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"
