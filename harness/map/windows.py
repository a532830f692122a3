"""What the map judges over time, kept so that maps merge exactly and memory stays bounded.

Some of what the map says depends on more than one exchange: a retry is the same request
again, a poll the same read again, a search right after a write, the busiest second.
Each is judged over a window of time, so only the exchanges of the last window matter
at any moment, and a map keeps its two edges open for the recording that may come
before it or after it:

- the tail: per key, the state the last exchanges left (the last request, its answer),
  forgotten once it is older than the window;
- the head: the exchanges of the first window whose judgement depends on what came
  before this map (deferred until a map is merged in front of it, or settled);
- per-second counts near either edge (a second can be split between two recordings).

The merge of two maps judges the head of the later one against the tail of the earlier
one, so a week of recordings mapped one by one and merged equals the map of their
concatenation. That holds when the exchanges are in order of time give or take SLACK
seconds, as a recording is (a request's start is recorded when its answer comes, and
Stripe answers within 80 s), and as recordings made one after another are.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.map.evidence import (
    Example,
    Tally,
    merge_tallies,
    tallies_from_json,
    tallies_to_json,
)

# How far out of time order two exchanges may be (seconds).
SLACK = 120.0


@dataclass(slots=True)
class Span:
    """The earliest and latest start of the timed exchanges seen."""

    first: float | None = None
    last: float | None = None

    def add(self, moment: float) -> None:
        if self.first is None or moment < self.first:
            self.first = moment
        if self.last is None or moment > self.last:
            self.last = moment

    def merge(self, other: Span) -> None:
        for moment in (other.first, other.last):
            if moment is not None:
                self.add(moment)

    def head_ends(self, window: float) -> float:
        """Until when an exchange may depend on one before this span (within `window`)."""
        return (self.first if self.first is not None else math.inf) + window + SLACK

    def tail_starts(self, window: float) -> float:
        """Before when nothing can matter to an exchange after this span, within `window`
        (two SLACKs: one for the later exchange, one for this span's own disorder)."""
        return (self.last if self.last is not None else -math.inf) - window - 2 * SLACK


# --- recall: per key, what the last exchange left ---------------------------------------


@dataclass(frozen=True, slots=True)
class RecallRule:
    """One concern judged against the last state of its key within `window` seconds.

    `hit(previous, kind)`: does an event of `kind` count, given the state the last event
    left (None: none within the window)? `after(kind)`: the state it leaves (None: it
    leaves the state as it was). A state depends only on the event that set it, which is
    what lets two maps merge exactly.
    """

    name: str
    window: float
    hit: Callable[[str | None, str], bool]
    after: Callable[[str], str | None]


@dataclass(slots=True)
class Deferred:
    """An event whose judgement waits for the state its key had before this map."""

    moment: float
    kind: str
    endpoint: str
    example: Example

    def to_json(self) -> list[Any]:
        return [self.moment, self.kind, self.endpoint, self.example.to_json()]

    @classmethod
    def from_json(cls, data: list[Any]) -> Deferred:
        moment, kind, endpoint, example = data
        return cls(float(moment), str(kind), str(endpoint), Example.from_json(example))


@dataclass(slots=True)
class Recall:
    """The hits of one RecallRule per endpoint, and its open edges."""

    rule: RecallRule
    hits: dict[str, Tally] = field(default_factory=dict)
    states: dict[str, tuple[float, str]] = field(default_factory=dict)
    deferred: dict[str, list[Deferred]] = field(default_factory=dict)

    def observe(
        self, key: str, moment: float, kind: str, endpoint: str, example: Example, span: Span
    ) -> None:
        """Judge one event (`span` already holds its moment)."""
        rule = self.rule
        state = self.states.get(key)
        if state is not None:
            self._judge(
                state[1] if moment - state[0] <= rule.window else None, kind, endpoint, example
            )
        elif moment <= span.head_ends(rule.window):
            # Nothing in this map set the key's state yet: what came before decides.
            self.deferred.setdefault(key, []).append(Deferred(moment, kind, endpoint, example))
        else:
            self._judge(None, kind, endpoint, example)
        after = rule.after(kind)
        if after is not None:
            self.states[key] = (moment, after)

    def _judge(self, previous: str | None, kind: str, endpoint: str, example: Example) -> None:
        if self.rule.hit(previous, kind):
            self.hits.setdefault(endpoint, Tally()).add(example)

    def settle(self, span: Span) -> None:
        """Forget states too old to matter; judge deferred events that nothing before this
        map can reach any more. Safe at any time, and the same whatever the history."""
        oldest = span.tail_starts(self.rule.window)
        for key in [k for k, (moment, _) in self.states.items() if moment < oldest]:
            del self.states[key]
        head_ends = span.head_ends(self.rule.window)
        for key in list(self.deferred):
            waiting = []
            for event in self.deferred[key]:
                if event.moment > head_ends:
                    self._judge(None, event.kind, event.endpoint, event.example)
                else:
                    waiting.append(event)
            if waiting:
                self.deferred[key] = waiting
            else:
                del self.deferred[key]

    def merge(self, later: Recall, offset: int, span: Span) -> None:
        """Add a map's recall that comes after this one (`offset`: this map's exchanges;
        `span`: both maps' span)."""
        merge_tallies(self.hits, later.hits, offset)
        for key, events in later.deferred.items():
            shifted = [
                Deferred(e.moment, e.kind, e.endpoint, e.example.shifted(offset)) for e in events
            ]
            state = self.states.get(key)
            if state is None:
                self.deferred.setdefault(key, []).extend(shifted)
            else:
                self._replay(shifted, state, self.hits)
        self.states.update(later.states)
        self.settle(span)

    def current_hits(self) -> dict[str, Tally]:
        """The hits so far: those judged, and the deferred events judged as if nothing came
        before this map (what a map that is not merged into another means)."""
        if not self.deferred:
            return self.hits
        current = {name: Tally(t.count, list(t.examples)) for name, t in self.hits.items()}
        for events in self.deferred.values():
            self._replay(events, None, current)
        return current

    def _replay(
        self, events: list[Deferred], state: tuple[float, str] | None, into: dict[str, Tally]
    ) -> None:
        """Judge one key's deferred events in order, from the state before them."""
        window = self.rule.window
        for event in events:
            previous = state[1] if state is not None and event.moment - state[0] <= window else None
            if self.rule.hit(previous, event.kind):
                into.setdefault(event.endpoint, Tally()).add(event.example)
            after = self.rule.after(event.kind)
            if after is not None:
                state = (event.moment, after)

    def to_json(self) -> dict[str, Any]:
        return {
            "hits": tallies_to_json(self.hits),
            "states": {key: list(self.states[key]) for key in sorted(self.states)},
            "deferred": {
                key: [event.to_json() for event in self.deferred[key]]
                for key in sorted(self.deferred)
            },
        }

    @classmethod
    def from_json(cls, rule: RecallRule, data: dict[str, Any]) -> Recall:
        return cls(
            rule,
            tallies_from_json(data["hits"]),
            {str(key): (float(value[0]), str(value[1])) for key, value in data["states"].items()},
            {
                str(key): [Deferred.from_json(event) for event in events]
                for key, events in data["deferred"].items()
            },
        )


# --- peaks: the busiest bucket of time ------------------------------------------------


def _earlier(one: Example | None, other: Example | None) -> Example | None:
    if one is None:
        return other
    if other is None:
        return one
    return one if one.at <= other.at else other


@dataclass(frozen=True, slots=True)
class Peak:
    """The busiest bucket of a group: its count, when it began (bucket times width), the
    item it counted (a PaymentIntent for updates per hour; "" when the group is one), and
    its first exchange when the group keeps examples."""

    count: int
    bucket: int
    item: str
    example: Example | None = None

    def beats(self, other: Peak | None) -> bool:
        """More, or as many earlier: a choice that does not depend on the order seen."""
        if other is None:
            return True
        return (-self.count, self.bucket, self.item) < (-other.count, other.bucket, other.item)

    def to_json(self) -> list[Any]:
        return [
            self.count,
            self.bucket,
            self.item,
            None if self.example is None else self.example.to_json(),
        ]

    @classmethod
    def from_json(cls, data: list[Any]) -> Peak:
        count, bucket, item, example = data
        return cls(
            int(count),
            int(bucket),
            str(item),
            None if example is None else Example.from_json(example),
        )


@dataclass(slots=True)
class Peaks:
    """The most events of each group in one bucket of `width` seconds.

    A bucket is counted until no exchange of this map or of a neighbouring one can fall
    in it; then only the peak it may set is kept.
    """

    width: float
    peaks: dict[str, Peak] = field(default_factory=dict)
    open: dict[tuple[str, str, int], Peak] = field(default_factory=dict)

    def observe(self, group: str, item: str, moment: float, example: Example | None = None) -> None:
        key = (group, item, math.floor(moment / self.width))
        counted = self.open.get(key)
        if counted is None:
            self.open[key] = Peak(1, key[2], item, example)
        else:
            self.open[key] = Peak(
                counted.count + 1, key[2], item, _earlier(counted.example, example)
            )

    def _close(self, group: str, candidate: Peak) -> None:
        if candidate.beats(self.peaks.get(group)):
            self.peaks[group] = candidate

    def settle(self, span: Span) -> None:
        if span.first is None or span.last is None:
            return
        first, last = span.first + SLACK, span.last - SLACK
        width = self.width
        for key in [k for k in self.open if k[2] * width > first and (k[2] + 1) * width <= last]:
            self._close(key[0], self.open.pop(key))

    def merge(self, later: Peaks, offset: int, span: Span) -> None:
        for group, peak in later.peaks.items():
            self._close(group, _shifted(peak, offset))
        for key, counted in later.open.items():
            mine = self.open.get(key)
            counted = _shifted(counted, offset)
            if mine is None:
                self.open[key] = counted
            else:
                self.open[key] = Peak(
                    mine.count + counted.count,
                    mine.bucket,
                    mine.item,
                    _earlier(mine.example, counted.example),
                )
        self.settle(span)

    def peak(self, group: str) -> Peak | None:
        """The busiest bucket of `group` so far, open ones included."""
        best = self.peaks.get(group)
        for (name, _, _), counted in self.open.items():
            if name == group and counted.beats(best):
                best = counted
        return best

    def groups(self) -> set[str]:
        return set(self.peaks) | {group for group, _, _ in self.open}

    def to_json(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "peaks": {group: peak.to_json() for group, peak in sorted(self.peaks.items())},
            "open": [[group, peak.to_json()] for (group, _, _), peak in sorted(self.open.items())],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Peaks:
        opened = {}
        for group, value in data["open"]:
            peak = Peak.from_json(value)
            opened[(str(group), peak.item, peak.bucket)] = peak
        return cls(
            float(data["width"]),
            {str(group): Peak.from_json(value) for group, value in data["peaks"].items()},
            opened,
        )


def _shifted(peak: Peak, offset: int) -> Peak:
    if peak.example is None or not offset:
        return peak
    return Peak(peak.count, peak.bucket, peak.item, peak.example.shifted(offset))
