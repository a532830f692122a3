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


class EventGate(_Strict):
    """Thresholds for event causes (summary.json `events`): a real cause at or above
    `fail_on` (the gate's own when left out) is a regression; more than `max_causes` of
    them fail the candidate."""

    fail_on: Severity | None = None
    max_causes: int = Field(default=0, ge=0)


class GateConfig(_Strict):
    """What makes a run fail. Every field has a default: any real difference fails."""

    max_regressions: int = Field(default=0, ge=0)
    fail_on: Severity = Severity.LOW
    max_error_rate: float = Field(default=0.05, ge=0, le=1)
    endpoints: list[EndpointThreshold] = Field(default_factory=list)
    baseline_summary: Path | None = None
    events: EventGate = Field(default_factory=EventGate)
    # Objects whose end state differs from the baseline's, or that are missing, allowed
    # per candidate when the run reconciled end states (summary.json `reconciliation`).
    max_state_differences: int = Field(default=0, ge=0)

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


def _event_causes(summary: dict[str, Any] | None, name: str) -> list[dict[str, Any]]:
    section = (summary or {}).get("events")
    if not isinstance(section, dict):
        return []
    entry = (section.get("candidates") or {}).get(name) or {}
    return [c for c in entry.get("causes") or [] if c.get("outcome") == "difference"]


def _judge_events(
    verdict: CandidateVerdict,
    causes: list[dict[str, Any]],
    config: GateConfig,
    known: set[str] | None,
) -> None:
    """Add a candidate's event causes to its verdict (the gate's `events:` thresholds)."""
    fail_on = config.events.fail_on or config.fail_on
    counted = []
    for cause in causes:
        if SEVERITY_RANK.get(str(cause.get("severity")), 3) > SEVERITY_RANK[fail_on]:
            continue
        if known is not None and cause.get("id") in known:
            verdict.known.append(cause)
            continue
        counted.append(cause)
    verdict.regressions.extend(counted)
    allowed = config.events.max_causes
    if len(counted) <= allowed:
        return
    listed = "; ".join(
        f"[{c.get('id')}] {c.get('severity')} {c.get('kind')} {c.get('type')} {c.get('path')} "
        f"({c.get('count')} events)"
        for c in counted[:LISTED]
    )
    if len(counted) > LISTED:
        listed += f"; and {len(counted) - LISTED} more (the report lists them all)"
    plural = "s" if len(counted) != 1 else ""
    verdict.reasons.append(
        f"events: {len(counted)} event cause{plural} at or above {fail_on} "
        f"(allowed {allowed}): {listed}"
    )
    if verdict.status == PASSED:
        verdict.status = FAILED


def _judge_states(verdict: CandidateVerdict, states: dict[str, Any], config: GateConfig) -> None:
    """End states that differ or are missing, beyond `max_state_differences`, fail."""
    outcomes = states.get("outcomes") or {}
    drifted = int(outcomes.get("state differs", 0)) + int(outcomes.get("missing object", 0))
    if drifted <= config.max_state_differences:
        return
    causes = [c for c in states.get("causes", []) if c.get("outcome") == "difference"]
    named = "; ".join(f"{c['object']} {c['field']} {c['kind']} ({c['count']})" for c in causes)
    missing = int(outcomes.get("missing object", 0))
    verdict.reasons.append(
        f"{drifted} objects end in another state than the baseline's (allowed "
        f"{config.max_state_differences})"
        + (f": {named}" if named else "")
        + (f"; {missing} missing" if missing else "")
    )
    if verdict.status == PASSED:
        verdict.status = FAILED


def apply_gate(
    summary: dict[str, Any], config: GateConfig, baseline: dict[str, Any] | None = None
) -> GateVerdict:
    """Judge every candidate of a summary; with a baseline summary, only groups (and
    event causes) that were not differences there count. A run that reconciled end
    states is judged on them too."""
    known = known_groups(baseline)
    states = (summary.get("reconciliation") or {}).get("candidates") or {}
    verdicts = []
    for name, candidate in summary.get("candidates", {}).items():
        judged = _judge_candidate(
            name, candidate, config, known.get(name, set()) if baseline is not None else None
        )
        known_events = (
            {c["id"] for c in _event_causes(baseline, name)} if baseline is not None else None
        )
        _judge_events(judged, _event_causes(summary, name), config, known_events)
        if name in states:
            _judge_states(judged, states[name], config)
        verdicts.append(judged)
    return GateVerdict(verdicts)


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
