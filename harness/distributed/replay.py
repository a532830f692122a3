"""A replay sharded by journey over a Dask cluster (docs/distributed.md).

The machine that runs `shadow replay --cluster` is the coordinator: it plans, makes the
run directory, starts launched targets, and writes run.json as a single machine does.
It splits the journeys into one shard per worker, balanced by exchanges
(harness.distributed.shards), and each worker replays its shard against every target
with the engine (harness.replay.engine), its own HTTP sessions and its share of each
target's rate limit, appending to shard files of its own in the run directory (shared
storage; harness.formats.shards). At the end the coordinator folds the shard files into
the single-machine format, so compare, report, gate and resume see a run like any other.

Orderings that cross shards (an id-less read waiting for writes made elsewhere, a
catalogue object made in one shard and used in another, an id learnt from a list) go
through the coordinator: a shard reports each exchange another shard waits for, with
the ids its answer taught, on a Dask queue; the coordinator keeps every report and hands
each to the shards waiting for it. A shard the cluster runs again (its worker died)
picks up from its shard files and is handed every report again, so nothing is lost and
nothing is sent twice but what was in flight (Idempotency-Keys cover those).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.distributed.shards import assign_journeys, positions_of, routes, shard_loads
from harness.errors import InfrastructureError, InputError, ShadowError
from harness.formats.idmap import write_idmap
from harness.formats.results import ResultWriter
from harness.formats.shards import (
    SHARDS_STOP_WITHIN,
    fold_shards,
    shard_files,
    shard_idmap_file,
    shard_results_file,
    wait_for_writer,
)
from harness.replay.engine import UNREPEATABLE
from harness.replay.gates import GateLayout
from harness.replay.idmap import IdMap, target_seeds
from harness.replay.plan import Plan
from harness.replay.progress import TargetCounters
from harness.replay.resultwriter import ResultPipe
from harness.replay.session import (
    ReplaySession,
    relearn,
    replayed_results,
    result_header,
    target_replay,
    time_shift_of,
)
from harness.scenario import load_scenario
from harness.target import target_keys
from harness.transforms import transform_chain

if TYPE_CHECKING:
    from distributed import Client

# Seconds between a shard's batches of reports (and its looks at its inbox), and between
# the coordinator's looks at the reports.
INTERVAL = 0.01
# A shard that hears nothing from the coordinator for this long (it is sent a heartbeat
# every second) stops: the coordinator was killed, and `--resume` will finish the run.
COORDINATOR_SILENCE = SHARDS_STOP_WITHIN - 2.0
_HEARTBEAT = 1.0

# What a launched target (localstripe, stripe-mock: no idempotency) cannot be sent twice.
WRITES = frozenset({"POST", "DELETE", "PUT", "PATCH"})

# A report, as msgpack carries it: [target index, position, [[recorded, target], ...]].
Report = list[Any]


class _Stopped(Exception):
    """The coordinator said stop (it was interrupted): the shard ends its replay."""


class JournalIdMap(IdMap):
    """An id map that notes each pair it learns, so a shard can hand on the pairs one
    exchange taught; pairs reported by other shards are learnt without a note."""

    def __init__(self, seeds: dict[str, str] | None = None) -> None:
        super().__init__(seeds)
        self.journal: list[list[str]] = []

    def pair(self, recorded: str, target: str) -> bool:
        if not super().pair(recorded, target):
            return False
        self.journal.append([recorded, target])
        return True

    def take(self) -> list[list[str]]:
        """The pairs learnt since the last call."""
        taken, self.journal = self.journal, []
        return taken

    def learn_reported(self, pairs: list[list[str]]) -> None:
        for recorded, target in pairs:
            IdMap.pair(self, recorded, target)


@dataclass(slots=True)
class ShardSpec:
    """What one shard needs besides the plan: where the run is, who it is, and per
    target the URL, Idempotency-Key namespace, concurrency and rate-limit share."""

    run_dir: str
    run_name: str
    scenario: str
    shard: int
    queues: str  # the prefix of this run's queue names
    urls: dict[str, str]
    namespaces: dict[str, str]
    concurrency: dict[str, int]
    rate_limits: dict[str, float | None]
    time_shift: int | None
    allow_live: bool
    exports: bytearray  # per position: 1 when another shard waits for it


def _queue(client: Any, name: str) -> Any:
    from distributed import Queue

    return Queue(name, client=client)


class ShardReplay:
    """One shard on a worker: every target's replay of the shard's journeys, and the
    exchange of reports with the coordinator."""

    def __init__(self, spec: ShardSpec, plan: Plan, owner: Any, client: Any) -> None:
        self.spec = spec
        self.plan = plan
        self.mine = positions_of(plan, owner, spec.shard)
        self.layout = GateLayout(plan)
        self.scenario = load_scenario(spec.scenario)
        self.outbox = _queue(client, f"{spec.queues}-out")
        self.inbox = _queue(client, f"{spec.queues}-in-{spec.shard}")
        self.outgoing: list[Report] = []
        self.idmaps: list[JournalIdMap] = []
        self.counters: list[TargetCounters] = []
        self.writers: list[ResultPipe] = []
        self.files: list[Path] = []

    def _learnt(self, index: int, idmap: JournalIdMap) -> Any:
        def report(position: int, *_: Any) -> None:
            pairs = idmap.take()
            if self.spec.exports[position]:
                self.outgoing.append([index, position, pairs])

        return report

    async def run(self) -> dict[str, TargetCounters]:
        spec, scenario = self.spec, self.scenario
        run_dir = Path(spec.run_dir)
        keys = target_keys(
            scenario.targets,
            scenario.path,
            scenario_allows=scenario.allow_live,
            allow_live=spec.allow_live,
        )
        attempt = secrets.token_hex(4)
        replays = []
        try:
            for index, target in enumerate(scenario.targets):
                name = target.name
                idmap = JournalIdMap(target_seeds(target))
                transforms = transform_chain(target.transforms, name, idmap)
                counters = TargetCounters(name, sum(self.mine))
                # What the run did before a --resume (every shard learns it all), then
                # what earlier attempts at this shard did (handed on again).
                before = relearn(
                    scenario.recording,
                    self.plan,
                    replayed_results(run_dir / f"{name}.jsonl"),
                    idmap,
                    TargetCounters(name, 0),
                    transforms,
                )
                idmap.take()
                files = shard_files(run_dir, name, spec.shard)
                for path in files:
                    wait_for_writer(path)  # what a dead worker handed on is all there
                earlier = replayed_results(*files)
                done = relearn(
                    scenario.recording,
                    self.plan,
                    earlier,
                    idmap,
                    counters,
                    transforms,
                    self._learnt(index, idmap),
                )
                completed = bytearray(a | b for a, b in zip(before, done, strict=True))
                path = shard_results_file(run_dir, name, spec.shard, attempt)
                writer = ResultPipe(path, result_header(spec.run_name, name))
                self.writers.append(writer)
                self.files.append(path)
                self.idmaps.append(idmap)
                self.counters.append(counters)
                replays.append(
                    target_replay(
                        scenario,
                        target,
                        spec.urls[name],
                        plan=self.plan,
                        layout=self.layout,
                        key=keys[name],
                        namespace=spec.namespaces[name],
                        time_shift=spec.time_shift,
                        idmap=idmap,
                        counters=counters,
                        writer=writer,
                        concurrency=spec.concurrency[name],
                        completed=completed,
                        transforms=transforms,
                        rate_limit=spec.rate_limits[name],
                        # The target outlives this shard (the coordinator started it): a
                        # write in flight when a worker dies is in doubt, and a launched
                        # one keeps no Idempotency-Keys, so any write of it may be.
                        marks_in_flight=True,
                        unrepeatable=UNREPEATABLE if target.launch is None else WRITES,
                        mine=self.mine,
                        on_done=self._learnt(index, idmap),
                    )
                )
            for writer in self.writers:
                # Nothing is sent before every result can outlive this worker.
                await asyncio.to_thread(writer.wait_ready)
            await self._replay(replays)
        finally:
            # The id maps first: a results file's writer holds its lock until it closes,
            # and whoever folds the shard waits for that lock (fold_shards), so it finds
            # the id map written too.
            for path, idmap, target in zip(self.files, self.idmaps, scenario.targets, strict=False):
                write_idmap(shard_idmap_file(path), target.name, idmap.ids)
                idmap.close()
            for writer in self.writers:
                writer.close()
        return {c.name: c for c in self.counters}

    async def _replay(self, replays: list[Any]) -> None:
        stop = asyncio.Event()
        await asyncio.to_thread(self.outbox.put, ["hello", self.spec.shard])
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._talk(replays, stop))
                await asyncio.gather(*(replay.run() for replay in replays))
                stop.set()  # the talk sends the last reports, then ends
        except* _Stopped:
            pass  # interrupted: what was done is in the shard's files
        except* InfrastructureError as failed:
            raise failed.exceptions[0] from None

    async def _talk(self, replays: list[Any], stop: asyncio.Event) -> None:
        """Send this shard's reports, and learn the others' as the coordinator hands them
        on; raises when the coordinator says stop or has gone silent."""
        heard = time.monotonic()
        while True:
            if self.outgoing:
                batch, self.outgoing = self.outgoing, []
                await asyncio.to_thread(
                    self.outbox.put,
                    ["done", self.spec.shard, batch, [c.done for c in self.counters]],
                )
            if stop.is_set():
                return
            for message in await asyncio.to_thread(self.inbox.get, batch=True):
                heard = time.monotonic()
                if message == "stop":
                    raise _Stopped
                for index, position, pairs in message:
                    if not self.mine[position]:
                        self.idmaps[index].learn_reported(pairs)
                        replays[index].gates.done(position)
            if time.monotonic() - heard > COORDINATOR_SILENCE:
                raise InfrastructureError(
                    f"no word from the coordinator for {COORDINATOR_SILENCE:g} s; "
                    "finish the run with `shadow replay --resume`"
                )
            await asyncio.sleep(INTERVAL)


def replay_shard(spec: ShardSpec, plan: Plan, owner: Any) -> dict[str, TargetCounters]:
    """The task a worker runs for one shard; returns each target's counts."""
    from distributed import get_client, secede

    # A shard runs as long as the replay: out of the worker's pool of threads, so that a
    # shard the cluster runs again after a worker died can start beside it.
    secede()
    client = get_client()
    return asyncio.run(ShardReplay(spec, plan, owner, client).run())


