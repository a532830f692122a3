"""Decide what each difference is (difference, expected or noise, with a severity) and
what each exchange comes to: exactly one outcome per exchange per candidate."""

from __future__ import annotations

from dataclasses import dataclass, replace

from harness.compare.noise import FieldCounts, judge_noise
from harness.compare.profile import EMULATOR_NOISE, FIXED_BY_EMULATOR
from harness.compare.rules import CompareConfig
from harness.model import SEVERITIES, Difference, Outcome

DEFAULT_SEVERITY = {
    "status": "critical",
    "error": "critical",
    "removed": "high",
    "type": "high",
    "value": "medium",
    "added": "low",
}

SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}

# A status change says the request went another way; rules about fields do not hide it.
_FIELD_KINDS = frozenset({"removed", "added", "type", "value"})


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a difference (its signature and its cause) is classified as."""

    severity: str
    outcome: str
    reason: str | None = None
    candidate_rate: float | None = None
    secondary_rate: float | None = None


@dataclass(slots=True)
class NoiseCounts:
    """The measurements Diffy's rule needs: baseline vs candidate and baseline vs secondary."""

    candidate: FieldCounts
    secondary: FieldCounts


class Classifier:
    """Applies a CompareConfig (and, with a secondary, Diffy's rule) to differences."""

    def __init__(self, config: CompareConfig, noise: NoiseCounts | None = None) -> None:
        self.config = config
        self.noise = noise
        self._verdicts: dict[tuple[str, str, str, str | None, str | None], Verdict] = {}

    def verdict(self, difference: Difference) -> Verdict:
        """How a difference is classified: by its signature (endpoint, path, kind) and
        its cause (the object type and field holding it), which rules can name."""
        key = (
            difference.endpoint,
            difference.path,
            difference.kind,
            difference.owner,
            difference.field,
        )
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = self._judge(difference)
            self._verdicts[key] = verdict
        return verdict

    def _judge(self, difference: Difference) -> Verdict:
        kind = difference.kind
        severity = DEFAULT_SEVERITY[kind]
        for override in self.config.severity:
            if override.matches(difference):
                severity = override.severity
                break
        rates: tuple[float | None, float | None] = (None, None)
        judged = None
        if self.noise is not None:
            judged = judge_noise(
                Difference(difference.endpoint, difference.path, kind),
                self.noise.candidate,
                self.noise.secondary,
                self.config.noise.relative,
                self.config.noise.absolute,
            )
            rates = (round(judged.candidate_rate, 4), round(judged.secondary_rate, 4))
        for expect in self.config.expect:
            if expect.matches(difference):
                return Verdict(severity, "expected", expect.reason, *rates)
        if kind in _FIELD_KINDS:
            for index, ignore in enumerate(self.config.ignore):
                if ignore.matches_signature(difference):
                    why = f"ignored by compare.ignore[{index}]"
                    if ignore.reason:
                        why += f": {ignore.reason}"
                    return Verdict(severity, "noise", why, *rates)
        if judged is not None and judged.noise:
            return Verdict(severity, "noise", judged.reason, *rates)
        return Verdict(severity, "difference", None, *rates)

    def classify(self, difference: Difference) -> Difference:
        verdict = self.verdict(difference)
        if verdict.outcome == "difference" and difference.outcome in ("expected", "noise"):
            # Explained before classifying: an expected API upgrade (compare.upgrade), a
            # page's window (compare.windows).
            verdict = replace(verdict, outcome=difference.outcome, reason=difference.reason)
        if (
            verdict.outcome == "difference"
            and difference.kind in _FIELD_KINDS
            and FIXED_BY_EMULATOR in (difference.baseline, difference.candidate)
        ):
            verdict = replace(verdict, outcome="noise", reason=EMULATOR_NOISE)
        difference.severity = verdict.severity
        difference.outcome = verdict.outcome
        difference.reason = verdict.reason
        return difference

    def outcome(
        self,
        seq: int,
        candidate: str,
        journey: int,
        endpoint: str,
        differences: list[Difference],
        error: str | None = None,
    ) -> Outcome:
        """One exchange's outcome: error, difference (highest severity), expected, noise
        or match, in that order of precedence."""
        if error is not None:
            return Outcome(seq, candidate, journey, endpoint, "error", None, [], error)
        for difference in differences:
            self.classify(difference)
        real = [d for d in differences if d.outcome == "difference"]
        if real:
            severity = min((d.severity for d in real), key=SEVERITY_RANK.__getitem__)
            return Outcome(seq, candidate, journey, endpoint, "difference", severity, differences)
        if any(d.outcome == "expected" for d in differences):
            return Outcome(seq, candidate, journey, endpoint, "expected", None, differences)
        if differences:
            return Outcome(seq, candidate, journey, endpoint, "noise", None, differences)
        return Outcome(seq, candidate, journey, endpoint, "match", None, [])
