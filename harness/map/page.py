"""The map's page: one self-contained index.html, rendered by jinja2 with autoescape on
from the map and its findings, its stylesheet inlined, with no script at all.

Everything recorded (paths, parameters, client names, accounts, examples) reaches the
page only through the template's escaping, as text; the pictures are inline SVG whose
shapes come from harness/map/diagram.py and whose words are escaped the same way. The
page's policy allows no fetch and no script, so it opens offline and could run nothing
even if markup got in. What it shows grows with endpoints and flow shapes, not with
exchanges: the page lists the TOP_FLOWS most frequent flows and every endpoint.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from markupsafe import Markup

from harness import __version__
from harness.map.diagram import (
    BAR_HEIGHT,
    BAR_WIDTH,
    STATUS_CLASSES,
    flow_diagram,
    latency_scale,
    latency_x,
    status_bar,
)
from harness.map.evidence import Example
from harness.map.findings import FINDINGS, Finding
from harness.map.flows import IDLE, Shape
from harness.map.model import IntegrationMap
from harness.report.html import content_security_policy, page_style, template_environment

TEMPLATES = Path(__file__).parent / "templates"
# Flows the diagram draws, and the table lists.
TOP_FLOWS = 8
TOP_FLOWS_LISTED = 25


def _when(moment: float | None) -> str:
    if moment is None:
        return "-"
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def milliseconds(value: float | None) -> str:
    """A latency as precise as the sketch is (three figures at most)."""
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _where(found: IntegrationMap, at: int, seq: int) -> str:
    source = found.where(at)
    name = Path(source.path).name if source is not None else "?"
    return f"{name} seq {seq}"


def example_view(found: IntegrationMap, example: Example) -> dict[str, Any]:
    return {
        "where": _where(found, example.at, example.seq),
        "request": example.request,
        "status": "no answer" if example.status is None else str(example.status),
        "when": _when(example.time),
    }


def _finding_view(found: IntegrationMap, item: Finding) -> dict[str, Any]:
    return {
        "severity": item.severity,
        "rule": item.rule,
        "title": item.title,
        "subject": item.subject,
        "detail": item.detail,
        "exchanges": item.exchanges,
        "examples": [example_view(found, e) for e in item.examples],
        "doc": item.doc,
    }


def _top_flows(shapes: dict[str, Shape]) -> list[tuple[str, Shape]]:
    """Flows of two steps or more first, then by how often."""
    return sorted(
        shapes.items(),
        key=lambda item: (len(item[1].example.steps) < 2, -item[1].count, item[0]),
    )


def _flow_view(found: IntegrationMap, shape: str, counted: Shape) -> dict[str, Any]:
    example = counted.example
    return {
        "shape": shape,
        "count": counted.count,
        "steps": [{"endpoint": s.endpoint, "repeated": s.repeated} for s in example.steps],
        "more": example.more,
        "example": [
            {"endpoint": s.endpoint, "where": _where(found, s.at, s.seq)} for s in example.steps
        ],
        "key": example.key,
    }


def _endpoint_rows(found: IntegrationMap) -> list[dict[str, Any]]:
    rows = []
    slowest = max((s.latency.quantile(0.95) or 0 for s in found.endpoints.values()), default=0)
    top = latency_scale(slowest)
    retries = found.hits("key_reuses")
    for name, stats in sorted(found.endpoints.items(), key=lambda i: (-i[1].calls, i[0])):
        p50, p95 = stats.latency.quantile(0.5), stats.latency.quantile(0.95)
        peak = found.rate_peak(f"endpoint {name}")
        errors = sorted(stats.errors.items(), key=lambda item: (-item[1], item[0]))
        rows.append(
            {
                "endpoint": name,
                "calls": stats.calls,
                "segments": status_bar(dict(stats.statuses)),
                "statuses": ", ".join(f"{s}: {n:,}" for s, n in sorted(stats.statuses.items())),
                "errors": [f"{code} ({count:,})" for code, count in errors[:3]],
                "more_errors": max(0, len(errors) - 3),
                "p50": milliseconds(p50),
                "p95": milliseconds(p95),
                "p50_x": latency_x(p50, top),
                "p95_x": latency_x(p95, top),
                "peak": peak.count if peak is not None else 0,
                "posts": stats.posts,
                "with_key": stats.with_key,
                "replayed": stats.replayed,
                "retries": retries.get(name),
                "parameters": sorted(stats.parameters, key=lambda p: (-stats.parameters[p], p)),
                "expand": sorted(stats.expand.items()),
                "list_reads": stats.list_reads,
                "limits": sorted(stats.limits.items()),
                "cursor_pages": stats.cursor_pages,
                "has_more": stats.has_more,
                "example": example_view(found, stats.calls_seen.examples[0])
                if stats.calls_seen.examples
                else None,
            }
        )
    return rows


def page_view(found: IntegrationMap, findings: list[Finding]) -> dict[str, Any]:
    """Everything the page shows, as plain data."""
    shapes = found.flow_shapes()
    flows = _top_flows(shapes)
    drawn = [_flow_view(found, shape, counted) for shape, counted in flows[:TOP_FLOWS]]
    endpoints = _endpoint_rows(found)
    posts = sum(s.posts for s in found.endpoints.values())
    with_key = sum(s.with_key for s in found.endpoints.values())
    pinned = [v for v in found.versions if v != "none"]
    return {
        "sources": [
            {
                "name": Path(s.path).name,
                "path": s.path,
                "created": s.created,
                "exchanges": s.exchanges,
                "truncated": s.truncated,
            }
            for s in found.sources
        ],
        "exchanges": found.exchanges,
        "untimed": found.untimed,
        "first": _when(found.span.first),
        "last": _when(found.span.last),
        "findings": [_finding_view(found, item) for item in findings],
        "rules": len(FINDINGS),
        "diagram": flow_diagram(drawn),
        "flows": [_flow_view(found, shape, c) for shape, c in flows[:TOP_FLOWS_LISTED]],
        "idle_minutes": int(IDLE // 60),
        "flow_shapes": len(shapes),
        "flows_counted": sum(c.count for c in shapes.values()),
        "flows_open": len(found.flows.open) + len(found.flows.closed_head),
        "outside_flows": found.outside_flows,
        "endpoints": endpoints,
        "bar": {"width": BAR_WIDTH, "height": BAR_HEIGHT},
        "legend": STATUS_CLASSES,
        "objects": [
            {
                "type": kind,
                **{a: actions.get(a, 0) for a in ("created", "read", "updated", "deleted")},
            }
            for kind, actions in sorted(found.objects.items())
        ],
        "versions": [
            {"version": v, "count": t.count, "example": example_view(found, t.examples[0])}
            for v, t in sorted(found.versions.items(), key=lambda i: -i[1].count)
        ],
        "answer_versions": sorted(found.answer_versions.items()),
        "consistent": len(pinned) == 1 and "none" not in found.versions,
        "accounts": [
            {"account": a or "(the platform's own)", "count": t.count}
            for a, t in sorted(found.accounts.items(), key=lambda i: (-i[1].count, i[0]))
        ],
        "modes": sorted(found.modes.items()),
        "clients": [
            {"client": c, "count": t.count}
            for c, t in sorted(found.clients.items(), key=lambda i: (-i[1].count, i[0]))
        ],
        "idempotency": {
            "posts": posts,
            "with_key": with_key,
            "reuses": sum(t.count for t in found.hits("key_reuses").values()),
            "replayed": sum(s.replayed for s in found.endpoints.values()),
        },
        "upgrade": found.upgrade or None,
        "settings": found.settings.to_json(),
    }


def render_page(
    found: IntegrationMap, findings: list[Finding], generated: datetime | None = None
) -> str:
    """The whole page as one string."""
    css = page_style(TEMPLATES, "map.css")
    template = template_environment(TEMPLATES).get_template("map.html.j2")
    return template.render(
        view=page_view(found, findings),
        version=__version__,
        generated=(generated or datetime.now(UTC)).isoformat(timespec="seconds"),
        csp=content_security_policy(css),
        css=Markup(css),
    )
