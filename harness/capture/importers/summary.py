"""What `shadow import` prints: one line per figure of an ImportResult, and the table of
placeholders `--scan` found."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from harness.capture.importers.pipeline import ImportResult


def _count(counter: Counter[str], limit: int = 6) -> str:
    shown = ", ".join(f"{name} {n}" for name, n in counter.most_common(limit))
    more = len(counter) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def _when(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _span(result: ImportResult) -> str:
    first, last = result.first_time, result.last_time
    if first is None or last is None:
        return "no recorded times (kept in file order)"
    days = (last - first) / 86400
    length = f"{days:.0f} days" if days >= 2 else f"{last - first:.0f} s"
    return f"{_when(first)} → {_when(last)} UTC ({length})"


def summary_lines(result: ImportResult) -> list[str]:
    """Files, interactions, imported, dropped by reason, time span, placeholders undone,
    secrets redacted."""
    refused = [f for f in result.files if f.refused is not None]
    formats = _count(result.formats) or "none"
    lines = [
        f"files: {len(result.files)} ({formats})"
        + (f", {len(refused)} refused" if refused else "")
        + (f", {len(result.skipped)} skipped (hidden or empty)" if result.skipped else ""),
        f"interactions: {result.interactions}, imported: {result.imported}",
    ]
    if result.dropped:
        lines.append(f"dropped: {_count(result.dropped)}")
    if result.other_hosts:
        lines.append(f"  hosts left out: {_count(result.other_hosts)}")
    lines.append(f"time span: {_span(result)}")
    lines.append(f"placeholders undone: {_count(result.placeholders) or 'none'}")
    lines.append(f"secrets redacted: {result.secrets_redacted}")
    return lines


def scan_lines(result: ImportResult) -> list[str]:
    """Each placeholder found: how often, where, and examples (already redacted)."""
    if not result.sightings:
        return ["no placeholders found"]
    lines = []
    ordered = sorted(result.sightings.items(), key=lambda item: (-item[1].count, item[0]))
    for name, sighting in ordered:
        parts = ", ".join(f"{part} {n}" for part, n in sighting.parts.most_common())
        lines.append(f"{name}  {sighting.count} times ({parts})")
        lines.extend(f"    e.g. {example}" for example in sighting.examples)
    lines.append(
        "undo one with --placeholder 'NAME=VALUE' (repeatable, or @FILE with one per line); "
        "leave alone those that stood for a key: every target sends its own"
    )
    return lines
