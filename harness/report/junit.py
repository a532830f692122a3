"""junit.xml: one test suite per candidate, one test case per group, so CI systems list
each cause of difference as a failing test with a readable summary (docs/report.md).

A group whose outcome is `difference` fails; `expected` and `noise` groups pass and say
why in their output; one more test case per candidate errors when some exchanges could
not be compared, and passes otherwise, so a clean run still has a passing test.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from harness.report.content import as_object, error_groups
from harness.report.endstates import junit_case
from harness.report.phrasing import (
    ABSENT,
    before_after,
    escape_bidi,
    group_counts,
    kind_phrase,
    outcome_counts,
    short_value,
    verdict_line,
)

# Characters XML 1.0 cannot carry at all, even escaped: a response body may hold them.
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
MESSAGE_LIMIT = 300
VALUE_LIMIT = 500


def xml_text(value: Any) -> str:
    """Text safe for an XML 1.0 attribute or element (ElementTree escapes the rest), its
    bidi controls escaped."""
    return escape_bidi(_NOT_XML.sub("\ufffd", str(value)))


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def group_case_name(group: dict[str, Any]) -> str:
    """`subscription.plan removed`: one test case per cause (`(expected)` or `(noise)`
    after it when it is not a difference)."""
    outcome = group.get("outcome", "difference")
    return str(group.get("cause")) + ("" if outcome == "difference" else f" ({outcome})")


def group_details(group: dict[str, Any], candidate: str, baseline: str) -> str:
    """The multi-line text of a failure: what, where, how often, an example, samples."""
    example = group.get("example") or {}
    kind = str(group.get("kind"))
    before = ABSENT if kind == "added" else short_value(example.get("baseline"), VALUE_LIMIT)
    after = ABSENT if kind == "removed" else short_value(example.get("candidate"), VALUE_LIMIT)
    lines = [
        f"{group.get('cause')}: {kind_phrase(kind)}",
        "seen at: "
        + "; ".join(
            f"{place.get('endpoint')} {place.get('path')} ({place.get('count', 0)})"
            for place in group.get("locations", [])
        ),
        f"severity: {group.get('severity')}",
        f"affects {group_counts(group)}",
        f"baseline ({baseline}): {before}",
        f"candidate ({candidate}): {after}",
        f"example exchange: #{example.get('seq', (group.get('samples') or ['?'])[0])}",
        f"sample exchanges: {', '.join('#' + str(s) for s in group.get('samples', []))}",
        f"group id: {group.get('id')} (the same cause has the same id in every run)",
    ]
    if group.get("reason"):
        lines.append(f"reason: {group['reason']}")
    lines.append("See index.html in the report for the exchanges side by side.")
    return "\n".join(lines)


def _group_case(suite: ET.Element, candidate: str, baseline: str, group: dict[str, Any]) -> str:
    case = ET.SubElement(
        suite,
        "testcase",
        classname=xml_text(f"shadow.{candidate}"),
        name=xml_text(group_case_name(group)),
        time="0",
    )
    outcome = group.get("outcome", "difference")
    details = group_details(group, candidate, baseline)
    if outcome == "difference":
        message = (
            f"{group.get('severity')}: {kind_phrase(str(group.get('kind')))} in "
            f"{group_counts(group)}: {before_after(group)}"
        )
        failure = ET.SubElement(
            case,
            "failure",
            message=xml_text(_one_line(message)),
            type=xml_text(str(group.get("severity"))),
        )
        failure.text = xml_text(details)
        return "failure"
    out = ET.SubElement(case, "system-out")
    out.text = xml_text(f"{outcome}: {group.get('reason') or 'no reason given'}\n{details}")
    return "pass"


def _errors_case(suite: ET.Element, candidate_name: str, candidate: dict[str, Any]) -> str:
    case = ET.SubElement(
        suite,
        "testcase",
        classname=xml_text(f"shadow.{candidate_name}"),
        name="every exchange was answered and compared",
        time="0",
    )
    errors = outcome_counts(candidate)["error"]
    if not errors:
        return "pass"
    groups = error_groups(candidate)
    lines = []
    for group in groups:
        count = f" ({group['count']} exchanges)" if group.get("count") is not None else ""
        samples = ", ".join("#" + str(s) for s in group.get("samples", []))
        lines.append(f"{group.get('message')}{count}" + (f": e.g. {samples}" if samples else ""))
    first = groups[0].get("message") if groups else "see the report"
    error = ET.SubElement(
        case,
        "error",
        message=xml_text(_one_line(f"{errors} exchanges could not be compared, e.g. {first}")),
        type="not compared",
    )
    error.text = xml_text("\n".join(lines))
    return "error"


def render_junit(summary: dict[str, Any]) -> str:
    """junit.xml for a (redacted) summary."""
    return junit_text(junit_tree(summary))


def junit_text(root: ET.Element) -> str:
    """A junit tree as the file's text."""
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def junit_tree(summary: dict[str, Any]) -> ET.Element:
    """The test suites of a (redacted) summary's candidates, as a tree other sections
    (harness.report.events) add theirs to."""
    run = as_object(summary.get("run"))
    run_name = str(run.get("name") or "run")
    baseline = str(summary.get("baseline", "baseline"))
    root = ET.Element("testsuites", name=xml_text(f"stripe-shadow {run_name}"))
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for name, candidate in summary.get("candidates", {}).items():
        suite = ET.SubElement(
            root,
            "testsuite",
            name=xml_text(f"{name} compared with {baseline}"),
            timestamp=xml_text(summary.get("compared") or run.get("finished") or ""),
        )
        properties = ET.SubElement(suite, "properties")
        for key, value in (
            ("run", run_name),
            ("baseline", baseline),
            ("candidate", name),
            ("summary", verdict_line(candidate)),
        ):
            ET.SubElement(properties, "property", name=key, value=xml_text(value))
        results = [_errors_case(suite, name, candidate)]
        results += [_group_case(suite, name, baseline, g) for g in candidate.get("groups", [])]
        states = junit_case(suite, name, summary, xml_text)
        if states is not None:
            results.append(states)
        counts = {
            "tests": len(results),
            "failures": results.count("failure"),
            "errors": results.count("error"),
        }
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
        suite.set("skipped", "0")
        suite.set("time", "0")
    for key, value in totals.items():
        root.set(key, str(value))
    return root