class Hub:
    """The coordinator's side of the reports: every one kept, each handed to the shards
    that wait for it, and all of them again to a shard that starts again."""

    def __init__(self, routing: dict[int, tuple[int, ...]], inboxes: list[Any]) -> None:
        self.routing = routing
        self.inboxes = inboxes
        self.kept: dict[tuple[int, int], Report] = {}
        self.done: dict[int, list[int]] = {}  # shard -> per target, exchanges done

    def handle(self, messages: list[Any]) -> None:
        outgoing: dict[int, list[Report]] = {}
        for message in messages:
            kind, shard = message[0], message[1]
            if kind == "hello":
                wanted = [r for r in self.kept.values() if shard in self.routing.get(r[1], ())]
                if wanted:
                    outgoing.setdefault(shard, []).extend(wanted)
                continue
            reports, done = message[2], message[3]
            self.done[shard] = done
            for report in reports:
                key = (report[0], report[1])
                if key in self.kept:
                    continue
                self.kept[key] = report
                for waiting in self.routing.get(report[1], ()):
                    outgoing.setdefault(waiting, []).append(report)
        for shard, reports in outgoing.items():
            self.inboxes[shard].put(reports)

    def heartbeat(self) -> None:
        for inbox in self.inboxes:
            inbox.put([])

    def stop(self) -> None:
        for inbox in self.inboxes:
            with contextlib.suppress(Exception):
                inbox.put("stop")


