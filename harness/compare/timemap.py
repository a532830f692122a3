"""Times as moments that two answers given on different dates can agree on.

A shadow test compares answers given weeks apart (a recording and its replay) or at one
time by two targets. A Unix time in an answer is therefore never compared as it is, but
as a `Moment`: the time together with the moments of its own side it can be counted
from. Two Moments are equal when the time lies as far from one anchor both sides have,
in calendar months (Stripe's month-end rule) and seconds, within the tolerance:

* its own request's start: a new object's `created`, a trial of 14 days from now;
* when the value was first shown, and when its object was first named (its birth), on
  this side: a later read of an object shows the times it was given then, however long
  after, so a slow recording replayed fast differs in nothing;
* the run's origin (the recording's start, or the replay's start less the shift applied
  to request times): a time the request set (`trial_end`, shifted) comes back shifted;
* the times of its object it is counted from (harness.stripe.times.ANCHOR_RANKS): a
  period's end from its start, a subscription's periods from its billing cycle anchor.

A side's `TimeMap` is learnt while compare reads the side in seq order, so a time is
first shown (and an object born) at the earliest exchange that shows it.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.hashtable import HashTable
from harness.stripe.times import describe_distance, same_calendar_distance


@dataclass(slots=True, eq=False)  # not frozen: made for every time of every answer
class Moment:
    """A Unix time and the moments of its own side it can be counted from (see the module
    docstring). Equality is tolerant (and so not transitive), and every Moment hashes
    alike, which keeps `==` on whole trees and deepdiff both honest about it. Never
    changed once made."""

    value: float
    request: float
    first_shown: float | None = None
    origin: float | None = None
    anchors: tuple[tuple[str, float], ...] = ()
    tolerance: float = 0.0

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Moment):
            return NotImplemented
        tolerance = max(self.tolerance, other.tolerance)
        apart = self.value - other.value
        if abs(apart - (self.request - other.request)) <= tolerance:
            return True  # the fast path: as far from the request on both sides
        for mine, theirs in self._shared_anchors(other):
            if same_calendar_distance(mine, self.value, theirs, other.value, tolerance):
                return True
        return False

    def _shared_anchors(self, other: Moment) -> list[tuple[float, float]]:
        pairs = [(self.request, other.request)]
        if self.first_shown is not None and other.first_shown is not None:
            pairs.append((self.first_shown, other.first_shown))
        if self.origin is not None and other.origin is not None:
            pairs.append((self.origin, other.origin))
        if self.anchors and other.anchors:
            theirs = dict(other.anchors)
            for name, mine in self.anchors:
                found = theirs.get(name)
                if found is not None:
                    pairs.append((mine, found))
        return pairs

    def __hash__(self) -> int:
        return hash(Moment)

    def __str__(self) -> str:
        return f"<request{describe_distance(self.value - self.request)}>"


class TimeMap:
    """One side's time map: when each object was first named and when each time value was
    first shown, each as the start of the request whose answer did so (the first wins),
    and the side's origin. Kept in flat hash tables: about 20 bytes an object or time."""

    __slots__ = ("_births", "_shown", "origin")

    def __init__(self, origin: float | None = None) -> None:
        self.origin = origin
        self._births = HashTable("d")
        self._shown = HashTable("d")

    def born(self, object_id: str, started: float) -> float:
        """When `object_id` was first named on this side (now, if it never was before)."""
        return float(self._births.setdefault(object_id, started))

    def first_shown(self, value: int | float, started: float) -> float:
        """When the time `value` was first shown on this side (now, if never before)."""
        return float(self._shown.setdefault(value, started))
