"""The ordering a plan puts between journeys, enforced while replaying (docs/replay.md).

Journeys are independent except for the orderings of harness.replay.plan:

* an id-less read waits for the earlier exchanges that change what it shows (writes, and
  reads with a side effect), and such an exchange waits for the earlier id-less reads
  that show what it changes (harness.stripe.WRITE_EFFECTS says which);
* around a page of a longer list, the writes that made objects of its collection are
  fenced: every one after a fence waits for every one before it; when some item of the
  page was made by no write of the recording, every earlier write the read can see runs
  in recorded order;
* a request that uses an id waits for the exchange whose answer first listed it, when
  that exchange is in another journey (an id-less read, or the journey a cursor pages
  from);
* a reference to a catalogue object waits for the earlier exchanges acting on it, and an
  action on one for the earlier references.

Every wait points at earlier exchanges, so waits can never form a cycle.
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
from harness.stripe import ALL_RESOURCES

_END = sys.maxsize
_tiebreak = itertools.count()

# What of a plan's orderings concerns an exchange (GateLayout.flags): some ordering at
# all, a catalogue object it refers to or acts on, lists it waits for (Plan.after).
INVOLVED, CATALOGUED, AFTER = 1, 2, 4

Key = tuple[str, int | str]
"""A frontier's name: ("w", collection) the exchanges that change it, ("r", collection)
the id-less reads that show it, ("m", collection) the writes that made an object of a
fenced collection, ("cr"/"ca", catalogue index) the references to and actions on a
catalogue object."""


def _index_of(positions: array[int], position: int) -> int | None:
    """Where `position` is in the sorted `positions`, or None when it is not there."""
    index = bisect_left(positions, position)
    return index if index < len(positions) and positions[index] == position else None


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
        index = _index_of(self.positions, position)
        if index is None:
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


class Marks:
    """Single exchanges others wait for by name (the lists whose answers taught an id):
    which are done, and who waits for which."""

    __slots__ = ("_done", "_waiters", "positions")

    def __init__(self, positions: array[int]) -> None:
        self.positions = positions  # sorted, shared between targets: read only
        self._done = bytearray(len(positions))
        self._waiters: dict[int, list[asyncio.Future[None]]] = {}

    def done(self, position: int) -> bool:
        index = _index_of(self.positions, position)
        return index is None or bool(self._done[index])

    def mark(self, position: int) -> None:
        index = _index_of(self.positions, position)
        if index is None:
            return
        self._done[index] = 1
        for future in self._waiters.pop(position, ()):
            if not future.done():
                future.set_result(None)

    async def reach(self, position: int) -> None:
        if self.done(position):
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(position, []).append(future)
        await future


class GateLayout:
    """Which exchanges of a plan wait for which others: the positions of each frontier
    (32-bit, in recorded order) and, per kind of access, the frontiers it waits for and
    belongs to. Computed once per plan and shared by every target replaying it; each
    target's Gates keeps only what it has done (a byte a position)."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        shown: set[str] = set()  # collections some id-less read shows
        for position, role in enumerate(plan.roles):
            if role & READ_BARRIER:
                shown.update(plan.access(position).reads)
        # Per access: the write frontiers it belongs to (collections it changes that a
        # read shows) and the read frontiers it belongs to (collections it shows).
        self.changes: list[tuple[str, ...]] = []
        self.shows: list[tuple[str, ...]] = []
        for access in plan.accesses:
            effect = access.effect
            if effect is None:
                self.changes.append(())
            else:
                self.changes.append(
                    tuple(
                        sorted(
                            c for c in shown if c == ALL_RESOURCES or effect.touches(frozenset({c}))
                        )
                    )
                )
            self.shows.append(tuple(sorted(access.reads)))
        lists: dict[Key, array[int]] = {}  # 32-bit: 4 bytes a position

        def add(key: Key, position: int) -> None:
            found = lists.get(key)
            if found is None:
                found = lists[key] = array("I")
            found.append(position)

        for position, role in enumerate(plan.roles):
            index = plan.access_index[position]
            if role & WRITE:
                for collection in self.changes[index]:
                    add(("w", collection), position)
            if role & READ_BARRIER:
                for collection in self.shows[index]:
                    add(("r", collection), position)
        for collection, makers in plan.makers.items():
            lists[("m", collection)] = makers
        for position, catalogue in sorted(plan.refers.items()):
            for c in catalogue:
                add(("cr", c), position)
        for position, catalogue in sorted(plan.acts.items()):
            for c in catalogue:
                add(("ca", c), position)
        producers = sorted({p for waited in plan.after.values() for p in waited})
        self.listed = array("I", producers)
        self.positions: dict[Key, array[int]] = lists
        # Per position, what of the orderings concerns it (INVOLVED, CATALOGUED, AFTER
        # bits): most exchanges are concerned by none, and the gates let them by without
        # a look; the others skip the searches that would find nothing. Every exchange
        # that waits at a frontier belongs to one (it changes, shows, makes, refers to or
        # acts on what the frontier is about), so the frontiers' positions, the listed
        # producers and the exchanges waiting for them are all that are involved.
        self.flags = bytearray(plan.exchanges)
        flags = self.flags
        for frontier in (*lists.values(), self.listed):
            for position in frontier:
                flags[position] |= INVOLVED
        for position in plan.after:
            flags[position] |= INVOLVED | AFTER
        for by_catalogue in (plan.refers, plan.acts):
            for position in by_catalogue:
                flags[position] |= INVOLVED | CATALOGUED

    def waits(self, position: int) -> Iterable[tuple[Key, int]]:
        """(frontier, bound) pairs: the exchange at `position` may go once every exchange
        of each frontier before its bound has completed."""
        plan = self.plan
        role = plan.roles[position]
        index = plan.access_index[position]
        if role & WRITE:
            for collection in self.changes[index]:
                yield ("r", collection), position
                if position < plan.chained.get(collection, 0):
                    yield ("w", collection), position
            for collection, fences in plan.fences.items():
                bound = fences.bound(position)
                if bound is not None and _index_of(plan.makers[collection], position) is not None:
                    yield ("m", collection), bound
        if role & READ_BARRIER:
            for collection in self.shows[index]:
                yield ("w", collection), position
        if self.flags[position] & CATALOGUED:
            for c in plan.refers.get(position, ()):
                yield ("ca", c), position
            for c in plan.acts.get(position, ()):
                yield ("cr", c), position

    def memberships(self, position: int) -> Iterable[Key]:
        plan = self.plan
        role = plan.roles[position]
        index = plan.access_index[position]
        if role & WRITE:
            for collection in self.changes[index]:
                yield ("w", collection)
            for collection, makers in plan.makers.items():
                if _index_of(makers, position) is not None:
                    yield ("m", collection)
        if role & READ_BARRIER:
            for collection in self.shows[index]:
                yield ("r", collection)
        if self.flags[position] & CATALOGUED:
            for c in plan.refers.get(position, ()):
                yield ("cr", c)
            for c in plan.acts.get(position, ()):
                yield ("ca", c)

    def critical_path(self) -> int:
        """The longest chain of exchanges each of which waits for the one before (in its
        journey, or by an ordering above): with every exchange taking the same time and
        no limit on concurrency, a replay takes this many steps."""
        plan = self.plan
        depth = array("I", bytes(4 * plan.exchanges))
        last: dict[int, int] = {}  # journey -> its latest position so far
        # Per frontier, the deepest member so far, aligned with its positions.
        deepest: dict[Key, array[int]] = {key: array("I") for key in self.positions}
        for position in range(plan.exchanges):
            journey = plan.journey_of[position]
            before = depth[last[journey]] if journey in last else 0
            for key, bound in self.waits(position):
                members = self.positions.get(key)
                if members is None:
                    continue
                count = bisect_left(members, bound)
                if count:
                    before = max(before, deepest[key][count - 1])
            for producer in plan.after.get(position, ()):
                before = max(before, depth[producer])
            depth[position] = before + 1
            last[journey] = position
            for key in self.memberships(position):
                running = deepest[key]
                running.append(max(running[-1], before + 1) if running else before + 1)
        return max(depth) if plan.exchanges else 0


