"""Flows: the common shapes of what an integration does for one customer (or one object)
in one sitting, as sequences of endpoint templates:

    POST /v1/customers → POST /v1/payment_methods/{payment_method}/attach → POST /v1/subscriptions

Each exchange belongs to the flow of its key (the customer it concerns, else its main
object: observe.flow_key); a flow goes on while its key's exchanges follow each other
within IDLE seconds. A step repeated at once is written once, marked `(repeated)`; a flow keeps
its first MAX_STEPS steps and says when it went on.

Only what a key's previous exchange left decides where an exchange goes, so flows merge
exactly across recordings (harness/map/windows.py): a map keeps the flows still open at
its end, and those of its first IDLE seconds, which may go on a flow of the recording
before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.map.windows import SLACK, Span

# A flow ends when its key has been quiet this long (seconds).
IDLE = 300.0
# Steps a flow's shape keeps.
MAX_STEPS = 8
ARROW = " → "
REPEATED = " (repeated)"
MORE = "…"


@dataclass(slots=True)
class Step:
    """One step of a flow: an endpoint template, whether it came again at once, and the
    exchange that began it."""

    endpoint: str
    repeated: bool
    at: int
    seq: int

    def to_json(self) -> list[Any]:
        return [self.endpoint, self.repeated, self.at, self.seq]

    @classmethod
    def from_json(cls, data: list[Any]) -> Step:
        endpoint, repeated, at, seq = data
        return cls(str(endpoint), bool(repeated), int(at), int(seq))


@dataclass(slots=True)
class Flow:
    """One key's exchanges in one sitting, as steps."""

    key: str
    first: float
    last: float
    steps: list[Step] = field(default_factory=list)
    more: bool = False  # steps beyond MAX_STEPS were left out
    head: bool = False  # may go on a flow of the map before this one

    def append(self, step: Step) -> None:
        if self.more:
            return
        if self.steps and self.steps[-1].endpoint == step.endpoint:
            self.steps[-1].repeated = True
            return
        if len(self.steps) >= MAX_STEPS:
            self.more = True
            return
        self.steps.append(Step(step.endpoint, step.repeated, step.at, step.seq))

    def join(self, later: Flow) -> None:
        """Go on with a flow of the same key that followed within IDLE."""
        for step in later.steps:
            self.append(step)
        self.more = self.more or later.more
        self.last = max(self.last, later.last)

    @property
    def shape(self) -> str:
        return shape_of(self.steps, self.more)

    def shifted(self, offset: int) -> Flow:
        steps = [Step(s.endpoint, s.repeated, s.at + offset, s.seq) for s in self.steps]
        return Flow(self.key, self.first, self.last, steps, self.more, self.head)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "first": self.first,
            "last": self.last,
            "steps": [s.to_json() for s in self.steps],
            "more": self.more,
            "head": self.head,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Flow:
        return cls(
            str(data["key"]),
            float(data["first"]),
            float(data["last"]),
            [Step.from_json(s) for s in data["steps"]],
            bool(data["more"]),
            bool(data["head"]),
        )


def shape_of(steps: list[Step], more: bool) -> str:
    """`POST /v1/customers → GET /v1/customers/{customer} (repeated) → …`"""
    names = [s.endpoint + (REPEATED if s.repeated else "") for s in steps]
    return ARROW.join([*names, MORE] if more else names)


@dataclass(slots=True)
class Shape:
    """How often a shape of flow occurred, and the first flow that had it."""

    count: int
    example: Flow

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "example": self.example.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Shape:
        return cls(int(data["count"]), Flow.from_json(data["example"]))


