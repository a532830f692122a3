"""Groups of exchanges that were recorded apart: the cassettes of an imported test suite.

`shadow import` writes where each exchange came from (`origin.file`). Each test recorded
its own cassette, so ids that several cassettes merely use (a fixture customer, the
connected account every Connect test acts for) say nothing about the tests depending on
each other; joined on, they would put a whole suite into one journey. The planner asks
GroupScopes for the ids an exchange joins on, and gets:

* an id that an answer named before any request used it (an object the recording made
  or came across): the id itself, so a cassette that uses it later joins the one that
  named it (one test used what another made);
* an id a request used before any answer named it (a fixture: a customer made by hand,
  the connected account every Connect test acts for): the id qualified by the cassette,
  so it joins the exchanges of that cassette only;
* an id a cassette learnt from a list it read itself, when another cassette named it:
  qualified too. A teardown that lists everything and deletes what it finds must not
  join every test into one journey.

Exchanges with no origin (a recording made by `shadow record`) are left as they are.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

from harness.formats.untrusted import response_json
from harness.model import Exchange


class JoiningFootprint(Protocol):
    """What GroupScopes reads of a planner's footprint (harness.replay.plan.Footprint)."""

    @property
    def joins(self) -> tuple[str, ...]: ...
    @property
    def uses(self) -> tuple[str, ...]: ...
    @property
    def write(self) -> bool: ...


def origin_group(exchange: Exchange) -> str | None:
    """The file an imported exchange came from, or None."""
    origin = exchange.extra.get("origin")
    if isinstance(origin, dict) and isinstance(origin.get("file"), str):
        return origin["file"]
    return None


def _listed_ids(body: Any) -> list[str]:
    """The ids of a list answer's items."""
    if not isinstance(body, dict) or body.get("object") != "list":
        return []
    data = body.get("data")
    if not isinstance(data, list):
        return []
    return [i["id"] for i in data if isinstance(i, dict) and isinstance(i.get("id"), str)]


class GroupScopes:
    """Turns the ids an exchange joins on into the keys the planner unites, group by
    group (see the module docstring). Fed every exchange in recorded order."""

    def __init__(self) -> None:
        self._numbers: dict[str, int] = {}
        self._seen: set[str] = set()  # every id used or named so far
        self._fixtures: set[str] = set()  # ids a request used before any answer named them
        self._named_by: dict[str, int] = {}  # id → the group whose answer named it first
        self._learnt: dict[int, set[str]] = {}  # group → ids its own list answers named

    def scoped(self, footprint: JoiningFootprint, exchange: Exchange) -> Any:
        name = origin_group(exchange)
        if name is None:
            return footprint
        group = self._numbers.setdefault(name, len(self._numbers))
        learnt = self._learnt.setdefault(group, set())
        used = set(footprint.uses)
        keys: list[str] = []
        for value in footprint.joins:
            if value not in self._seen:
                self._seen.add(value)
                if value in used:
                    self._fixtures.add(value)
                else:
                    self._named_by[value] = group
            own = value not in self._fixtures and (
                value not in learnt or self._named_by.get(value) == group
            )
            keys.append(value if own else qualified(value, group))
        if not footprint.joins and not footprint.write:
            learnt.update(_listed_ids(response_json(exchange.response)))
        return dataclasses.replace(footprint, joins=tuple(keys))  # type: ignore[type-var]


def qualified(value: str, group: int) -> str:
    """`value` as a key of one group only. The suffix uses the id's own alphabet, so the
    planner still tells a Stripe id from a catalogue id (a user-chosen plan id) by it."""
    return f"{value}0group{group}"
