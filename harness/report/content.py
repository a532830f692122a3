"""What a report holds: the summary, and for the sample exchanges of each group the
baseline's and the candidate's exchange and outcome, already redacted. Pure data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.capture.redact import redact_exchange, redact_tree
from harness.formats.untrusted import JSONProblem, load_json
from harness.model import Exchange, Outcome
from harness.report.phrasing import change_text
from harness.stripe import form_tree, parse_form_pairs

# Sample exchanges shown per group: enough to see the pattern, few enough to stay small.
MAX_SAMPLES = 5
# Characters of one body shown; a longer one is cut and says so.
BODY_LIMIT = 100_000
# Differences listed per sample exchange, and characters of each value shown.
MAX_DIFFERENCES = 50
VALUE_LIMIT = 120


@dataclass(slots=True)
class Report:
    """Everything the renderers need; every string in it has been redacted again."""

    summary: dict[str, Any]
    baseline: dict[int, dict[str, Any]] = field(default_factory=dict)
    candidates: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    outcomes: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    upgrade_check: dict[str, Any] | None = None  # upgrade-check.json, when the run has one

    @property
    def run(self) -> dict[str, Any]:
        return as_object(self.summary.get("run"))

    @property
    def run_name(self) -> str:
        return str(self.run.get("name") or "run")


def as_object(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one: summaries are read leniently."""
    return value if isinstance(value, dict) else {}


def error_groups(candidate: dict[str, Any]) -> list[dict[str, Any]]:
    """A candidate's error groups; from the plain `errors` list when a summary has none."""
    groups = candidate.get("error_groups")
    if isinstance(groups, list):
        return [g for g in groups if isinstance(g, dict)]
    return [{"message": m, "count": None, "samples": []} for m in candidate.get("errors") or []]


def sample_seqs(summary: dict[str, Any]) -> dict[str, set[int]]:
    """Per candidate, the seqs the report shows: the first samples of each group."""
    wanted: dict[str, set[int]] = {}
    for name, candidate in summary.get("candidates", {}).items():
        seqs = wanted.setdefault(name, set())
        for group in candidate.get("groups", []):
            seqs.update(int(seq) for seq in group.get("samples", [])[:MAX_SAMPLES])
        for group in error_groups(candidate):
            seqs.update(int(seq) for seq in group.get("samples", [])[:MAX_SAMPLES])
    return wanted


def _body_view(text: str | bytes, *, form: bool) -> dict[str, Any]:
    """A body as the page shows it: parsed JSON, decoded form fields, or (cut) text."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            return {"text": f"({len(text)} bytes of binary data, not shown)"}
    if not text:
        return {}
    if len(text) > BODY_LIMIT:
        return {"text": text[:BODY_LIMIT], "cut": len(text)}
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            return {"json": load_json(text)}
        except JSONProblem:
            pass  # shown as the text it is
    if form and "=" in text:
        return {"form": form_tree(parse_form_pairs(text)), "text": text}
    return {"text": text}


def exchange_view(exchange: Exchange) -> dict[str, Any]:
    """One exchange as the page shows it, redacted again part by part."""
    exchange = redact_exchange(exchange)
    request = exchange.request
    view: dict[str, Any] = {
        "seq": exchange.seq,
        "journey": exchange.extra.get("journey"),
        "request": {
            "method": request.method,
            "target": request.target,
            "headers": [[k, v] for k, v in request.headers],
            "body": _body_view(request.body, form=True),
        },
        "response": None,
        "error": exchange.error,
        "skipped": bool(exchange.extra.get("skipped")),
    }
    response = exchange.response
    if response is not None:
        view["response"] = {
            "status": response.status,
            "headers": [[k, v] for k, v in response.headers],
            "body": _body_view(response.body, form=False),
        }
    result: dict[str, Any] = redact_tree(view)
    return result


def outcome_view(outcome: Outcome) -> dict[str, Any]:
    """One exchange's outcome for one candidate, with at most MAX_DIFFERENCES listed."""
    data: dict[str, Any] = redact_tree(outcome.to_json())
    differences = data.get("differences", [])
    data["more_differences"] = max(0, len(differences) - MAX_DIFFERENCES)
    data["differences"] = [
        {
            **difference,
            "change": change_text(
                str(difference.get("kind")),
                difference.get("baseline"),
                difference.get("candidate"),
                VALUE_LIMIT,
            ),
        }
        for difference in differences[:MAX_DIFFERENCES]
    ]
    for difference in data["differences"]:
        del difference["baseline"], difference["candidate"]
    return data
