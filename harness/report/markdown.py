"""summary.md: short enough for a pull-request comment or a CI step summary. A verdict
per candidate and its most serious groups; everything else is in index.html."""

from __future__ import annotations

import re
from typing import Any

from harness.report.content import as_object, error_groups
from harness.report.endstates import markdown_lines
from harness.report.facts import time_statement
from harness.report.phrasing import (
    before_after,
    escape_bidi,
    verdict,
    verdict_line,
    verdict_passed,
)

# Difference groups listed per candidate; the rest are counted.
MAX_ROWS = 10
MAX_ERRORS = 3
CELL_LIMIT = 80

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~])")


def md_text(value: Any, limit: int = CELL_LIMIT) -> str:
    """Content as inert Markdown text: one line, cut, Markdown and HTML characters escaped,
    so a value such as `<img onerror=…>` or `[link](…)` shows as typed (bidi controls
    too)."""
    text = escape_bidi(" ".join(str(value).split()))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", text)


def md_code(value: Any, limit: int = CELL_LIMIT) -> str:
    """Content as a Markdown code span: shown literally, `|` escaped for table cells."""
    text = escape_bidi(" ".join(str(value).split()))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    # A backtick inside needs a double-backtick span; a double one inside would end it.
    span = "`` " + text.replace("``", "` `") + " ``" if "`" in text else f"`{text}`"
    return span.replace("|", "\\|")


def _candidate_section(name: str, candidate: dict[str, Any], baseline: str) -> list[str]:
    mark = "PASS" if verdict_passed(candidate) else "FAIL"
    lines = [
        f"### {mark} {md_text(name)} compared with {md_text(baseline)}: {verdict(candidate)}",
        "",
        md_text(verdict_line(candidate), 400),
        "",
    ]
    groups = candidate.get("groups", [])
    real = [g for g in groups if g.get("outcome", "difference") == "difference"]
    if real:
        lines += [
            "| severity | cause | seen at | exchanges | journeys | example |",
            "|---|---|---|---:|---:|---|",
        ]
        for group in real[:MAX_ROWS]:
            lines.append(
                "| "
                + " | ".join(
                    [
                        md_text(group.get("severity")),
                        md_code(group.get("cause")),
                        md_text(places(group)),
                        str(int(group.get("count", 0))),
                        str(int(group.get("journeys", 0))),
                        md_code(before_after(group, 30)),
                    ]
                )
                + " |"
            )
        lines.append("")
    rest = len(real) - MAX_ROWS
    expected = sum(1 for g in groups if g.get("outcome") == "expected")
    noise = sum(1 for g in groups if g.get("outcome") == "noise")
    notes = []
    if rest > 0:
        notes.append(f"{rest} more difference group{'s' if rest != 1 else ''}")
    if expected:
        notes.append(f"{expected} expected group{'s' if expected != 1 else ''}")
    if noise:
        notes.append(f"{noise} noise group{'s' if noise != 1 else ''}")
    if notes:
        lines += [f"Also in the full report: {', '.join(notes)}.", ""]
    errors = error_groups(candidate)
    if errors:
        shown = []
        for group in errors[:MAX_ERRORS]:
            count = f" ({group['count']})" if group.get("count") is not None else ""
            shown.append(md_text(group.get("message"), 120) + count)
        lines += ["Not compared: " + "; ".join(shown), ""]
    return lines


def places(group: dict[str, Any]) -> str:
    """`POST /v1/subscriptions`, or `7 endpoints` for a cause seen at more than one."""
    endpoints = group.get("endpoints") or [group.get("endpoint")]
    return str(endpoints[0]) if len(endpoints) == 1 else f"{len(endpoints)} endpoints"


def render_markdown(summary: dict[str, Any], html_name: str = "index.html") -> str:
    """summary.md for a (redacted) summary."""
    run = as_object(summary.get("run"))
    baseline = str(summary.get("baseline", "baseline"))
    lines = [f"## Shadow test {md_text(run.get('name') or 'run')}", ""]
    for name, candidate in summary.get("candidates", {}).items():
        lines += _candidate_section(name, candidate, baseline)
    lines += markdown_lines(summary, md_text)
    times = time_statement(run)
    if times != "-":
        lines += [md_text(times, 400), ""]
    lines.append(
        f"Full report: `{html_name}` (one file, opens offline in any browser), with every "
        "group and its sample exchanges side by side."
    )
    return "\n".join(lines) + "\n"
