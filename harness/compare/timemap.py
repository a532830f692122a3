"""Times as moments that two answers given on different dates can agree on.

A shadow test compares answers given weeks apart (a recording and its replay) or at one
time by two targets. A Unix time in an answer is therefore never compared as it is, but
as a `Moment`: the time together with the moments of its own side it can be counted
from. Two Moments are equal when the time lies as far from one anchor both sides have,
in calendar months (Stripe's month-end rule) and seconds, within the tolerance:

* its own request (from its start, or from its end, or anywhere within it: an object
  made while a slow request was served is made "now" all the same);
* the request that first showed the value, and the one that first named its object (its
  birth), on this side: a later read of an object shows the times it was given then,
  however long after, so a slow recording replayed fast differs in nothing;
* the run's origin (the recording's start, or the replay's start less the shift applied
  to request times), for a time one of the side's own requests sent (`trial_end`,
  shifted): it comes back shifted. The shift is in seconds, so this anchor is compared in
  seconds only, and only for a time a request sent: any other time lies at some distance
  from the origin, and a period a few days off could land on the other side's by chance;
* the times of its object it is counted from (harness.stripe.times.ANCHOR_RANKS): a
  period's end from its start, a subscription's periods from its billing cycle anchor.

A side's `TimeMap` is learnt while compare reads the side in seq order, so a time is
first shown (and an object born) at the earliest exchange that shows it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.hashtable import HashTable
from harness.model import Request
from harness.stripe.times import EARLIEST_TIME, describe_distance, same_calendar_distance

# A Unix time written in a request: ten digits, not inside a longer number or word. The
# same pattern for texts and bytes (the classes are ASCII: no other character or byte of
# UTF-8 is in them).
_SENT_TIME_BYTES = re.compile(rb"(?<![0-9A-Za-z_])[0-9]{9,10}(?![0-9A-Za-z_])")
_SENT_TIME_TEXT = re.compile(r"(?<![0-9A-Za-z_])[0-9]{9,10}(?![0-9A-Za-z_])")

# A stretch of time: a request's (start, end), or a field's (value, value).
Window = tuple[float, float]

# A request's window packed into one 64-bit int: its start in milliseconds (enough until
# the year 2527) above its length in milliseconds (up to 8.7 minutes; a longer request
# counts as that long).
_LENGTH_BITS = 19
_LONGEST = (1 << _LENGTH_BITS) - 1


def pack(window: Window) -> int:
    """A request's window as the time map keeps it (one answer packs its request once)."""
    start, end = window
    length = min(max(round((end - start) * 1000), 0), _LONGEST)
    return (round(start * 1000) << _LENGTH_BITS) | length


def _unpack(packed: int) -> Window:
    start = (packed >> _LENGTH_BITS) / 1000
    return start, start + (packed & _LONGEST) / 1000


def _same_distance(
    value: float, mine: Window, other_value: float, theirs: Window, tolerance: float
) -> bool:
    """`value` lies as far from `mine` as `other_value` from `theirs`: both within their
    window, or as far from its start, or as far from its end (calendar months and
    seconds)."""
    start, end = mine
    other_start, other_end = theirs
    if (
        start - tolerance <= value <= end + tolerance
        and other_start - tolerance <= other_value <= other_end + tolerance
    ):
        return True
    if same_calendar_distance(start, value, other_start, other_value, tolerance):
        return True
    return (start != end or other_start != other_end) and same_calendar_distance(
        end, value, other_end, other_value, tolerance
    )


