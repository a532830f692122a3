"""The HTML report: one self-contained file, rendered from jinja2 templates with
autoescape on, its CSS and JavaScript inlined, its tables carried as JSON data.

Everything that grows with a run (groups, endpoints, sample exchanges) travels in one
`<script type="application/json">` block and is drawn and paged by the inlined script
with text nodes only, so the page's size grows with groups and samples, never with
exchanges, and no content from a request or response is ever parsed as HTML.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from harness import __version__
from harness.model import SEVERITIES
from harness.report.content import MAX_SAMPLES, Report, error_groups
from harness.report.endstates import page_view as end_state_view
from harness.report.events import events_view
from harness.report.facts import run_facts
from harness.report.phrasing import (
    before_after,
    escape_bidi,
    kind_phrase,
    outcome_counts,
    percent,
    severity_counts,
    verdict,
    verdict_line,
    verdict_passed,
)

TEMPLATES = Path(__file__).parent / "templates"


def _shown(value: Any) -> Any:
    """Every value the template writes, its bidi controls escaped: as text in the page
    they show as `\\u202e`, and inside the JSON data block the same six characters are
    the JSON escape of the character, which the script escapes again when it draws it."""
    if isinstance(value, Markup):
        return Markup(escape_bidi(str(value)))
    if isinstance(value, str):
        return escape_bidi(value)
    return value


def template_environment(folder: Path) -> Environment:
    """jinja2 as every page of the harness renders: autoescape on (content is text, never
    markup), bidi controls escaped, an undefined name an error."""
    return Environment(
        loader=FileSystemLoader(folder),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_shown,
    )


def script_json(data: Any) -> str:
    """JSON that is safe inside a `<script>` element: no `<`, `>` or `&` can close it or
    open a comment, because each is written as a `\\u00XX` escape (still valid JSON)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def inline_asset(folder: Path, name: str, closing: str) -> str:
    """A stylesheet or script to inline in a page, refused if it holds its own closing tag."""
    text = (folder / name).read_text(encoding="utf-8")
    if closing in text.lower():
        raise ValueError(f"{name} must not contain {closing!r}: it is inlined in the page")
    return text


def page_style(folder: Path, name: str) -> str:
    """A page's whole stylesheet: the rules every page shares (base.css), then its own."""
    return inline_asset(TEMPLATES, "base.css", "</style") + inline_asset(folder, name, "</style")


def _csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def content_security_policy(style: str, script: str | None = None) -> str:
    """A page's policy: no fetch of any kind, and only its own inlined style and script
    (by their SHA-256; no script at all when there is none)."""
    scripts = _csp_hash(script) if script is not None else "'none'"
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src {scripts}",
            f"style-src {_csp_hash(style)}",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )


def where_seen(group: dict[str, Any], location: dict[str, Any]) -> dict[str, Any]:
    """One place a cause was seen, as the page draws it: the endpoint and path, counts,
    and its sample pair as the object around the field on each side."""
    example = location.get("example") or {}
    excerpt = example.get("excerpt") or {}
    return {
        "endpoint": location.get("endpoint"),
        "path": _clipped(str(location.get("path"))),
        "full_path": location.get("path"),
        "count": location.get("count", 0),
        "journeys": location.get("journeys", 0),
        "seq": example.get("seq"),
        "change": before_after({"kind": group.get("kind"), "example": example}),
        "baseline": _excerpt_text(excerpt.get("baseline")),
        "candidate": _excerpt_text(excerpt.get("candidate")),
    }


# Longest cause or path a table cell shows; a hostile answer's keys run to 100,000.
_CELL_TEXT = 300


def _clipped(text: str) -> str:
    return text if len(text) <= _CELL_TEXT else text[:_CELL_TEXT] + "…"


def _excerpt_text(excerpt: Any) -> str | None:
    return None if excerpt is None else json.dumps(excerpt, indent=2, ensure_ascii=False)


