"""Evidence the map keeps: an example exchange, and a tally (how many, and the first few
examples). Both merge: a tally of two maps is their counts added and the first examples
of both, by place in the stream, so it does not depend on the order maps are merged in.

An exchange's place (`at`) counts the exchanges of every recording the map has read, in
order, from 0; the map's `sources` say which recording holds it, and `seq` where.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

# Examples a tally keeps.
MAX_EXAMPLES = 3
# Characters of a request line an example keeps.
MAX_REQUEST = 300


@dataclass(frozen=True, slots=True)
class Example:
    """One exchange, as evidence: where it is, when, what was asked, what came back."""

    at: int
    seq: int
    time: float | None
    request: str  # `POST /v1/customers` or `GET /v1/charges?customer=cus_…`
    status: int | None  # None: no answer came

    def shifted(self, offset: int) -> Example:
        return replace(self, at=self.at + offset) if offset else self

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "seq": self.seq,
            "time": self.time,
            "request": self.request,
            "status": self.status,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Example:
        return cls(
            at=int(data["at"]),
            seq=int(data["seq"]),
            time=None if data.get("time") is None else float(data["time"]),
            request=str(data["request"]),
            status=None if data.get("status") is None else int(data["status"]),
        )


def request_line(method: str, path: str, query: str) -> str:
    """The request as an example shows it, cut to MAX_REQUEST characters."""
    line = f"{method} {path}{'?' + query if query else ''}"
    return line if len(line) <= MAX_REQUEST else line[: MAX_REQUEST - 1] + "…"


@dataclass(slots=True)
class Tally:
    """How many exchanges showed something, and the first MAX_EXAMPLES of them."""

    count: int = 0
    examples: list[Example] = field(default_factory=list)

    def add(self, example: Example, count: int = 1) -> None:
        self.count += count
        self._keep(example)

    def _keep(self, example: Example) -> None:
        examples = self.examples
        if len(examples) >= MAX_EXAMPLES and example.at >= examples[-1].at:
            return
        examples.append(example)
        examples.sort(key=lambda e: e.at)
        del examples[MAX_EXAMPLES:]

    def merge(self, other: Tally, offset: int = 0) -> None:
        self.count += other.count
        for example in other.examples:
            self._keep(example.shifted(offset))

    @property
    def first(self) -> Example | None:
        return self.examples[0] if self.examples else None

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "examples": [e.to_json() for e in self.examples]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tally:
        return cls(int(data["count"]), [Example.from_json(e) for e in data["examples"]])


def tallies_to_json(tallies: dict[str, Tally]) -> dict[str, Any]:
    return {name: tallies[name].to_json() for name in sorted(tallies)}


def tallies_from_json(data: dict[str, Any]) -> dict[str, Tally]:
    return {str(name): Tally.from_json(value) for name, value in data.items()}


def merge_tallies(into: dict[str, Tally], other: dict[str, Tally], offset: int) -> None:
    for name, tally in other.items():
        into.setdefault(name, Tally()).merge(tally, offset)
