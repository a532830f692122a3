"""Diffy's noise rule: a difference the baseline also shows against itself is noise.

The secondary target runs the baseline's configuration a second time. For each endpoint
and JSON path, count the exchanges that differ between baseline and candidate (raw) and
between baseline and secondary (noise). Diffy keeps a field as a real difference only if

    raw > noise
    and |raw - noise| / (raw + noise)  > relative   (percent)
    and |raw - noise| / total          > absolute   (percent of the endpoint's exchanges)

Here counts are turned into rates first (candidate and secondary may have answered a
different number of exchanges), and a field is noise only when the secondary differs
there at all: a difference the secondary never shows is never called noise, however rare.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from harness.model import Difference

# Kinds that say the exchange as a whole went another way: never noise.
_NEVER_NOISE = frozenset({"status", "error"})


@dataclass(slots=True)
class FieldCounts:
    """Per endpoint, exchanges compared; per (endpoint, path), exchanges that differ there."""

    totals: Counter[str] = field(default_factory=Counter)
    fields: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, endpoint: str, differences: Iterable[Difference]) -> None:
        self.totals[endpoint] += 1
        for key in {(d.endpoint, d.path) for d in differences}:
            self.fields[key] += 1

    def rate(self, endpoint: str, path: str) -> float:
        """Percent of the endpoint's exchanges that differ at `path`."""
        total = self.totals[endpoint]
        return 100.0 * self.fields[(endpoint, path)] / total if total else 0.0


@dataclass(frozen=True, slots=True)
class NoiseVerdict:
    noise: bool
    candidate_rate: float
    secondary_rate: float

    @property
    def reason(self) -> str:
        return (
            f"the secondary differs from the baseline here too "
            f"({self.secondary_rate:.1f}% of exchanges, candidate {self.candidate_rate:.1f}%)"
        )


def is_real_difference(
    raw_rate: float, noise_rate: float, relative: float, absolute: float
) -> bool:
    """Diffy's filter on rates in percent: True when the candidate differs clearly more
    often than the secondary."""
    if raw_rate <= noise_rate:
        return False
    gap = raw_rate - noise_rate
    return 100.0 * gap / (raw_rate + noise_rate) > relative and gap > absolute


def judge_noise(
    difference: Difference,
    raw: FieldCounts,
    secondary: FieldCounts,
    relative: float,
    absolute: float,
) -> NoiseVerdict:
    """Whether one baseline/candidate difference is noise by the secondary's measure."""
    raw_rate = raw.rate(difference.endpoint, difference.path)
    noise_rate = secondary.rate(difference.endpoint, difference.path)
    noise = (
        difference.kind not in _NEVER_NOISE
        and secondary.fields[(difference.endpoint, difference.path)] > 0
        and not is_real_difference(raw_rate, noise_rate, relative, absolute)
    )
    return NoiseVerdict(noise, raw_rate, noise_rate)
