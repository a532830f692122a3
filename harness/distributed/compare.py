"""`shadow compare --cluster`: each pair of sides compared in shards of journeys on a Dask
cluster, the raw outcomes merged in seq order and classified, counted and written by
the one pipeline (harness.compare.pipeline), so the outcomes and the summary are those
of a comparison in one process, exactly (docs/distributed.md).

The one thing a shard cannot know alone is the side's time map: the request that first
named an object, or first showed a time, may be in another shard (two customers made in
the same second show the same `created`). So each pair is compared in two rounds: every
shard normalises its exchanges and notes, for each object and time it meets, the seq and
window of the first of its exchanges that did (`FirstTouches`); the coordinator keeps
the earliest over all shards; then every shard compares with its time maps preloaded
with those (harness.compare.timemap.TimeMap.preload). An exchange only looks up the
objects and times it shows itself, and the earliest exchange to show one is never after
it, so each lookup answers what it answers in one process. The first round costs a
normalisation of every exchange more: the price of exactness, measured in bench/.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.compare.correspondence import PairProjection, apply_blueprint
from harness.compare.pipeline import (
    RawOutcome,
    Side,
    compare_items,
    compare_run,
    compare_sides,
    load_side,
    profile_for,
    scenario_section,
)
from harness.compare.profile import Profile
from harness.compare.rules import resolve_config
from harness.compare.timemap import TimeMap
from harness.distributed.shards import assign_journeys
from harness.formats.rundir import load_run
from harness.replay.plan import plan_apart

if TYPE_CHECKING:
    from distributed import Client

# Per side: (object id → (seq, packed request), time → (seq, packed request), time sent →
# seq), as FirstTouches notes them and the coordinator merges them.
Firsts = tuple[dict[str, tuple[int, int]], dict[float, tuple[int, int]], dict[int, int]]


class FirstTouches(TimeMap):
    """A time map that also notes, for each object and time, the seq of the exchange that
    met it first."""

    __slots__ = ("born_at", "shown_at")

    def __init__(self, origin: float | None = None) -> None:
        super().__init__(origin)
        self.born_at: dict[str, tuple[int, int]] = {}
        self.shown_at: dict[float, tuple[int, int]] = {}

    def name(self, object_id: str, request: int) -> int:
        if object_id not in self.born_at:
            self.born_at[object_id] = (self.seq, request)
        return super().name(object_id, request)

    def first_shown(self, value: int | float, request: int) -> tuple[float, float]:
        if value not in self.shown_at:
            self.shown_at[value] = (self.seq, request)
        return super().first_shown(value, request)

    def firsts(self) -> Firsts:
        return self.born_at, self.shown_at, self.sent_firsts()


def merge_firsts(found: list[Firsts]) -> tuple[dict[str, int], dict[float, int], dict[int, int]]:
    """The earliest of each object, time and sent time over all shards, as
    TimeMap.preload takes them."""
    births: dict[str, tuple[int, int]] = {}
    shown: dict[float, tuple[int, int]] = {}
    sent: dict[int, int] = {}
    for born_at, shown_at, sent_at in found:
        for key, first in born_at.items():
            if key not in births or first < births[key]:
                births[key] = first
        for value, first in shown_at.items():
            if value not in shown or first < shown[value]:
                shown[value] = first
        for time, seq in sent_at.items():
            if time not in sent or seq < sent[time]:
                sent[time] = seq
    return (
        {key: packed for key, (_, packed) in births.items()},
        {value: packed for value, (_, packed) in shown.items()},
        sent,
    )


@dataclass(slots=True, frozen=True)
class PairJob:
    """One comparison of two sides of a run, as a worker sets it up again from the run
    directory (shared storage)."""

    run_dir: str
    rules: str | None
    baseline: str
    other: str
    projected: bool
    expect_upgrade: bool
    fast: bool

    def open(self, seqs: frozenset[int]) -> tuple[Side, Side, Profile, PairProjection | None]:
        run = load_run(self.run_dir)
        section, scenario_path = scenario_section(run)
        config = resolve_config(section, scenario_path, Path(self.rules) if self.rules else None)
        baseline, other = load_side(run, self.baseline), load_side(run, self.other)
        baseline.seqs = other.seqs = seqs
        projection = apply_blueprint(run.target(self.other), config)[0] if self.projected else None
        return baseline, other, profile_for(config), projection


def learn_firsts(job: PairJob, seqs: frozenset[int]) -> tuple[Firsts, Firsts]:
    """Round one, on a worker: the firsts of each side within one shard."""
    baseline, other, profile, projection = job.open(seqs)
    times = FirstTouches(baseline.origin), FirstTouches(other.origin)
    items = compare_items(
        baseline, other, profile, projection, job.expect_upgrade, times=times, fast=job.fast
    )
    for _ in items:
        pass
    return times[0].firsts(), times[1].firsts()


def shard_outcomes(job: PairJob, seqs: frozenset[int], firsts: Any) -> list[RawOutcome]:
    """Round two, on a worker: one shard's raw outcomes, in seq order, its time maps
    preloaded with every shard's firsts."""
    baseline, other, profile, projection = job.open(seqs)
    times = TimeMap(baseline.origin), TimeMap(other.origin)
    times[0].preload(*firsts[0])
    times[1].preload(*firsts[1])
    return list(
        compare_sides(
            baseline,
            other,
            profile,
            workers=1,
            projection=projection,
            expect_upgrade=job.expect_upgrade,
            fast=job.fast,
            times=times,
        )
    )


