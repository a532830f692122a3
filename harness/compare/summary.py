"""summary.json (docs/summary-format.md): per candidate, outcome and severity counts,
groups, errors and per-endpoint outcomes, accumulated one outcome at a time."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from harness import __version__
from harness.compare.group import Group, Groups
from harness.formats.summary import SUMMARY_VERSION
from harness.model import OUTCOME_KINDS, SEVERITIES, Outcome
from harness.stripe import ID_PATTERN, id_prefix

# How many error messages `errors` lists.
TOP_ERRORS = 5


# Characters of an id an error message keeps, after its prefix: enough to find it.
ID_TAIL = 4


def error_message(error: str) -> str:
    """An error message with ids replaced by their kind, so the same failure groups."""
    return ID_PATTERN.sub(lambda m: f"<{id_prefix(m.group(0))}>", error.strip())[:300]


def shown_error(error: str) -> str:
    """An error message as a reader sees it: each id cut to its prefix and last
    characters (`evt_…X1b2`), enough to find it in the recording, not the whole id."""

    def cut(match: re.Match[str]) -> str:
        found = match.group(0)
        return f"{id_prefix(found)}_…{found[-ID_TAIL:]}"

    return ID_PATTERN.sub(cut, error.strip())[:300]


@dataclass(slots=True)
class ErrorGroup:
    message: str
    count: int = 0
    samples: list[int] = field(default_factory=list)


@dataclass(slots=True)
class CandidateSummary:
    """Everything summary.json says about one candidate."""

    samples: int = 5
    exchanges: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    severities: Counter[str] = field(default_factory=Counter)
    endpoints: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    errors: dict[str, ErrorGroup] = field(default_factory=dict)
    groups: Groups = field(init=False)

    def __post_init__(self) -> None:
        self.groups = Groups(self.samples)

    def add(self, outcome: Outcome) -> None:
        self.exchanges += 1
        self.outcomes[outcome.kind] += 1
        self.endpoints[outcome.endpoint][outcome.kind] += 1
        if outcome.kind == "difference" and outcome.severity is not None:
            self.severities[outcome.severity] += 1
        if outcome.kind == "error":
            error = outcome.error or "unknown error"
            # Grouped without ids; shown with the first one's, cut (shown_error).
            group = self.errors.setdefault(error_message(error), ErrorGroup(shown_error(error)))
            group.count += 1
            if len(group.samples) < self.samples:
                group.samples.append(outcome.seq)
        else:
            self.groups.add(outcome)

    def to_json(self, groups: list[Group] | None = None) -> dict[str, Any]:
        errors = sorted(self.errors.values(), key=lambda e: (-e.count, e.message))
        return {
            "exchanges": self.exchanges,
            "outcomes": {kind: self.outcomes[kind] for kind in OUTCOME_KINDS},
            "severities": {name: self.severities[name] for name in SEVERITIES},
            "groups": [
                g.to_json() for g in (groups if groups is not None else self.groups.sorted())
            ],
            "errors": [e.message for e in errors[:TOP_ERRORS]],
            "error_groups": [
                {"message": e.message, "count": e.count, "samples": e.samples} for e in errors
            ],
            "endpoints": {
                endpoint: {kind: counts[kind] for kind in OUTCOME_KINDS if counts[kind]}
                for endpoint, counts in sorted(self.endpoints.items())
            },
        }


def build_summary(
    run: dict[str, Any],
    baseline: str,
    secondary: str | None,
    config: dict[str, Any],
    candidates: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """The whole summary.json document."""
    return {
        "version": SUMMARY_VERSION,
        "tool": f"stripe-shadow {__version__}",
        "compared": datetime.now(UTC).isoformat(timespec="seconds"),
        "run": run,
        "baseline": baseline,
        "secondary": secondary,
        "config": config,
        "candidates": candidates,
    }
