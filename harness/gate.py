"""The gate: a scenario's `gate:` section (or the command line) applied to a compared run's
summary.json, giving a verdict per candidate with the reasons for it (docs/ci.md).

A *regression* is a group (one cause: an object type, field and kind, or for a field of
no object an endpoint template, JSON path and kind) whose outcome is `difference` and
whose severity is at or above `fail_on` at one of its endpoints, and, with a baseline
summary, that the candidate's groups in the baseline do not hold as a difference (by the
cause's id, or by a location's id as a version 1 summary knew it).
Expected and noise groups never count. The error rate is error outcomes / exchanges.
Pure: data in, data out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from harness.errors import ScenarioProblem
from harness.formats.summary import seen_in
from harness.model import SEVERITIES, Severity
from harness.stripe.globs import glob_match
from harness.validation import error_message, model_at

SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}

PASSED, FAILED, UNJUDGED = "passed", "failed", "cannot judge"
# Regressions named in a reason; the report lists every one.
LISTED = 5
EXIT_CODES = {PASSED: 0, FAILED: 1, UNJUDGED: 3}


def parse_rate(value: Any) -> Any:
    """`0.05`, `"0.05"` or `"5%"` → 0.05; anything else is left for validation to refuse."""
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text[:-1]) / 100 if text.endswith("%") else float(text)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate (a fraction such as 0.05, or 5%)") from None
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class EndpointThreshold(_Strict):
    """Thresholds for the groups of the endpoints a glob matches (first match wins);
    a field left out takes the gate's own value."""

    endpoint: str = Field(min_length=1)
    fail_on: Severity | None = None
    max_regressions: int | None = Field(default=None, ge=0)


class GateConfig(_Strict):
    """What makes a run fail. Every field has a default: any real difference fails."""

    max_regressions: int = Field(default=0, ge=0)
    fail_on: Severity = Severity.LOW
    max_error_rate: float = Field(default=0.05, ge=0, le=1)
    endpoints: list[EndpointThreshold] = Field(default_factory=list)
    baseline_summary: Path | None = None

    @field_validator("max_error_rate", mode="before")
    @classmethod
    def _rate(cls, value: Any) -> Any:
        return parse_rate(value)

    @field_validator("baseline_summary")
    @classmethod
    def _relative_to_scenario(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        # Scenario loading passes its folder as `base` (harness/scenario.py).
        context = info.context or {}
        if value is None:
            return None
        path = value.expanduser()
        base = context.get("base")
        if base is not None and not path.is_absolute():
            path = Path(base) / path
        if context.get("check_files", False) and not path.is_file():
            raise ValueError(f"no such file: {value}")
        return path

    def threshold_for(self, endpoint: str) -> tuple[int | None, Severity, int]:
        """(index of the endpoint rule or None, fail_on, max_regressions) for an endpoint."""
        for index, rule in enumerate(self.endpoints):
            if glob_match(rule.endpoint, endpoint):
                return (
                    index,
                    rule.fail_on or self.fail_on,
                    self.max_regressions if rule.max_regressions is None else rule.max_regressions,
                )
        return None, self.fail_on, self.max_regressions

    def counts(self, endpoint: str, severity: str | None) -> bool:
        """Whether a real difference at this endpoint and severity is a regression."""
        _, fail_on, _ = self.threshold_for(endpoint)
        return SEVERITY_RANK.get(severity or "low", 3) <= SEVERITY_RANK[fail_on]


def override(config: GateConfig, values: dict[str, Any]) -> GateConfig:
    """The command line over a scenario's gate: given values win, given endpoint rules
    come first (first match wins)."""
    merged = config.model_dump()
    for name, value in values.items():
        if value is None:
            continue
        if name == "endpoints":
            merged[name] = [*value, *merged[name]]
        else:
            merged[name] = value
    return GateConfig.model_validate(merged)


def group_ids(group: dict[str, Any]) -> set[str]:
    """Every id a group is known by: its cause's, and each of its locations' as a group
    of its own (summary.json version 1)."""
    ids = {str(group["id"])}
    for location in group.get("locations", []):
        ids.update(location.get("ids", []))
    return ids


def known_groups(baseline: dict[str, Any] | None) -> dict[str, set[str]]:
    """Candidate → ids of the groups that were already differences in a baseline summary."""
    if baseline is None:
        return {}
    return {
        name: {
            known
            for g in candidate.get("groups", [])
            if g.get("outcome") == "difference"
            for known in group_ids(g)
        }
        for name, candidate in baseline.get("candidates", {}).items()
    }


def _threshold(config: GateConfig, group: dict[str, Any]) -> tuple[int | None, Severity] | None:
    """The endpoint rule (its index, or None for the gate's own) under which a group
    counts: the first of its endpoints whose threshold it reaches; None when none."""
    for endpoint in group.get("endpoints") or [group["endpoint"]]:
        index, fail_on, _ = config.threshold_for(str(endpoint))
        if SEVERITY_RANK.get(str(group["severity"]), 3) <= SEVERITY_RANK[fail_on]:
            return index, fail_on
    return None


# --- the verdict ---------------------------------------------------------------------------


@dataclass(slots=True)
class CandidateVerdict:
    """One candidate's verdict: the regressions counted, the known ones let through."""

    name: str
    status: str
    exchanges: int
    errors: int
    regressions: list[dict[str, Any]] = field(default_factory=list)
    known: list[dict[str, Any]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    @property
    def error_rate(self) -> float:
        return self.errors / self.exchanges if self.exchanges else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "exchanges": self.exchanges,
            "errors": self.errors,
            "error_rate": round(self.error_rate, 6),
            "regressions": [g["id"] for g in self.regressions],
            "known": [g["id"] for g in self.known],
            "reasons": self.reasons,
        }


@dataclass(slots=True)
class GateVerdict:
    candidates: list[CandidateVerdict]

    @property
    def status(self) -> str:
        """`cannot judge` if any candidate cannot be judged, else `failed` if any failed."""
        statuses = {c.status for c in self.candidates}
        for status in (UNJUDGED, FAILED):
            if status in statuses:
                return status
        return PASSED

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "candidates": [c.to_json() for c in self.candidates]}


