"""The report's Events section, in each of its forms (docs/events.md): per event type how
many each target sent, what each target's receiver heard (late, refused), and each
candidate's event causes; for the HTML page (a view the template renders), summary.md
and junit.xml (one test suite per candidate, one test case per cause). All of it comes
from summary.json's `events` section; a summary without one has no Events section."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from harness.report.junit import xml_text
from harness.report.markdown import md_code, md_text
from harness.report.phrasing import kind_phrase, short_value

PRESENCE_PHRASES = {"missing": "event missing", "unexpected": "unexpected event"}


def cause_phrase(cause: dict[str, Any]) -> str:
    """`event missing`, `unexpected event`, or `event differs: field removed`."""
    kind = str(cause.get("kind"))
    if kind in PRESENCE_PHRASES:
        return PRESENCE_PHRASES[kind]
    return f"event differs: {kind_phrase(kind)}"


def _section(summary: dict[str, Any]) -> dict[str, Any] | None:
    section = summary.get("events")
    return section if isinstance(section, dict) else None


def _real(causes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in causes if c.get("outcome") == "difference"]


def events_view(summary: dict[str, Any]) -> dict[str, Any] | None:
    """What the HTML template's Events section shows, or None."""
    section = _section(summary)
    if section is None:
        return None
    targets = list((section.get("targets") or {}).keys())
    types = section.get("types") or {}
    for name in [section.get("baseline"), *(section.get("candidates") or {})]:
        if isinstance(name, str) and name not in targets:
            targets.append(name)
    candidates = []
    for name, entry in (section.get("candidates") or {}).items():
        causes = entry.get("causes") or []
        candidates.append(
            {
                "name": name,
                "outcomes": entry.get("outcomes") or {},
                "events": entry.get("events", 0),
                "causes": [
                    {
                        **cause,
                        "phrase": cause_phrase(cause),
                        "before": short_value((cause.get("example") or {}).get("baseline"), 120),
                        "after": short_value((cause.get("example") or {}).get("candidate"), 120),
                    }
                    for cause in causes
                ],
                "real": len(_real(causes)),
            }
        )
    return {
        "baseline": section.get("baseline"),
        "targets": targets,
        "heard": section.get("targets") or {},
        "types": [
            {"type": name, "counts": [counts.get(t, 0) for t in targets]}
            for name, counts in types.items()
        ],
        "candidates": candidates,
    }


def events_markdown(summary: dict[str, Any], limit: int = 10) -> list[str]:
    """summary.md's Events section, or no lines."""
    section = _section(summary)
    if section is None:
        return []
    lines = ["### Events", ""]
    for name, entry in (section.get("candidates") or {}).items():
        outcomes = entry.get("outcomes") or {}
        causes = _real(entry.get("causes") or [])
        counted = ", ".join(f"{outcomes.get(k, 0)} {k}" for k in outcomes)
        lines += [
            f"{md_text(name)} against {md_text(section.get('baseline'))}: "
            f"{entry.get('events', 0)} events: {md_text(counted, 200)}; "
            f"{len(causes)} event cause{'s' if len(causes) != 1 else ''}",
            "",
        ]
        if causes:
            lines += ["| severity | event | field | change | events |", "|---|---|---|---|---:|"]
            for cause in causes[:limit]:
                lines.append(
                    f"| {md_text(cause.get('severity'))} | {md_code(cause.get('type'))} | "
                    f"{md_code(cause.get('path'))} | {md_text(cause_phrase(cause))} | "
                    f"{int(cause.get('count', 0))} |"
                )
            lines.append("")
    heard = section.get("targets") or {}
    if heard:
        parts = [
            f"{md_text(name)} {counts.get('received', 0)} ({counts.get('late', 0)} late, "
            f"{counts.get('refused', 0)} refused)"
            for name, counts in heard.items()
        ]
        lines += ["Events received: " + "; ".join(parts) + ".", ""]
    return lines


def add_event_suites(root: ET.Element, summary: dict[str, Any]) -> None:
    """junit.xml: a test suite of events per candidate, one test case per event cause
    (a real one fails) and one that passes when every event matched."""
    section = _section(summary)
    if section is None:
        return
    baseline = str(section.get("baseline"))
    for name, entry in (section.get("candidates") or {}).items():
        suite = ET.SubElement(root, "testsuite", name=xml_text(f"{name} events against {baseline}"))
        failures = 0
        causes = entry.get("causes") or []
        for cause in causes:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=xml_text(f"shadow.{name}.events"),
                name=xml_text(f"{cause.get('type')} {cause.get('path')} ({cause_phrase(cause)})"),
                time="0",
            )
            example = cause.get("example") or {}
            details = (
                f"{cause_phrase(cause)}: {cause.get('type')} at {cause.get('path')}\n"
                f"severity: {cause.get('severity')}\n"
                f"events: {cause.get('count')} in {cause.get('journeys')} journeys\n"
                f"baseline ({baseline}): {short_value(example.get('baseline'), 500)}\n"
                f"candidate ({name}): {short_value(example.get('candidate'), 500)}\n"
                f"sample events: {', '.join(cause.get('samples') or [])}\n"
                f"cause id: {cause.get('id')}"
            )
            if cause.get("outcome") == "difference":
                failures += 1
                failure = ET.SubElement(
                    case,
                    "failure",
                    message=xml_text(f"{cause.get('severity')}: {cause_phrase(cause)}"),
                    type=xml_text(str(cause.get("severity"))),
                )
                failure.text = xml_text(details)
            else:
                out = ET.SubElement(case, "system-out")
                out.text = xml_text(f"{cause.get('outcome')}: {cause.get('reason')}\n{details}")
        ET.SubElement(
            suite,
            "testcase",
            classname=xml_text(f"shadow.{name}.events"),
            name="every event was sent alike",
            time="0",
        )
        if failures:
            ET.SubElement(suite[-1], "failure", message=f"{failures} event causes", type="events")
            failures += 1
        tests = len(causes) + 1
        for key, value in (("tests", tests), ("failures", failures), ("errors", 0)):
            suite.set(key, str(value))
            root.set(key, str(int(root.get(key, "0")) + value))
        suite.set("skipped", "0")
        suite.set("time", "0")