@dataclass(slots=True)
class Flows:
    """Counted shapes, and the flows still open at either edge of the map."""

    shapes: dict[str, Shape] = field(default_factory=dict)
    open: dict[str, Flow] = field(default_factory=dict)
    closed_head: list[Flow] = field(default_factory=list)  # ended, but may go on an earlier one
    seen: dict[str, float] = field(default_factory=dict)  # key → its latest exchange

    def observe(self, key: str, moment: float, step: Step, span: Span) -> None:
        """Add one exchange (`span` already holds its moment)."""
        flow = self.open.get(key)
        if flow is not None and moment - flow.last <= IDLE:
            flow.append(step)
            flow.last = max(flow.last, moment)
        else:
            if flow is not None:
                self._close(flow)
            head = key not in self.seen and moment <= span.head_ends(IDLE)
            flow = Flow(key, moment, moment, head=head)
            flow.append(step)
            self.open[key] = flow
        self.seen[key] = max(self.seen.get(key, moment), moment)

    def _close(self, flow: Flow) -> None:
        if flow.head:
            self.closed_head.append(flow)
        else:
            self._count(flow)

    def _count(self, flow: Flow) -> None:
        shape = flow.shape
        counted = self.shapes.get(shape)
        if counted is None:
            self.shapes[shape] = Shape(1, flow)
            return
        counted.count += 1
        if flow.steps[0].at < counted.example.steps[0].at:
            counted.example = flow

    def current_shapes(self) -> dict[str, Shape]:
        """The shapes so far: those counted, and the flows still open or waiting at the
        edges as they stand (what a map that is not merged into another means)."""
        pending = [*self.open.values(), *self.closed_head]
        if not pending:
            return self.shapes
        current = {shape: Shape(s.count, s.example) for shape, s in self.shapes.items()}
        for flow in pending:
            counted = current.get(flow.shape)
            if counted is None:
                current[flow.shape] = Shape(1, flow)
                continue
            counted.count += 1
            if flow.steps[0].at < counted.example.steps[0].at:
                counted.example = flow
        return current

    def settle(self, span: Span) -> None:
        """End the flows no later exchange can go on; count those no earlier one could
        have begun. Safe at any time, and the same whatever the history."""
        if span.last is None:
            return
        for key in [k for k, f in self.open.items() if span.last - f.last > IDLE + SLACK]:
            self._close(self.open.pop(key))
        head_ends = span.head_ends(IDLE)
        for flow in self.open.values():
            if flow.head and flow.first > head_ends:
                flow.head = False
        waiting = []
        for flow in self.closed_head:
            if flow.first > head_ends:
                flow.head = False
                self._count(flow)
            else:
                waiting.append(flow)
        self.closed_head = waiting
        oldest = span.tail_starts(IDLE)
        for key in [k for k, moment in self.seen.items() if moment < oldest]:
            del self.seen[key]

    def merge(self, later: Flows, offset: int, span: Span) -> None:
        """Add the flows of a map that comes after this one (`offset`: this map's
        exchanges; `span`: both maps' span)."""
        for shape, counted in later.shapes.items():
            example = counted.example.shifted(offset)
            mine = self.shapes.get(shape)
            if mine is None:
                self.shapes[shape] = Shape(counted.count, example)
            else:
                mine.count += counted.count
                if example.steps[0].at < mine.example.steps[0].at:
                    mine.example = example
        # The later map's first flow of a key may go on this map's last one.
        heads = [(f.shifted(offset), False) for f in later.closed_head] + [
            (f.shifted(offset), True) for f in later.open.values() if f.head
        ]
        opened: dict[str, Flow] = {}
        for flow, goes_on in heads:
            earlier = self.open.pop(flow.key, None)
            if earlier is not None and flow.first - earlier.last <= IDLE:
                earlier.join(flow)
                joined = earlier
            else:
                if earlier is not None:
                    self._close(earlier)  # a later flow of its key began
                if earlier is not None or flow.key in self.seen:
                    flow.head = False
                joined = flow
            if goes_on:
                opened[flow.key] = joined
            else:
                self._close(joined)
        for key, flow in later.open.items():
            if key in opened or flow.head:
                continue
            earlier = self.open.pop(key, None)
            if earlier is not None:
                self._close(earlier)
            opened[key] = flow.shifted(offset)
        self.open.update(opened)
        for key, moment in later.seen.items():
            self.seen[key] = max(self.seen.get(key, moment), moment)
        self.settle(span)

    def to_json(self) -> dict[str, Any]:
        return {
            "shapes": {shape: self.shapes[shape].to_json() for shape in sorted(self.shapes)},
            "open": [self.open[key].to_json() for key in sorted(self.open)],
            "closed_head": [
                f.to_json() for f in sorted(self.closed_head, key=lambda f: f.steps[0].at)
            ],
            "seen": {key: self.seen[key] for key in sorted(self.seen)},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Flows:
        opened = [Flow.from_json(f) for f in data["open"]]
        return cls(
            {str(shape): Shape.from_json(value) for shape, value in data["shapes"].items()},
            {flow.key: flow for flow in opened},
            [Flow.from_json(f) for f in data["closed_head"]],
            {str(key): float(moment) for key, moment in data["seen"].items()},
        )