def _percent(rate: float) -> str:
    return f"{100 * rate:.1f} %".replace(".0 %", " %")


def group_line(group: dict[str, Any]) -> str:
    """`[3f9a1c02be] high subscription.plan removed (18 exchanges, 7 endpoints)`."""
    return f"[{group['id']}] {group['severity']} {group['cause']} ({seen_in(group)})"


def _judge_candidate(
    name: str, candidate: dict[str, Any], config: GateConfig, known: set[str] | None
) -> CandidateVerdict:
    exchanges = int(candidate.get("exchanges", 0))
    errors = int((candidate.get("outcomes") or {}).get("error", 0))
    verdict = CandidateVerdict(name, PASSED, exchanges, errors)
    if exchanges == 0:
        verdict.status = UNJUDGED
        verdict.reasons.append("no exchange was compared")
        return verdict
    if verdict.error_rate > config.max_error_rate:
        verdict.status = UNJUDGED
        messages = candidate.get("errors") or []
        first = f": {messages[0]}" if messages else ""
        verdict.reasons.append(
            f"{errors} of {exchanges} exchanges are errors ({_percent(verdict.error_rate)}, "
            f"allowed {_percent(config.max_error_rate)}){first}"
        )
    buckets: dict[int | None, list[dict[str, Any]]] = {}
    for group in candidate.get("groups", []):
        if group.get("outcome") != "difference":
            continue
        counted = _threshold(config, group)
        if counted is None:
            continue
        if known is not None and group_ids(group) & known:
            verdict.known.append(group)
            continue
        verdict.regressions.append(group)
        buckets.setdefault(counted[0], []).append(group)
    for index, groups in sorted(buckets.items(), key=lambda item: (item[0] is not None, item[0])):
        if index is None:
            fail_on, allowed = config.fail_on, config.max_regressions
        else:
            rule = config.endpoints[index]
            fail_on = rule.fail_on or config.fail_on
            allowed = (
                config.max_regressions if rule.max_regressions is None else rule.max_regressions
            )
        if len(groups) <= allowed:
            continue
        where = "" if index is None else f"{config.endpoints[index].endpoint}: "
        new = "new " if known is not None else ""
        plural = "s" if len(groups) != 1 else ""
        listed = "; ".join(group_line(g) for g in groups[:LISTED])
        if len(groups) > LISTED:
            listed += f"; and {len(groups) - LISTED} more (the report lists them all)"
        verdict.reasons.append(
            f"{where}{len(groups)} {new}regression{plural} at or above {fail_on} "
            f"(allowed {allowed}): {listed}"
        )
        if verdict.status == PASSED:
            verdict.status = FAILED
    return verdict


def apply_gate(
    summary: dict[str, Any], config: GateConfig, baseline: dict[str, Any] | None = None
) -> GateVerdict:
    """Judge every candidate of a summary; with a baseline summary, only groups that were
    not differences there count."""
    known = known_groups(baseline)
    return GateVerdict(
        [
            _judge_candidate(
                name, candidate, config, known.get(name, set()) if baseline is not None else None
            )
            for name, candidate in summary.get("candidates", {}).items()
        ]
    )


def verdict_lines(verdict: GateVerdict, config: GateConfig) -> list[str]:
    """The verdict in a few lines for a terminal or a CI log."""
    lines = []
    for candidate in verdict.candidates:
        if candidate.status == PASSED:
            counted = len(candidate.regressions)
            detail = (
                f"{counted} regression{'s' if counted != 1 else ''} at or above "
                f"{config.fail_on} (allowed {config.max_regressions}), error rate "
                f"{_percent(candidate.error_rate)} (allowed {_percent(config.max_error_rate)})"
            )
            if candidate.known:
                detail += f", {len(candidate.known)} known from the baseline summary"
            lines.append(f"{candidate.name}: passed: {detail}")
        else:
            for reason in candidate.reasons:
                lines.append(f"{candidate.name}: {candidate.status}: {reason}")
    lines.append(f"gate: {verdict.status}")
    return lines


def check_gate(value: Any, context: dict[str, Any]) -> GateConfig:
    """The scenario's `gate:` section (harness.scenario.SECTIONS): its first mistake is a
    ScenarioProblem at its field (`gate.fail_on`), in the scenario's words."""
    if isinstance(value, GateConfig):
        return value
    try:
        return GateConfig.model_validate(value, context=context)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(error["loc"])
        parent = loc[:-1] if error["type"] == "extra_forbidden" else loc
        raise ScenarioProblem(loc, error_message(error, model_at(GateConfig, parent))) from None
