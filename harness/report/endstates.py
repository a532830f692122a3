"""The `reconciliation` section of summary.json (end states across targets, written by
harness.reconcile.states) as the report shows it: a section of the page, one JUnit test
case per candidate, a few Markdown lines. Absent from a run that did not reconcile."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from harness.report.phrasing import short_value

# Causes listed per candidate in the Markdown summary (the page lists every one).
MARKDOWN_CAUSES = 10


def end_states(summary: dict[str, Any]) -> dict[str, Any] | None:
    section = summary.get("reconciliation")
    return section if isinstance(section, dict) and section.get("candidates") else None


def drifted(found: dict[str, Any]) -> int:
    """Objects whose end state differs from the baseline's, or that are missing."""
    outcomes = found.get("outcomes") or {}
    return int(outcomes.get("state differs", 0)) + int(outcomes.get("missing object", 0))


def state_line(name: str, found: dict[str, Any]) -> str:
    """`twin: 40 objects, 40 state match, 0 state differs, 0 missing object`."""
    outcomes = found.get("outcomes") or {}
    counts = ", ".join(f"{n} {o}" for o, n in outcomes.items())
    return f"{name}: {found.get('objects', 0)} objects, {counts}"


def _value(value: Any) -> str:
    return short_value(value, 120) if not isinstance(value, str) else json.dumps(value)


def page_view(summary: dict[str, Any]) -> dict[str, Any] | None:
    """What the page's end-state section shows, as plain data (the template escapes it)."""
    section = end_states(summary)
    if section is None:
        return None
    return {
        "baseline": section.get("baseline"),
        "candidates": [
            {
                "name": name,
                "line": state_line(name, found),
                "drifted": drifted(found),
                "causes": [
                    {
                        **cause,
                        "samples": [
                            {
                                "recorded_id": s.get("recorded_id"),
                                "baseline": _value(s.get("baseline")),
                                "candidate": _value(s.get("candidate")),
                            }
                            for s in cause.get("samples", [])
                        ],
                    }
                    for cause in found.get("causes", [])
                ],
                "missing": found.get("missing") or {"count": 0, "samples": []},
            }
            for name, found in section["candidates"].items()
        ],
    }


def junit_case(suite: ET.Element, name: str, summary: dict[str, Any], text: Any) -> str | None:
    """One test case, `end states: NAME`, failing when an object's end state differs or
    is missing; None when the run did not reconcile this candidate. `text` makes a value
    safe for XML (harness.report.junit.xml_text)."""
    section = end_states(summary)
    found = (section or {}).get("candidates", {}).get(name)
    if found is None:
        return None
    case = ET.SubElement(
        suite,
        "testcase",
        classname=text(f"shadow.{name}"),
        name=f"end states: {text(name)}",
        time="0",
    )
    if not drifted(found):
        return "pass"
    lines = [
        f"{c['object']}.{c['field']}: {c['kind']} ({c['count']}), e.g. "
        f"{c['samples'][0]['recorded_id']}: {_value(c['samples'][0]['baseline'])} → "
        f"{_value(c['samples'][0]['candidate'])}"
        for c in found.get("causes", [])
        if c.get("outcome") == "difference" and c.get("samples")
    ]
    lines += [
        f"missing on {s['missing_on']}: {s['object']} {s['recorded_id']} ({s['why']})"
        for s in (found.get("missing") or {}).get("samples", [])
    ]
    failure = ET.SubElement(
        case, "failure", message=text(state_line(name, found)), type="end state differs"
    )
    failure.text = text("\n".join(lines))
    return "failure"


def markdown_lines(summary: dict[str, Any], text: Any) -> list[str]:
    """`### End states` with a line per candidate and its causes; `text` escapes a value
    for Markdown (harness.report.markdown.md_text)."""
    section = end_states(summary)
    if section is None:
        return []
    lines = [f"### End states against {text(section.get('baseline'))}", ""]
    for name, found in section["candidates"].items():
        mark = "FAIL" if drifted(found) else "PASS"
        lines.append(f"- {mark} {text(state_line(name, found))}")
        causes = [c for c in found.get("causes", []) if c.get("outcome") == "difference"]
        for cause in causes[:MARKDOWN_CAUSES]:
            lines.append(
                f"  - {text(cause['object'])}.{text(cause['field'])}: {text(cause['kind'])} "
                f"({cause['count']})"
            )
    return [*lines, ""]
