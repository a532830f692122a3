"""Group differences by signature (endpoint template, path, kind): one row per cause.

A group counts the exchanges that show it, the distinct journeys they belong to, and
keeps the first few exchanges as samples, so a report shows one row for "every confirm
now answers 402" rather than forty.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.model import Outcome

_OUTCOME_ORDER = {"difference": 0, "expected": 1, "noise": 2}
_SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def group_id(endpoint: str, path: str, kind: str) -> str:
    """A short hash of the signature: the same cause has the same id in every run."""
    return hashlib.sha256(f"{endpoint}\n{path}\n{kind}".encode()).hexdigest()[:10]


class JourneySet:
    """The distinct journeys a group touches, as bits: a group that runs through a
    million exchanges holds 125 KB, not a set of a hundred thousand ints."""

    __slots__ = ("_bits", "_count")

    def __init__(self) -> None:
        self._bits = bytearray()
        self._count = 0

    def add(self, journey: int) -> None:
        byte, bit = journey >> 3, 1 << (journey & 7)
        if byte >= len(self._bits):
            self._bits.extend(bytes(max(byte + 1 - len(self._bits), len(self._bits))))
        if not self._bits[byte] & bit:
            self._bits[byte] |= bit
            self._count += 1

    def __len__(self) -> int:
        return self._count


@dataclass(slots=True)
class Group:
    endpoint: str
    path: str
    kind: str
    severity: str
    outcome: str
    reason: str | None = None
    count: int = 0
    occurrences: int = 0
    journeys: JourneySet = field(default_factory=JourneySet)
    samples: list[int] = field(default_factory=list)
    example: dict[str, Any] | None = None
    noise: dict[str, float] | None = None

    @property
    def id(self) -> str:
        return group_id(self.endpoint, self.path, self.kind)

    def sort_key(self) -> tuple[int, int, int, str, str, str]:
        return (
            _OUTCOME_ORDER.get(self.outcome, 3),
            _SEVERITY_ORDER.get(self.severity, 4),
            -self.count,
            self.endpoint,
            self.path,
            self.kind,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "endpoint": self.endpoint,
            "path": self.path,
            "kind": self.kind,
            "severity": self.severity,
            "outcome": self.outcome,
            "count": self.count,
            "occurrences": self.occurrences,
            "journeys": len(self.journeys),
            "samples": self.samples,
            "example": self.example or {"seq": None, "baseline": None, "candidate": None},
            "reason": self.reason,
            "noise": self.noise,
        }


class Groups:
    """Accumulates the differences of one candidate's outcomes, one outcome at a time."""

    def __init__(self, samples: int = 5) -> None:
        self.samples = samples
        self._groups: dict[tuple[str, str, str], Group] = {}

    def add(self, outcome: Outcome) -> None:
        seen: set[tuple[str, str, str]] = set()
        for difference in outcome.differences:
            key = difference.signature
            group = self._groups.get(key)
            if group is None:
                group = Group(
                    difference.endpoint,
                    difference.path,
                    difference.kind,
                    difference.severity,
                    difference.outcome,
                    difference.reason,
                )
                self._groups[key] = group
            group.occurrences += 1
            if key in seen:
                continue
            seen.add(key)
            group.count += 1
            if outcome.journey >= 0:
                group.journeys.add(outcome.journey)
            if group.example is None:
                group.example = {
                    "seq": outcome.seq,
                    "baseline": difference.baseline,
                    "candidate": difference.candidate,
                }
            if len(group.samples) < self.samples:
                group.samples.append(outcome.seq)

    def sorted(self) -> list[Group]:
        """Real differences first, then expected, then noise; severe and frequent first."""
        return sorted(self._groups.values(), key=Group.sort_key)


def group_differences(outcomes: Iterable[Outcome], samples: int = 5) -> list[Group]:
    """All groups of a candidate's outcomes, most important first."""
    groups = Groups(samples)
    for outcome in outcomes:
        groups.add(outcome)
    return groups.sorted()
