"""The ordering a plan puts between journeys, enforced while replaying (docs/replay.md).

Journeys are independent except for the barriers of harness.replay.plan: an id-less read
waits for the earlier writes it can see, a write for the earlier id-less reads that can
see it, a reference to a catalogue object for the earlier exchanges acting on it, and an
action on one for the earlier references. Every wait points at earlier exchanges, so
waits can never form a cycle.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterable

from harness.replay.plan import READ_BARRIER, WRITE, Plan
from harness.stripe import ALL_RESOURCES, read_depends_on

_END = sys.maxsize
_tiebreak = itertools.count()


class Frontier:
    """Positions of one kind of exchange, in recorded order, and how far they are done:
    `passed(p)` is true once every one of them before position p has completed."""

    __slots__ = ("_done", "_next", "_waiters", "positions")

    def __init__(self, positions: array[int]) -> None:
        self.positions = positions  # shared with the other targets' frontiers: read only
        self._done = bytearray(len(positions))
        self._next = 0
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []

    def head(self) -> int:
        """The position of the first one not done yet."""
        return self.positions[self._next] if self._next < len(self.positions) else _END

    def passed(self, position: int) -> bool:
        return self.head() >= position

    def mark(self, position: int) -> None:
        index = bisect_left(self.positions, position)
        if index == len(self.positions) or self.positions[index] != position:
            return
        self._done[index] = 1
        while self._next < len(self.positions) and self._done[self._next]:
            self._next += 1
        head = self.head()
        while self._waiters and self._waiters[0][0] <= head:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)

    async def reach(self, position: int) -> None:
        if self.passed(position):
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (position, next(_tiebreak), future))
        await future


class GateLayout:
    """Which exchanges of a plan wait for which others: the positions of each frontier
    (32-bit, in recorded order). Computed once per plan and shared by every target
    replaying it; each target's Gates keeps only what it has done (a byte a position)."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        read_resources = {
            plan.resource_index[p] for p, role in enumerate(plan.roles) if role == READ_BARRIER
        }
        names = plan.resources
        depends = {r: read_depends_on(names[r]) for r in read_resources}
        seen_by_all = any(ALL_RESOURCES in d for d in depends.values())
        watched = {i for i, name in enumerate(names) if any(name in d for d in depends.values())}
        # For each collection: the barrier reads its writes wait for, and the reverse.
        self.write_waits: dict[int, list[tuple[str, int]]] = {}
        self.read_waits: dict[int, list[tuple[str, int]]] = {}
        for index, name in enumerate(names):
            self.write_waits[index] = [
                ("r", r) for r in read_resources if {name, ALL_RESOURCES} & depends[r]
            ]
        for r in read_resources:
            if ALL_RESOURCES in depends[r]:
                self.read_waits[r] = [("w", -1)]
            else:
                self.read_waits[r] = [
                    ("w", i) for i, name in enumerate(names) if name in depends[r]
                ]
        lists: dict[tuple[str, int], array[int]] = {}  # 32-bit: 4 bytes a position

        def add(key: tuple[str, int], position: int) -> None:
            found = lists.get(key)
            if found is None:
                found = lists[key] = array("I")
            found.append(position)

        for position, role in enumerate(plan.roles):
            resource = plan.resource_index[position]
            if role == WRITE:
                if resource in watched:
                    add(("w", resource), position)
                if seen_by_all:
                    add(("w", -1), position)
            elif role == READ_BARRIER:
                add(("r", resource), position)
        for position, catalogue in sorted(plan.refers.items()):
            for c in catalogue:
                add(("cr", c), position)
        for position, catalogue in sorted(plan.acts.items()):
            for c in catalogue:
                add(("ca", c), position)
        self.positions: dict[tuple[str, int], array[int]] = lists


class Gates:
    """All frontiers of one plan for one target."""

    def __init__(self, layout: GateLayout | Plan) -> None:
        if not isinstance(layout, GateLayout):
            layout = GateLayout(layout)
        self._plan = layout.plan
        self._write_waits = layout.write_waits
        self._read_waits = layout.read_waits
        self._frontiers = {key: Frontier(positions) for key, positions in layout.positions.items()}

    def _waits(self, position: int) -> Iterable[Frontier]:
        plan = self._plan
        role = plan.roles[position]
        keys: list[tuple[str, int]] = []
        if role == WRITE:
            keys.extend(self._write_waits.get(plan.resource_index[position], ()))
        elif role == READ_BARRIER:
            keys.extend(self._read_waits.get(plan.resource_index[position], ()))
        keys.extend(("ca", c) for c in plan.refers.get(position, ()))
        keys.extend(("cr", c) for c in plan.acts.get(position, ()))
        for key in keys:
            frontier = self._frontiers.get(key)
            if frontier is not None:
                yield frontier

    def _memberships(self, position: int) -> Iterable[Frontier]:
        plan = self._plan
        role = plan.roles[position]
        keys: list[tuple[str, int]] = []
        if role == WRITE:
            keys.extend((("w", plan.resource_index[position]), ("w", -1)))
        elif role == READ_BARRIER:
            keys.append(("r", plan.resource_index[position]))
        keys.extend(("cr", c) for c in plan.refers.get(position, ()))
        keys.extend(("ca", c) for c in plan.acts.get(position, ()))
        for key in keys:
            frontier = self._frontiers.get(key)
            if frontier is not None:
                yield frontier

    def ready(self, position: int) -> bool:
        """True when nothing this exchange waits for is still to be done."""
        return all(f.passed(position) for f in self._waits(position))

    async def wait(self, position: int) -> None:
        for frontier in self._waits(position):
            await frontier.reach(position)

    def done(self, position: int) -> None:
        for frontier in self._memberships(position):
            frontier.mark(position)
