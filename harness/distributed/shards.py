"""Which shard replays which journey, and which finished exchanges a shard must tell the
others about: pure functions of a plan (docs/distributed.md).

Journeys are independent but for the orderings of harness.replay.plan, each of which
makes an exchange wait for earlier ones. When an exchange waits for one in another
shard, that shard reports it done (with the ids its answer taught) through the
coordinator; `routes` says which exchanges those are and who waits for them, so nothing
else crosses the cluster.
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_left

from harness.replay.gates import GateLayout, Key
from harness.replay.plan import Plan


def assign_journeys(sizes: array[int] | list[int], shards: int) -> array[int]:
    """journey → shard, balancing exchanges: the largest journey first, each to the shard
    with the fewest exchanges so far (ties: the lower shard). Deterministic."""
    if shards < 1:
        raise ValueError("at least one shard")
    owner = array("i", bytes(4 * len(sizes)))
    loads = [(0, shard) for shard in range(shards)]
    order = sorted(range(len(sizes)), key=lambda journey: (-sizes[journey], journey))
    for journey in order:
        load, shard = heapq.heappop(loads)
        owner[journey] = shard
        heapq.heappush(loads, (load + sizes[journey], shard))
    return owner


def shard_loads(plan: Plan, owner: array[int], shards: int) -> list[int]:
    """Exchanges per shard."""
    loads = [0] * shards
    for journey, size in enumerate(plan.sizes):
        loads[owner[journey]] += size
    return loads


def positions_of(plan: Plan, owner: array[int], shard: int) -> bytearray:
    """Per position of the plan, 1 when `shard` replays it."""
    return bytearray(1 if owner[j] == shard else 0 for j in plan.journey_of)


def routes(plan: Plan, layout: GateLayout, owner: array[int]) -> dict[int, tuple[int, ...]]:
    """position → the other shards that wait for it, for every exchange some exchange of
    another shard waits for (a frontier it belongs to, up to the waiter's bound, or a list
    whose answer named an id the waiter uses)."""
    journey_of = plan.journey_of
    # Per frontier and shard: the highest bound any exchange of that shard waits up to.
    reach: dict[Key, dict[int, int]] = {}
    needed: dict[int, set[int]] = {}
    for position in range(plan.exchanges):
        shard = owner[journey_of[position]]
        for key, bound in layout.waits(position):
            if key not in layout.positions:
                continue
            by_shard = reach.setdefault(key, {})
            if by_shard.get(shard, -1) < bound:
                by_shard[shard] = bound
        for producer in plan.after.get(position, ()):
            if owner[journey_of[producer]] != shard:
                needed.setdefault(producer, set()).add(shard)
    for key, by_shard in reach.items():
        members = layout.positions[key]
        for shard, bound in by_shard.items():
            for index in range(bisect_left(members, bound)):
                member = members[index]
                if owner[journey_of[member]] != shard:
                    needed.setdefault(member, set()).add(shard)
    return {position: tuple(sorted(shards)) for position, shards in sorted(needed.items())}