@dataclass(slots=True, eq=False)  # not frozen: made for every time of every answer
class Moment:
    """A Unix time and the moments of its own side it can be counted from (see the module
    docstring). Equality is tolerant (and so not transitive), and every Moment hashes
    alike, which keeps `==` on whole trees and deepdiff both honest about it. Never
    changed once made."""

    value: float
    request: Window
    first_shown: Window | None = None
    origin: float | None = None
    # (name, window): the object's birth, and its times of a lower rank.
    anchors: tuple[tuple[str, Window], ...] = ()
    tolerance: float = 0.0

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Moment):
            return NotImplemented
        tolerance = max(self.tolerance, other.tolerance)
        apart = self.value - other.value
        if abs(apart - (self.request[0] - other.request[0])) <= tolerance:
            return True  # the fast path: as far from the request's start on both sides
        if (
            self.origin is not None
            and other.origin is not None
            and abs(apart - (self.origin - other.origin)) <= tolerance
        ):
            return True  # a time a request set, shifted by seconds (never by months)
        for mine, theirs in self._shared_anchors(other):
            if _same_distance(self.value, mine, other.value, theirs, tolerance):
                return True
        return False

    def _shared_anchors(self, other: Moment) -> list[tuple[Window, Window]]:
        pairs = [(self.request, other.request)]
        if self.first_shown is not None and other.first_shown is not None:
            pairs.append((self.first_shown, other.first_shown))
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
        return f"<request{describe_distance(self.value - self.request[0])}>"


class TimeMap:
    """One side's time map: the request that first named each object and the one that
    first showed each time value (the first wins), and the side's origin. Kept in flat
    hash tables, a request's window packed in 64 bits: about 20 bytes an object or time."""

    __slots__ = ("_births", "_sent", "_seq", "_shown", "origin")

    def __init__(self, origin: float | None = None) -> None:
        self.origin = origin
        self._births: HashTable[int] = HashTable("q")
        self._shown: HashTable[int] = HashTable("q")
        self._sent: dict[int, int] = {}  # a time sent -> the seq of the first request sending it
        self._seq = 0  # the seq of the exchange being compared

    def note_request(self, request: Request, seq: int) -> None:
        """Learn the Unix times this side's request (of exchange `seq`, the one compared
        next) wrote in its query or body: only those are counted from the origin (the
        module docstring)."""
        self._seq = seq
        if self.origin is None:
            return
        body = request.body
        found = _SENT_TIME_TEXT.findall(request.query) if request.query else []
        if body:
            pattern = _SENT_TIME_TEXT if type(body) is str else _SENT_TIME_BYTES
            found += pattern.findall(body)  # type: ignore[arg-type]
        for digits in found:
            value = int(digits)
            if value >= EARLIEST_TIME:
                self._sent.setdefault(value, seq)

    def origin_of(self, value: float) -> float | None:
        """The origin to count `value` from: the side's, when one of its requests up to
        the exchange compared sent that time; otherwise none."""
        if self.origin is None or not self._sent:
            return None
        sent = self._sent.get(int(value))
        return self.origin if sent is not None and sent <= self._seq else None

    @property
    def seq(self) -> int:
        """The seq of the exchange being compared."""
        return self._seq

    def sent_firsts(self) -> dict[int, int]:
        """Each time a request sent → the seq of the first request that sent it."""
        return dict(self._sent)

    def preload(
        self, births: dict[str, int], shown: dict[float, int], sent: dict[int, int]
    ) -> None:
        """Take the firsts of the whole side, learnt apart (harness.distributed.compare):
        the request that first named each object or showed each time (packed), and the
        seq of the first request that sent each time. A shard of the side compared with
        them gets what a comparison of the whole side in one process gets."""
        for object_id, packed in births.items():
            self._births.set(object_id, packed)
        for value, packed in shown.items():
            self._shown.set(value, packed)
        for time, seq in sent.items():
            if self._sent.get(time, seq) >= seq:
                self._sent[time] = seq

    def name(self, object_id: str, request: int) -> int:
        """Note that the request (packed) names `object_id`; returns the (packed) request
        that named it first on this side."""
        return int(self._births.setdefault(object_id, request))

    def birth(self, object_id: str) -> Window | None:
        """The request that first named `object_id` on this side, if one has."""
        packed = self._births.get(object_id)
        return None if packed is None else _unpack(int(packed))

    def born(self, object_id: str, request: int) -> Window:
        """The request that first named `object_id` on this side (`request`, packed, if
        none did before)."""
        return _unpack(self.name(object_id, request))

    def first_shown(self, value: int | float, request: int) -> Window:
        """The request that first showed the time `value` on this side (`request`, packed,
        if none did before)."""
        return _unpack(int(self._shown.setdefault(value, request)))