def page_data(report: Report) -> dict[str, Any]:
    """The data the page's script draws: group rows, endpoint and error rows, samples."""
    summary = report.summary
    groups: list[dict[str, Any]] = []
    endpoints: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for name, candidate in summary.get("candidates", {}).items():
        for group in candidate.get("groups", []):
            groups.append(
                {
                    "candidate": name,
                    "id": group.get("id"),
                    "severity": group.get("severity"),
                    "kind": group.get("kind"),
                    "kind_text": kind_phrase(str(group.get("kind"))),
                    "outcome": group.get("outcome", "difference"),
                    "endpoint": group.get("endpoint"),
                    "path": group.get("path"),
                    "cause": _clipped(str(group.get("cause"))),
                    "endpoints": list(group.get("endpoints") or [group.get("endpoint")]),
                    "locations": [where_seen(group, place) for place in group.get("locations", [])],
                    "count": group.get("count", 0),
                    "occurrences": group.get("occurrences"),
                    "journeys": group.get("journeys", 0),
                    "example": before_after(group),
                    "reason": group.get("reason"),
                    "samples": list(group.get("samples", []))[:MAX_SAMPLES],
                }
            )
        for endpoint, counts in candidate.get("endpoints", {}).items():
            endpoints.append(
                {
                    "candidate": name,
                    "endpoint": endpoint,
                    "counts": counts,
                    "total": sum(int(n) for n in counts.values()),
                }
            )
        for group in error_groups(candidate):
            errors.append(
                {
                    "candidate": name,
                    "message": group.get("message"),
                    "count": group.get("count"),
                    "samples": list(group.get("samples", []))[:MAX_SAMPLES],
                }
            )
    return {
        "baseline": summary.get("baseline"),
        "candidates": list(summary.get("candidates", {})),
        "max_samples": MAX_SAMPLES,
        "groups": groups,
        "endpoints": endpoints,
        "errors": errors,
        "sides": {
            "baseline": {str(seq): view for seq, view in report.baseline.items()},
            "candidates": {
                name: {str(seq): view for seq, view in views.items()}
                for name, views in report.candidates.items()
            },
        },
        "outcomes": {
            name: {str(seq): view for seq, view in views.items()}
            for name, views in report.outcomes.items()
        },
    }


def _verdicts(summary: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, candidate in summary.get("candidates", {}).items():
        outcomes = outcome_counts(candidate)
        groups = candidate.get("groups", [])
        rows.append(
            {
                "name": name,
                "passed": verdict_passed(candidate),
                "regressed": outcomes["difference"] > 0,
                "verdict": verdict(candidate),
                "line": verdict_line(candidate),
                "exchanges": int(candidate.get("exchanges", 0)),
                "outcomes": outcomes,
                "matching": percent(outcomes["match"], int(candidate.get("exchanges", 0))),
                "severities": severity_counts(candidate),
                "causes": sum(1 for g in groups if g.get("outcome", "difference") == "difference"),
            }
        )
    return rows


def render_html(report: Report, generated: datetime | None = None) -> str:
    """The whole report page as one string."""
    summary = report.summary
    css = page_style(TEMPLATES, "report.css")
    js = inline_asset(TEMPLATES, "report.js", "</script")
    csp = content_security_policy(css, js)
    baseline = str(summary.get("baseline", "baseline"))
    template = template_environment(TEMPLATES).get_template("index.html.j2")
    return template.render(
        run_name=report.run_name,
        baseline=baseline,
        baseline_label="the recording" if baseline == "recording" else baseline,
        candidates=list(summary.get("candidates", {})),
        verdicts=_verdicts(summary),
        severities=SEVERITIES,
        facts=run_facts(summary),
        upgrade_check=report.upgrade_check,
        events=events_view(summary),
        end_states=end_state_view(summary),
        max_samples=MAX_SAMPLES,
        version=__version__,
        generated=(generated or datetime.now(UTC)).isoformat(timespec="seconds"),
        csp=csp,
        css=Markup(css),
        js=Markup(js),
        data=Markup(script_json(page_data(report))),
    )