class Gates:
    """All frontiers of one plan for one target."""

    def __init__(self, layout: GateLayout | Plan) -> None:
        if not isinstance(layout, GateLayout):
            layout = GateLayout(layout)
        self._layout = layout
        self._after = layout.plan.after
        self._frontiers = {key: Frontier(positions) for key, positions in layout.positions.items()}
        self._listed = Marks(layout.listed)
        self._flags = layout.flags

    def _waits(self, position: int) -> Iterable[tuple[Frontier, int]]:
        for key, bound in self._layout.waits(position):
            frontier = self._frontiers.get(key)
            if frontier is not None:
                yield frontier, bound

    def ready(self, position: int) -> bool:
        """True when nothing this exchange waits for is still to be done."""
        flags = self._flags[position]
        if not flags & INVOLVED:
            return True
        frontiers = self._frontiers
        for key, bound in self._layout.waits(position):
            frontier = frontiers.get(key)
            if frontier is not None and not frontier.passed(bound):
                return False
        return not flags & AFTER or all(self._listed.done(p) for p in self._after.get(position, ()))

    async def wait(self, position: int) -> None:
        for frontier, bound in self._waits(position):
            await frontier.reach(bound)
        for producer in self._after.get(position, ()):
            await self._listed.reach(producer)

    def done(self, position: int) -> None:
        if not self._flags[position] & INVOLVED:
            return
        for key in self._layout.memberships(position):
            frontier = self._frontiers.get(key)
            if frontier is not None:
                frontier.mark(position)
        self._listed.mark(position)