def _stop(hub: Hub, futures: list[Any]) -> None:
    """Tell every shard to stop, and wait (a while) until they have: their files are
    folded next, and nothing may be written to them after."""
    from distributed import wait

    hub.stop()
    with contextlib.suppress(Exception):
        wait(futures, timeout=SHARDS_STOP_WITHIN)


class ClusterSession(ReplaySession):
    """A replay whose targets are driven by shards on a Dask cluster."""

    sends_while_planning = False  # shards are assigned journeys, which need the plan

    def __init__(self, *args: Any, client: Client, allow_live: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if self.after_replay is not None:
            raise InputError(
                f"{self.scenario.path}: reconcile: true reads end states back from targets "
                "a sharded replay does not keep; replay without --cluster, or reconcile "
                "later with shadow reconcile RUN_DIR against targets still running"
            )
        self.client = client
        self.allow_live = allow_live
        # Where a sharded replay's time goes beside the shards' own work (run.json
        # settings.shards.seconds; docs/performance.md).
        self.timings: dict[str, float] = {}

    def _drive(
        self, urls: dict[str, str], counters: list[TargetCounters], writers: list[ResultPipe]
    ) -> None:
        from harness.distributed.cluster import worker_addresses

        client, plan = self.client, self.plan
        begin = time.perf_counter()
        workers = worker_addresses(client)
        shards = len(workers)
        owner = assign_journeys(plan.sizes, shards)
        loads = shard_loads(plan, owner, shards)
        routing = routes(plan, self.gates, owner)
        self.info.settings["shards"] = {
            "count": shards,
            "exchanges": loads,
            "reported": len(routing),
            "seconds": self.timings,
        }
        queues = f"shadow-{self.info.run_id}-{len(self.info.resumed)}"
        inboxes = [_queue(client, f"{queues}-in-{k}") for k in range(shards)]
        outbox = _queue(client, f"{queues}-out")
        entries = {entry.name: entry for entry in self.info.targets}
        total = max(plan.exchanges, 1)
        plan_data = client.scatter(plan, broadcast=True)
        owner_data = client.scatter(owner, broadcast=True)
        futures = []
        for shard in range(shards):
            exports = bytearray(plan.exchanges)
            for position, waiting in routing.items():
                if owner[plan.journey_of[position]] == shard and waiting:
                    exports[position] = 1
            spec = ShardSpec(
                run_dir=str(self.run_dir.resolve()),
                run_name=self.info.name,
                scenario=str(self.scenario.path),
                shard=shard,
                queues=queues,
                urls=urls,
                namespaces={t.name: self._idempotency_namespace(t) for t in self.scenario.targets},
                concurrency={
                    name: entry.concurrency or self.scenario.concurrency
                    for name, entry in entries.items()
                },
                rate_limits={
                    t.name: t.rate_limit * loads[shard] / total if t.rate_limit else None
                    for t in self.scenario.targets
                },
                time_shift=time_shift_of(self.info),
                allow_live=self.allow_live,
                exports=exports,
            )
            futures.append(
                client.submit(
                    replay_shard,
                    spec,
                    plan_data,
                    owner_data,
                    key=f"{queues}-shard-{shard}",
                    workers=[workers[shard]],
                    allow_other_workers=True,
                    pure=False,
                )
            )
        hub = Hub(routing, inboxes)
        base = [c.done for c in counters]
        self.timings["split"] = round(time.perf_counter() - begin, 3)
        begin = time.perf_counter()
        try:
            asyncio.run(self._coordinate(hub, outbox, futures, counters, base))
        except asyncio.CancelledError:
            _stop(hub, futures)
            self._count(futures, counters, base)
            raise KeyboardInterrupt from None
        except BaseException:
            _stop(hub, futures)
            self._count(futures, counters, base)
            raise
        self.timings["shards"] = round(time.perf_counter() - begin, 3)
        self._count(futures, counters, base)

    def _count(self, futures: list[Any], counters: list[TargetCounters], base: list[int]) -> None:
        """Each target's counts: what the run had before, and what every shard that
        ended did."""
        for c, start in zip(counters, base, strict=True):
            c.done = start
        for future in futures:
            if future.status != "finished":
                continue
            counts = future.result()
            for c in counters:
                c.add(counts[c.name])

    async def _coordinate(
        self,
        hub: Hub,
        outbox: Any,
        futures: list[Any],
        counters: list[TargetCounters],
        base: list[int],
    ) -> None:
        stop = asyncio.Event()
        watcher = None
        if self.progress is not None:
            watcher = asyncio.create_task(self.progress.watch(counters, stop))
        beat = time.monotonic()
        try:
            while True:
                finished = all(f.done() for f in futures)
                messages = await asyncio.to_thread(outbox.get, batch=True)
                if messages:
                    await asyncio.to_thread(hub.handle, messages)
                    for index, c in enumerate(counters):
                        c.done = base[index] + sum(done[index] for done in hub.done.values())
                for future in futures:
                    if future.done() and future.status == "error":
                        error = future.exception()
                        if isinstance(error, ShadowError):
                            raise error  # a worker's own mistake: its key, its files
                        raise InfrastructureError(
                            f"a shard of the replay failed on the cluster: {error}"
                        )
                if finished:
                    return
                if time.monotonic() - beat > _HEARTBEAT:
                    await asyncio.to_thread(hub.heartbeat)
                    beat = time.monotonic()
                await asyncio.sleep(INTERVAL)
        finally:
            stop.set()
            if watcher is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(watcher, 2.0)

    def _keep_idmaps(self) -> None:
        """Fold the shards' files into the run directory's own (its id maps first: the
        seeds, or what a resumed run had learnt)."""
        begin = time.perf_counter()
        super()._keep_idmaps()
        for target in self.scenario.targets:
            header = result_header(self.info.name, target.name)
            ResultWriter(self.run_dir / f"{target.name}.jsonl", header).close()
            fold_shards(self.run_dir, target.name, header)
        self.timings["fold"] = round(time.perf_counter() - begin, 3)


@dataclass(slots=True)
class ClusterRun:
    """A run sharded over a connected cluster: sessions that drive the replay's targets
    in shards, and comparers that compare two sides of the run in shards."""

    client: Client
    allow_live: bool = False

    def sessions(self, *args: Any, **kwargs: Any) -> ReplaySession:
        return ClusterSession(*args, client=self.client, allow_live=self.allow_live, **kwargs)

    def sides(self, run_dir: Path, rules: str | None) -> Any:
        from harness.distributed.compare import cluster_comparer

        return cluster_comparer(self.client, run_dir, rules)


@contextlib.contextmanager
def on_cluster(cluster: str, allow_live: bool = False) -> Iterator[ClusterRun]:
    """The cluster `cluster` names (harness.distributed.cluster), connected for the block."""
    from harness.distributed.cluster import connect

    with connect(cluster) as client:
        yield ClusterRun(client, allow_live)


def on_cluster_if(cluster: str | None, allow_live: bool = False) -> Any:
    """on_cluster for `--cluster`, or a block without a cluster (None) when it is not
    given: how the commands take the option."""
    if cluster is None:
        return contextlib.nullcontext(None)
    return on_cluster(cluster, allow_live)