class ClusterComparer:
    """compare_sides' counterpart for compare_run: the pair compared in shards on the
    cluster, the raw outcomes merged in seq order."""

    def __init__(self, client: Client, run_dir: Path, rules: str | None, shards: list[Any]):
        self.client = client
        self.run_dir = run_dir
        self.rules = rules
        self.shards = shards  # futures of each shard's seqs, on the workers

    def __call__(
        self,
        baseline: Side,
        other: Side,
        profile: Profile,
        *,
        workers: int | None = None,
        parallel_threshold: int = 0,
        projection: PairProjection | None = None,
        expect_upgrade: bool = False,
        fast: bool = True,
        times: Any = None,
    ) -> Iterator[RawOutcome]:
        client = self.client
        job = PairJob(
            str(self.run_dir),
            self.rules,
            baseline.name,
            other.name,
            projection is not None,
            expect_upgrade,
            fast,
        )
        found = client.gather(
            [client.submit(learn_firsts, job, s, pure=False) for s in self.shards]
        )
        merged = [merge_firsts([pair[side] for pair in found]) for side in (0, 1)]
        preload = client.scatter(merged, broadcast=True)
        outcomes = client.gather(
            [client.submit(shard_outcomes, job, s, preload, pure=False) for s in self.shards]
        )
        return heapq.merge(*outcomes, key=lambda outcome: outcome.seq)


def journey_shards(recording: Path, shards: int) -> list[frozenset[int]]:
    """The seqs of each shard, journeys balanced by exchanges (as a sharded replay)."""
    plan = plan_apart(recording)
    owner = assign_journeys(plan.sizes, shards)
    seqs: list[set[int]] = [set() for _ in range(shards)]
    for position, journey in enumerate(plan.journey_of):
        seqs[owner[journey]].add(plan.seqs[position])
    return [frozenset(found) for found in seqs]


def cluster_comparer(client: Client, run_dir: Path, rules: str | None) -> ClusterComparer:
    """A ClusterComparer for the run in `run_dir`, one shard per worker of the cluster."""
    from harness.distributed.cluster import worker_addresses

    count = len(worker_addresses(client))
    recording = load_run(run_dir).recording_path
    shards = client.scatter(journey_shards(recording, count), broadcast=True)
    return ClusterComparer(client, run_dir, rules, shards)


def compare_on_cluster(
    cluster: str, run_dir: str | Path, rules: str | None = None
) -> dict[str, Any]:
    """compare_run, each pair of sides compared in shards on the cluster `cluster` names."""
    from harness.distributed.cluster import check_cluster, connect, require_dask

    check_cluster(cluster)
    require_dask()
    path = Path(run_dir)
    load_run(path)  # a clear error before a cluster is reached
    with connect(cluster) as client:
        return compare_run(path, rules, workers=1, sides=cluster_comparer(client, path, rules))
