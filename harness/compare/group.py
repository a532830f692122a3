"""Group differences by cause (harness.compare.cause): one row per change in the API.

A group is one cause with one outcome. It counts the exchanges that show it, the
distinct journeys they belong to, and keeps the first few exchanges as samples; it lists
where the cause was seen, each (endpoint, path) with its own counts and one sample pair,
so a report shows one row for "a subscription no longer has `plan`" rather than the
seven endpoints that show it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from harness.compare.cause import Cause, cause_of
from harness.model import Difference, Outcome

_OUTCOME_ORDER = {"difference": 0, "expected": 1, "noise": 2}
_SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}


def group_id(endpoint: str, path: str, kind: str) -> str:
    """A short hash of an (endpoint, path, kind) signature: the id a group had before
    groups were causes (summary.json version 1), and still the id of a cause of no
    object. Rules and baseline summaries written then still find their causes by it."""
    return hashlib.sha256(f"{endpoint}\n{path}\n{kind}".encode()).hexdigest()[:10]


def difference_ids(difference: Difference) -> tuple[str, str]:
    """(its cause's id, its signature's id): what a baseline summary of either version
    knows a difference by."""
    return (
        cause_of(difference).id,
        group_id(difference.endpoint, difference.path, difference.kind),
    )


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


def _more_severe(one: str, other: str) -> str:
    return one if _SEVERITY_ORDER.get(one, 4) <= _SEVERITY_ORDER.get(other, 4) else other


@dataclass(slots=True)
class Location:
    """Where a cause was seen: one endpoint and JSON path, with the exchanges, journeys
    and the one sample pair (and excerpt of the object around the field) seen there."""

    endpoint: str
    path: str
    severity: str
    kinds: list[str] = field(default_factory=list)
    count: int = 0
    journeys: JourneySet = field(default_factory=JourneySet)
    samples: list[int] = field(default_factory=list)
    example: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "path": self.path,
            "ids": [group_id(self.endpoint, self.path, kind) for kind in self.kinds],
            "severity": self.severity,
            "count": self.count,
            "journeys": len(self.journeys),
            "samples": self.samples,
            "example": self.example,
        }


@dataclass(slots=True)
class Group:
    cause: Cause
    severity: str
    outcome: str
    reason: str | None = None
    count: int = 0
    occurrences: int = 0
    journeys: JourneySet = field(default_factory=JourneySet)
    samples: list[int] = field(default_factory=list)
    example: dict[str, Any] | None = None
    noise: dict[str, float] | None = None
    locations: dict[tuple[str, str], Location] = field(default_factory=dict)
    # Set when one cause shows with more than one outcome (a rule covers some of its
    # endpoints only): the groups that are not differences take the outcome after the id.
    shared: bool = False

    @property
    def id(self) -> str:
        if self.shared and self.outcome != "difference":
            return f"{self.cause.id}.{self.outcome}"
        return self.cause.id

    @property
    def kind(self) -> str:
        return self.cause.kind

    @property
    def first(self) -> Location:
        """The location with the most exchanges (the first seen among equals)."""
        return max(self.locations.values(), key=lambda location: location.count)

    @property
    def endpoint(self) -> str:
        return self.first.endpoint

    @property
    def path(self) -> str:
        return self.first.path

    def sort_key(self) -> tuple[int, int, int, str, str]:
        return (
            _OUTCOME_ORDER.get(self.outcome, 3),
            _SEVERITY_ORDER.get(self.severity, 4),
            -self.count,
            self.cause.display,
            self.outcome,
        )

    def to_json(self) -> dict[str, Any]:
        locations = sorted(self.locations.values(), key=lambda loc: (-loc.count, loc.endpoint))
        return {
            "id": self.id,
            "cause": self.cause.display,
            **self.cause.to_json(),
            "endpoint": self.endpoint,
            "path": self.path,
            "endpoints": sorted({location.endpoint for location in locations}),
            "severity": self.severity,
            "outcome": self.outcome,
            "count": self.count,
            "occurrences": self.occurrences,
            "journeys": len(self.journeys),
            "samples": self.samples,
            "example": self.example or {"seq": None, "baseline": None, "candidate": None},
            "reason": self.reason,
            "noise": self.noise,
            "locations": [location.to_json() for location in locations],
        }


class Groups:
    """Accumulates the differences of one candidate's outcomes, one outcome at a time."""

    def __init__(self, samples: int = 5) -> None:
        self.samples = samples
        self._groups: dict[tuple[tuple[str, str, str], str], Group] = {}

    def add(self, outcome: Outcome) -> None:
        seen: set[tuple[tuple[str, str, str], str]] = set()
        seen_locations: set[tuple[tuple[str, str, str], str, str, str]] = set()
        for difference in outcome.differences:
            cause = cause_of(difference)
            key = (cause.key, difference.outcome)
            group = self._groups.get(key)
            if group is None:
                group = Group(cause, difference.severity, difference.outcome, difference.reason)
                self._groups[key] = group
            group.severity = _more_severe(group.severity, difference.severity)
            group.occurrences += 1
            self._locate(group, difference, outcome, key, seen_locations)
            if key in seen:
                continue
            seen.add(key)
            _tally(group, outcome, difference, self.samples)

    def _locate(
        self,
        group: Group,
        difference: Difference,
        outcome: Outcome,
        key: tuple[tuple[str, str, str], str],
        seen: set[tuple[tuple[str, str, str], str, str, str]],
    ) -> None:
        where = (difference.endpoint, difference.path)
        location = group.locations.get(where)
        if location is None:
            location = Location(difference.endpoint, difference.path, difference.severity)
            group.locations[where] = location
        location.severity = _more_severe(location.severity, difference.severity)
        if difference.kind not in location.kinds:
            location.kinds.append(difference.kind)
        if (*key, *where) in seen:
            return
        seen.add((*key, *where))
        _tally(location, outcome, difference, self.samples)

    def sorted(self) -> list[Group]:
        """Real differences first, then expected, then noise; severe and frequent first."""
        outcomes: dict[tuple[str, str, str], int] = {}
        for cause_key, _ in self._groups:
            outcomes[cause_key] = outcomes.get(cause_key, 0) + 1
        for (cause_key, _), group in self._groups.items():
            group.shared = outcomes[cause_key] > 1
        return sorted(self._groups.values(), key=Group.sort_key)


class _Tallied(Protocol):
    """A group or one of its locations: what it counts of the exchanges showing it."""

    count: int
    journeys: JourneySet
    samples: list[int]
    example: dict[str, Any] | None


def _tally(seen: _Tallied, outcome: Outcome, difference: Difference, samples: int) -> None:
    """One more exchange shows it: counted, its journey noted, kept as a sample while
    there is room, and its values the example when it is the first."""
    seen.count += 1
    if outcome.journey >= 0:
        seen.journeys.add(outcome.journey)
    if seen.example is None:
        seen.example = _example(outcome.seq, difference)
    if len(seen.samples) < samples:
        seen.samples.append(outcome.seq)


def _example(seq: int, difference: Difference) -> dict[str, Any]:
    example = {"seq": seq, "baseline": difference.baseline, "candidate": difference.candidate}
    if difference.excerpt is not None:
        example["excerpt"] = difference.excerpt
    return example


def group_differences(outcomes: Iterable[Outcome], samples: int = 5) -> list[Group]:
    """All groups of a candidate's outcomes, most important first."""
    groups = Groups(samples)
    for outcome in outcomes:
        groups.add(outcome)
    return groups.sorted()
