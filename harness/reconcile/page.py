"""The reconciliation's page: one self-contained index.html rendered by jinja2 with
autoescape on from reconcile.json's (already redacted) content, its stylesheet inlined,
with no script at all: the report's safety (harness.report.html) with the map's shape.

Every value from the customer's rows or Stripe's objects reaches the page only as
escaped text; the page's policy allows no fetch and no script, so it opens offline. Its
size grows with the mapping (causes, samples), never with the rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from markupsafe import Markup

from harness import __version__
from harness.reconcile.match import OUTCOMES
from harness.report.html import content_security_policy, page_style, template_environment

TEMPLATES = Path(__file__).parent / "templates"


def _value(value: Any) -> str:
    """A sample's value as the page shows it: JSON, so text and numbers look apart."""
    if value is None:
        return "(empty)"
    return json.dumps(value, ensure_ascii=False)


def _sample_rows(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "stripe_id": s.get("stripe_id") or "(none)",
            "key": "" if s.get("key") is None else str(s.get("key")),
            "line": s.get("line", ""),
            "source": _value(s.get("source")),
            "converted": _value(s.get("converted")),
            "stripe": _value(s.get("stripe")),
            "fields": [(f, _value(v)) for f, v in (s.get("fields") or {}).items()],
        }
        for s in samples
    ]


def page_view(document: dict[str, Any]) -> dict[str, Any]:
    """Everything the page shows, as plain data."""
    objects = document.get("objects", {})
    rows = []
    only_in_source = []
    only_in_stripe = []
    duplicates = []
    for kind, found in objects.items():
        rows.append(
            {
                "object": kind,
                "where": found["where"],
                "rows": found["rows"],
                "objects": found["objects"],
                **{o: found["outcomes"].get(o, 0) for o in OUTCOMES},
            }
        )
        for group in found.get("only_in_source", []):
            only_in_source.append(
                {
                    "object": kind,
                    "why": group["why"],
                    "count": group["count"],
                    "samples": _sample_rows(group["samples"]),
                }
            )
        if found["only_in_stripe"]["count"]:
            only_in_stripe.append(
                {
                    "object": kind,
                    "count": found["only_in_stripe"]["count"],
                    "samples": _sample_rows(found["only_in_stripe"]["samples"]),
                }
            )
        if found["duplicates"]["count"]:
            duplicates.append(
                {
                    "object": kind,
                    "count": found["duplicates"]["count"],
                    "samples": _sample_rows(found["duplicates"]["samples"]),
                }
            )
    stripe = document.get("stripe", {})
    return {
        "source": document.get("source"),
        "mapping": document.get("mapping"),
        "stripe": stripe,
        "stripe_label": ("the recording " if stripe.get("kind") == "recording" else "the target ")
        + str(stripe.get("where")),
        "totals": document.get("totals", {}),
        "drift": document.get("drift", 0),
        "outcomes": OUTCOMES,
        "rows": rows,
        "causes": [
            {
                "object": c["object"],
                "field": c["field"],
                "kind": c["kind"],
                "count": c["count"],
                "samples": _sample_rows(c["samples"]),
            }
            for c in document.get("causes", [])
        ],
        "only_in_source": only_in_source,
        "only_in_stripe": only_in_stripe,
        "duplicates": duplicates,
        "started": document.get("started"),
        "finished": document.get("finished"),
    }


def render_page(document: dict[str, Any], generated: datetime | None = None) -> str:
    """The whole page as one string."""
    css = page_style(TEMPLATES, "reconcile.css")
    template = template_environment(TEMPLATES).get_template("reconcile.html.j2")
    return template.render(
        view=page_view(document),
        version=__version__,
        generated=(generated or datetime.now(UTC)).isoformat(timespec="seconds"),
        csp=content_security_policy(css),
        css=Markup(css),
    )
