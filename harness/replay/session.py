"""One replay from start to end: check keys, plan, create the run directory, launch the
targets, drive the engine, and leave run.json, the result files and the id maps behind
whatever happens (success, failure, Ctrl-C, SIGTERM). `resume_replay` finishes a run
that was interrupted, as if it never had been: a target reached by url keeps every
answer it gave and is sent the rest; a launched target, started afresh, starts over."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import secrets
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness import __version__
from harness.capture.redact import SECRETS_ONLY
from harness.errors import InfrastructureError, InputError, ShadowError
from harness.formats.idmap import write_idmap
from harness.formats.recording import Header, RecordingReader, read_header, recording_start
from harness.formats.results import ResultWriter, iter_results, latest_exchanges
from harness.formats.rundir import (
    RunInfo,
    RunTarget,
    load_run,
    new_run_dir,
    write_run_json,
)
from harness.formats.shards import fold_shards, wait_for_writer, wait_until_quiet
from harness.model import Exchange
from harness.replay.engine import (
    UNREPEATABLE,
    HeadJournal,
    PlanArrival,
    ResultSink,
    TargetReplay,
    count,
)
from harness.replay.gates import GateLayout
from harness.replay.idmap import IdMap, target_seeds
from harness.replay.plan import Plan, PlanInProgress, plan_apart
from harness.replay.progress import ProgressView, TargetCounters
from harness.replay.receiver import EventForwarder, EventReception, EventSource
from harness.replay.resultwriter import ResultPipe
from harness.replay.rewrite import TargetContext
from harness.scenario import Scenario, TargetSpec, load_scenario
from harness.stripe import is_live_key
from harness.stripe.signature import new_webhook_secret
from harness.target import target_keys, webhook_secret
from harness.transforms import TransformChain, transform_chain


@dataclass(slots=True)
class ReplayResult:
    """Where the run is and how each target did."""

    run_dir: Path
    status: str
    counters: list[TargetCounters] = field(default_factory=list)
    time_shift: int = 0  # seconds absolute times in requests were moved by

    def unreachable(self) -> list[str]:
        """Targets that were sent requests but answered none of them."""
        return [c.name for c in self.counters if c.answered == 0 and c.done - c.skipped > 0]


def check_reachable(result: ReplayResult) -> None:
    """A target that answered none of its requests is an infrastructure failure (exit 3),
    not a candidate full of differences. (Here, beside the result, not in harness.run:
    `shadow replay` asks it after sending, and importing compare and report for it took
    0.24 s of CPU.)"""
    unreachable = [c for c in result.counters if c.name in result.unreachable()]
    if unreachable:
        first = unreachable[0]
        raise InfrastructureError(
            f"target {first.name} answered none of its requests ({first.first_error}); "
            f"results are in {result.run_dir}"
        )


def result_header(run: str, target: str) -> Header:
    """The header line of a target's result file (docs/run-format.md)."""
    return Header(
        source={"kind": "replay", "run": run, "target": target},
        redaction=SECRETS_ONLY.header_json(),
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _run_target(target: TargetSpec, concurrency: int) -> RunTarget:
    assert target.role is not None
    return RunTarget(
        name=target.name,
        role=target.role,
        url=target.url,
        headers=dict(target.headers),
        launch=target.launch_json(),
        api_key_env=target.api_key_env,
        transforms=[spec.to_json() for spec in target.transforms],
        concurrency=concurrency,
        rate_limit=target.rate_limit,
        extra={
            **({"blueprint": target.blueprint} if target.blueprint else {}),
            **({"expect_upgrade": True} if target.expect_upgrade else {}),
            "accounts": str(target.accounts)
            if isinstance(target.accounts, Path)
            else target.accounts,
            **({"pass_through": list(target.pass_through)} if target.pass_through else {}),
        },
    )


def _concurrency(scenario: Scenario, target: TargetSpec, override: int | None) -> int:
    """`--concurrency` replaces every concurrency in the scenario; else the target's own,
    else the scenario's."""
    if override is not None:
        return override
    return target.concurrency or scenario.concurrency


@dataclass(slots=True)
class _TargetState:
    """What a target's replay starts from: nothing, or what a killed run left (the
    positions answered already, and what their answers taught)."""

    idmap: IdMap
    counters: TargetCounters
    completed: bytearray | None = None
    transforms: TransformChain | None = None


@dataclass(frozen=True, slots=True)
class RunningTarget:
    """A target still running once its replay is done, for a step that reads it back
    before it stops (end states: harness.reconcile.endstates)."""

    name: str
    url: str
    api_key: str | None = field(repr=False)
    headers: dict[str, str]
    rate_limit: float | None
    target_id: Callable[[str], str | None]  # the id map: recorded id → this target's


# Called with the run directory and every target, after the replay and before launched
# targets stop.
AfterReplay = Callable[[Path, list[RunningTarget]], None]


def target_replay(
    scenario: Scenario,
    target: TargetSpec,
    url: str,
    *,
    plan: Plan | None,
    layout: GateLayout | None,
    key: str | None,
    namespace: str,
    time_shift: int | None,
    idmap: IdMap,
    counters: TargetCounters,
    writer: ResultSink,
    concurrency: int,
    completed: bytearray | None,
    transforms: TransformChain | None,
    rate_limit: float | None,
    marks_in_flight: bool,
    mine: bytearray | None = None,
    on_done: Callable[[int, Exchange], None] | None = None,
    unrepeatable: frozenset[str] = UNREPEATABLE,
    planning: PlanArrival | None = None,
    journal: HeadJournal | None = None,
) -> TargetReplay:
    """The engine's replay of one target of a scenario (or of one shard of it: `mine`,
    `on_done`, harness.distributed), sending `key` and Idempotency-Keys derived from
    `namespace`; without a plan, it sends the head of the recording while `planning`."""
    parts = urlsplit(url)
    context = TargetContext(
        name=target.name,
        run_id=namespace,
        api_key=key,
        headers=tuple(target.headers.items()),
        live=key is not None and is_live_key(key),
        scheme=parts.scheme,
        host=parts.hostname or "",
        port=parts.port,
        time_shift=time_shift,
        time_fields=scenario.time.field_names(),
        same_accounts=target.accounts == "same",
        pass_through=tuple(target.pass_through),
    )
    return TargetReplay(
        context=context,
        url=url,
        plan=plan,
        recording=scenario.recording,
        idmap=idmap,
        writer=writer,
        counters=counters,
        concurrency=concurrency,
        retry=scenario.retry,
        timeout=scenario.timeout,
        rate_limit=rate_limit,
        send_unresolved=scenario.on_unresolved == "send",
        completed=completed,
        transforms=transforms,
        gates=layout,
        marks_in_flight=marks_in_flight,
        mine=mine,
        on_done=on_done,
        unrepeatable=unrepeatable,
        planning=planning,
        journal=journal,
    )


class ReplaySession:
    """One replay's run directory, targets and engine, start to end.

    Given a plan still being made, it sends the head of the recording meanwhile
    (docs/replay.md, "Sending while planning"); a session that cannot (one that shards
    the replay) says `sends_while_planning = False` and waits for the plan first.
    """

    sends_while_planning = True
    # Set once the plan is there: at once, or when it arrives (_planned).
    plan: Plan
    gates: GateLayout  # one for every target

    def __init__(
        self,
        scenario: Scenario,
        run_dir: Path,
        info: RunInfo,
        plan: Plan | PlanInProgress,
        keys: dict[str, str | None],
        states: dict[str, _TargetState],
        concurrency: int | None,
        progress: ProgressView | None,
        after_replay: AfterReplay | None = None,
    ) -> None:
        self.after_replay = after_replay
        self.scenario = scenario
        self.run_dir = run_dir
        self.info = info
        self.keys = keys
        self.states = states
        self.concurrency = concurrency
        self.progress = progress
        self.planning: PlanInProgress | None = None
        self.arrival: PlanArrival | None = None
        if isinstance(plan, PlanInProgress):
            self.planning = plan
        else:
            self._planned(plan, GateLayout(plan))

    def _planned(self, plan: Plan, layout: GateLayout) -> None:
        """Take the plan: its figures go into run.json, its size into the counters."""
        self.plan, self.gates = plan, layout
        self.info.recording["exchanges"] = plan.exchanges
        self.info.journeys = plan.journeys
        self.info.plan = plan.to_json()
        for state in self.states.values():
            state.counters.total = plan.exchanges
        if self.info.status == "running":
            write_run_json(self.run_dir, self.info)

    def _await_plan(self) -> None:
        """Wait for a plan still being made, for a session that does not send meanwhile."""
        if self.planning is not None and not hasattr(self, "plan"):
            plan = self.planning.wait()
            self._planned(plan, GateLayout(plan))

    def execute(self) -> ReplayResult:
        with _sigterm_interrupts():
            return self._execute()

    def _execute(self) -> ReplayResult:
        counters = [self.states[t.name].counters for t in self.scenario.targets]
        result = ReplayResult(self.run_dir, "failed", counters, time_shift_of(self.info) or 0)
        self.info.status = "running"
        write_run_json(self.run_dir, self.info)
        writers: list[ResultPipe] = []
        try:
            with ExitStack() as stack:
                urls = self._start_targets(stack)
                for entry in self.info.targets:
                    entry.url = urls[entry.name]
                write_run_json(self.run_dir, self.info)
                if not self.sends_while_planning:
                    self._await_plan()
                self._drive(urls, counters, writers)
                result.status = "finished"
        except KeyboardInterrupt:
            result.status = "interrupted"
            raise
        except ShadowError as exc:
            self.info.error = str(exc)
            raise
        finally:
            if self.planning is not None:
                self.planning.close()
            failures: list[ShadowError] = []
            for writer in writers:
                writer.finish()  # each writes what it has left and exits, side by side
            self._keep_idmaps()  # (meanwhile)
            for writer in writers:
                try:
                    writer.wait()
                except ShadowError as exc:
                    failures.append(exc)
            self.info.status = result.status
            self.info.finished = _now()
            self.info.results = {c.name: c.to_results() for c in counters}
            used = {c.name: _accounts_used(c) for c in counters}
            for entry in self.info.targets:
                entry.extra["accounts_used"] = used.get(entry.name, [])
                state = self.states[entry.name]
                entry.extra["engine"] = state.counters.engine(entry.concurrency or 0)
                if self.arrival is not None:
                    # How many exchanges it sent in recorded order while planning went on.
                    entry.extra["head"] = self.arrival.heads.get(entry.name, 0)
            if failures:
                result.status = "failed"
                self.info.status = "failed"
                self.info.error = str(failures[0])
            elif self.arrival is not None:
                # A head's lines are in the target's file now (a head that never handed
                # over keeps its file, for a resumed run: fold_head).
                for name in self.arrival.handed_over:
                    head_file(self.run_dir / f"{name}.jsonl").unlink(missing_ok=True)
            write_run_json(self.run_dir, self.info)
        if failures:
            raise failures[0]
        return result

    def _running(self, urls: dict[str, str]) -> list[RunningTarget]:
        return [
            RunningTarget(
                t.name,
                urls[t.name],
                self.keys[t.name],
                dict(t.headers),
                t.rate_limit,
                self.states[t.name].idmap.get,
            )
            for t in self.scenario.targets
        ]

    def _drive(
        self, urls: dict[str, str], counters: list[TargetCounters], writers: list[ResultPipe]
    ) -> None:
        """Replay every target in this process (harness.distributed drives shards on a
        cluster instead); the writers opened go to `writers`, closed by the caller."""
        replays: list[TargetReplay] = []
        if self.planning is not None and not hasattr(self, "plan"):
            self.arrival = PlanArrival(self.planning, self._planned)
        for target in self.scenario.targets:
            results = self.run_dir / f"{target.name}.jsonl"
            head = head_file(results) if self.arrival is not None else None
            writer = ResultPipe(results, self._header(target.name), head)
            writers.append(writer)
            journal = HeadJournal(writer) if head is not None else None
            replays.append(self._target_replay(target, urls[target.name], writer, journal))
        reception = self._event_reception(urls)
        try:
            with few_collections():
                asyncio.run(self._run_all(replays, counters, reception))
        except asyncio.CancelledError:
            raise KeyboardInterrupt from None
        except ExceptionGroup as group:
            # An error several targets' replays raised alike (the recording's, found while
            # planning): said once, as any other.
            raise _first_shadow_error(group) from None
        if self.after_replay is not None:
            self.after_replay(self.run_dir, self._running(urls))

    def _keep_idmaps(self) -> None:
        """Write every target's id map into the run directory."""
        for target in self.scenario.targets:
            idmap = self.states[target.name].idmap
            write_idmap(self.run_dir / f"{target.name}.idmap.json", target.name, idmap.ids)
            idmap.close()

    def _header(self, target: str) -> Header:
        return result_header(self.info.name, target)

    def _start_targets(self, stack: ExitStack) -> dict[str, str]:
        urls: dict[str, str] = {}
        for target in self.scenario.targets:
            if target.launch is None:
                assert target.url is not None
                urls[target.name] = target.url
                continue
            # Imported only to launch: Docker's client alone takes a tenth of a second.
            from harness.replay.launch import LaunchContext, launch

            context = LaunchContext(
                target.name,
                self.scenario.path.parent,
                self.run_dir / f"{target.name}.log",
                run_id=self.info.run_id,
            )
            process = launch(target.launch, context)
            stack.callback(process.stop)
            urls[target.name] = process.url
        return urls

    def _target_replay(
        self, target: TargetSpec, url: str, writer: ResultPipe, journal: HeadJournal | None
    ) -> TargetReplay:
        state = self.states[target.name]
        planned = self.arrival is None
        return target_replay(
            self.scenario,
            target,
            url,
            plan=self.plan if planned else None,
            layout=self.gates if planned else None,
            key=self.keys[target.name],
            namespace=self._idempotency_namespace(target),
            time_shift=time_shift_of(self.info),
            idmap=state.idmap,
            counters=state.counters,
            writer=writer,
            concurrency=_concurrency(self.scenario, target, self.concurrency),
            completed=state.completed,
            transforms=state.transforms,
            rate_limit=target.rate_limit,
            marks_in_flight=target.launch is None,
            planning=self.arrival,
            journal=journal,
        )

    def _idempotency_namespace(self, target: TargetSpec) -> str:
        """What a target's Idempotency-Keys are derived from: the run, so a resumed run
        sends a target reached by url the keys it sent before (Stripe answers a request
        it applied with its stored answer, and creates nothing twice); for a launched
        target, the run and how often it was started, as its store starts empty."""
        resumed = len(self.info.resumed)
        if target.launch is None or resumed == 0:
            return self.info.run_id
        return f"{self.info.run_id}.{resumed}"

    def _event_reception(self, urls: dict[str, str]) -> EventReception:
        """Where each target's events come from (docs/events.md): a launched target that
        can be subscribed (localstripe) sends them to a receiver with a secret made for
        this run; a target whose `events:` says so, to a receiver or by being polled."""
        sources: list[EventSource] = []
        for target in self.scenario.targets:
            url = urls[target.name]
            spec = target.events
            if spec is not None and spec.mode == "off":
                continue
            launch = target.launch
            if spec is not None and spec.mode == "poll":
                key = self.keys[target.name]
                headers = dict(target.headers)
                if key is not None:
                    headers["Authorization"] = f"Bearer {key}"
                sources.append(
                    EventSource(
                        target.name, "poll", url, headers=headers, forwarder=self._forwarder(target)
                    )
                )
                continue
            subscribable = launch is not None and launch.sends_webhooks
            if spec is None and not subscribable:
                continue
            secret = webhook_secret(target.name, spec.webhook_secret_env) if spec else None
            subscribe = partial(launch.subscribe_webhooks, url) if subscribable else None
            forwarder = self._forwarder(target)
            sources.append(
                EventSource(
                    target.name,
                    "webhook",
                    url,
                    secret=secret or new_webhook_secret(),
                    host=spec.host if spec else "127.0.0.1",
                    port=spec.port if spec else 0,
                    subscribe=subscribe,
                    forwarder=forwarder,
                )
            )
        settings = self.scenario.events
        return EventReception(
            self.run_dir,
            sources,
            quiet=settings.quiet,
            max_wait=settings.max_wait,
            tolerance=settings.tolerance,
        )

    def _forwarder(self, target: TargetSpec) -> EventForwarder | None:
        """What sends a target's events on to the customer's handler, if it forwards."""
        spec = target.events
        if spec is None or spec.forward_to is None:
            return None
        secret = webhook_secret(target.name, spec.forward_secret_env)
        assert secret is not None
        ids = self.states[target.name].idmap.ids
        return EventForwarder(spec.forward_to, secret, ids.key_of if spec.map_ids else None)

    async def _replay_then_mark(self, replay: TargetReplay, reception: EventReception) -> None:
        await replay.run()
        reception.answered(replay.context.name)

    async def _run_all(
        self,
        replays: list[TargetReplay],
        counters: list[TargetCounters],
        reception: EventReception,
    ) -> None:
        loop = asyncio.get_running_loop()
        main = asyncio.current_task()
        previous = signal.getsignal(signal.SIGTERM)
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            if main is not None:
                loop.add_signal_handler(signal.SIGTERM, main.cancel)
        stop = asyncio.Event()
        watcher = None
        if self.progress is not None:
            watcher = asyncio.create_task(self.progress.watch(counters, stop))
        try:
            await reception.start()
            async with asyncio.TaskGroup() as group:
                for replay in replays:
                    group.create_task(self._replay_then_mark(replay, reception))
            await reception.finish(int(datetime.fromisoformat(self.info.started).timestamp()))
        finally:
            await reception.stop()
            if reception.inboxes:
                self.info.extra["events"] = reception.to_json()
            stop.set()
            if watcher is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(watcher, 2.0)
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signal.SIGTERM)
                signal.signal(signal.SIGTERM, previous)


# Allocations (less deallocations) between two collections of the youngest generation
# while requests are sent: Python's 700 had the collector walk the exchanges read ahead
# once every few exchanges.
_YOUNG_THRESHOLD = 20_000


@contextlib.contextmanager
def few_collections() -> Iterator[None]:
    """Fewer garbage collections while the engine runs: what start-up made (modules, the
    plan, the scenario) is frozen out of them, and the youngest generation is collected
    less often. An exchange's objects rarely form cycles; they are freed as it ends."""
    thresholds, frozen = gc.get_threshold(), gc.get_freeze_count()
    gc.freeze()
    gc.set_threshold(_YOUNG_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        if not frozen:  # (what someone else froze stays so)
            gc.unfreeze()


def _first_shadow_error(group: ExceptionGroup[Exception]) -> Exception:
    """The first error of a group the user can act on, or the group when it has none."""
    for error in group.exceptions:
        if isinstance(error, ExceptionGroup):
            error = _first_shadow_error(error)
        if isinstance(error, ShadowError):
            return error
    return group


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM interrupts like Ctrl-C for the whole replay, targets' start included, so
    that launched targets are stopped and run.json says `interrupted`. (While requests
    are sent, the event loop's own handler cancels them first.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _accounts_used(counters: TargetCounters) -> list[dict[str, Any]]:
    """The connected accounts a target's requests acted for (run.json, per target): each
    recorded Stripe-Account, the account sent in its place (None: not sent), how often."""
    return [
        {"recorded": recorded, "sent": sent, "requests": requests}
        for (recorded, sent), requests in sorted(
            counters.accounts.items(), key=lambda item: (item[0][0], item[0][1] or "")
        )
    ]


def _time(scenario: Scenario, started: datetime) -> dict[str, Any]:
    """How this run moves absolute times in requests (run.json `time`, docs/replay.md):
    by the replay's start less the recording's, in whole seconds, unless the scenario
    says `time: keep` or the recording holds no times."""
    recorded = recording_start(scenario.recording)
    replayed = started.timestamp()
    shift = 0
    if scenario.time.mode == "shift" and recorded is not None:
        shift = round(replayed - recorded)
    return {
        "mode": scenario.time.mode,
        "recording_start": recorded,
        "replay_start": replayed,
        "shift": shift,
        "fields": sorted(scenario.time.fields),
    }


def time_shift_of(info: RunInfo) -> int | None:
    """The run's time shift, or None when it sends times as recorded (`time: keep`, or a
    run from before times were moved)."""
    time = info.time
    if time is None or time.get("mode") != "shift":
        return None
    return int(time.get("shift") or 0)


def _keys(scenario: Scenario, allow_live: bool) -> dict[str, str | None]:
    return target_keys(
        scenario.targets,
        scenario.path,
        scenario_allows=scenario.allow_live,
        allow_live=allow_live,
    )


def _seeds(scenario: Scenario) -> dict[str, dict[str, str]]:
    """Per target, what its id map starts from: its `id_map` file, then its accounts."""
    return {t.name: target_seeds(t) for t in scenario.targets}


def _known_ids(seeds: dict[str, dict[str, str]]) -> set[str]:
    known: set[str] = set()
    for seed in seeds.values():
        known.update(seed)
    return known


def start_replay(
    scenario: Scenario,
    *,
    out: Path | None = None,
    runs_dir: Path = Path("runs"),
    concurrency: int | None = None,
    allow_live: bool = False,
    progress: ProgressView | None = None,
    after_replay: AfterReplay | None = None,
    session_type: Callable[..., ReplaySession] = ReplaySession,
) -> ReplayResult:
    """Replay a scenario's recording against all its targets into a new run directory;
    `after_replay` is called once every target has answered, before any stops
    (`session_type`: who drives the targets; harness.distributed shards them over a
    cluster)."""
    keys = _keys(scenario, allow_live)
    seeds = _seeds(scenario)
    # Planned in a process of its own while the replay starts, and sends (ReplaySession).
    planning = PlanInProgress(scenario.recording, _known_ids(seeds), scenario.time.field_names())
    try:
        session = _new_session(
            scenario,
            planning,
            keys,
            seeds,
            out,
            runs_dir,
            concurrency,
            progress,
            after_replay,
            session_type,
        )
    except BaseException:
        planning.close()
        raise
    return session.execute()


def _new_session(
    scenario: Scenario,
    planning: PlanInProgress,
    keys: dict[str, str | None],
    seeds: dict[str, dict[str, str]],
    out: Path | None,
    runs_dir: Path,
    concurrency: int | None,
    progress: ProgressView | None,
    after_replay: AfterReplay | None,
    session_type: Callable[..., ReplaySession],
) -> ReplaySession:
    """A new run's directory, run.json and session (the plan's figures are added to
    run.json when it arrives)."""
    started = datetime.now(UTC)
    run_dir = out if out is not None else new_run_dir(runs_dir, scenario.name, started)
    try:
        if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
            raise InputError(
                f"{run_dir}: already exists and is not empty; choose another --out "
                f"or finish it with `shadow replay --resume {run_dir}`"
            )
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"{run_dir}: cannot make the run directory ({exc.strerror}); choose another --out"
        ) from None
    assert scenario.baseline is not None
    info = RunInfo(
        name=run_dir.name,
        run_id=secrets.token_hex(8),
        scenario={"name": scenario.name, "path": str(scenario.path)},
        recording={
            "path": str(scenario.recording),
            "header": read_header(scenario.recording).to_json(),
            "exchanges": None,  # with the plan's other figures once it is made
        },
        baseline=scenario.baseline,
        targets=[_run_target(t, _concurrency(scenario, t, concurrency)) for t in scenario.targets],
        time=_time(scenario, started),
        settings={
            "on_unresolved": scenario.on_unresolved,
            "timeout": scenario.timeout,
            "retry": scenario.retry.model_dump(),
            "concurrency": concurrency,
        },
        tool=f"stripe-shadow {__version__}",
        started=started.isoformat(timespec="seconds"),
    )
    states = {
        t.name: _TargetState(IdMap(seeds[t.name]), TargetCounters(t.name, 0))
        for t in scenario.targets
    }
    for target in scenario.targets:
        state = states[target.name]
        state.transforms = transform_chain(target.transforms, target.name, state.idmap)
    return session_type(
        scenario, run_dir, info, planning, keys, states, concurrency, progress, after_replay
    )


def replayed_results(*paths: Path) -> dict[int, Exchange]:
    """The last result per seq of target files read in turn, without request bodies
    (resume needs the answers only)."""
    latest: dict[int, Exchange] = {}
    for path in paths:
        if not path.exists():
            continue
        for exchange in iter_results(path):
            exchange.request.body = ""
            latest[exchange.seq] = exchange
    return latest


def _resumed_state(
    target: TargetSpec,
    recording: Path,
    plan: Plan,
    results: Path,
    seed: dict[str, str],
    header: Header,
) -> _TargetState:
    """Where a target's replay resumes from.

    A target reached by url kept everything the killed run did to it: every exchange
    with a result keeps it and is not sent again (a GET sent again would see what
    came after it), and the answers re-teach the id map and the transforms, in recorded
    order. A DELETE that was in flight keeps its in-doubt line: Stripe cannot say whether
    it was applied. Every other exchange is sent, with the Idempotency-Key it had.

    A launched target starts afresh, with an empty store: what its killed instance
    taught is void (ids, idempotency, results) and every exchange is sent again, into a
    result file of its own.

    What a head wrote before its plan came (the run was stopped while planning) is
    folded into the target's file first (fold_head).
    """
    name = target.name
    idmap = IdMap(seed)
    counters = TargetCounters(name, plan.exchanges)
    transforms = transform_chain(target.transforms, name, idmap)
    if target.launch is not None:
        results.unlink(missing_ok=True)
        head_file(results).unlink(missing_ok=True)
        results.with_name(f"{name}.idmap.json").unlink(missing_ok=True)
        return _TargetState(idmap, counters, None, transforms)
    fold_head(results, plan, header)
    completed = relearn(recording, plan, replayed_results(results), idmap, counters, transforms)
    return _TargetState(idmap, counters, completed, transforms)


def head_file(results: Path) -> Path:
    """Where a target's head writes its lines until the plan arrives (HeadJournal)."""
    return results.with_name(results.name.removesuffix(".jsonl") + ".head.jsonl")


def fold_head(results: Path, plan: Plan, header: Header) -> None:
    """Append to a target's file, with its journey, the last line the head wrote of each
    exchange where the file has none, or only the in-doubt mark the head's file has the
    answer to (the replay was killed before they reached it); then remove the head's
    file."""
    journal = head_file(results)
    if not journal.exists():
        return
    wait_for_writer(journal)  # the killed run's head writer, still writing what it had
    present = latest_exchanges(results) if results.exists() else {}
    missing = [
        line
        for seq, line in sorted(latest_exchanges(journal).items())
        if seq not in present
        or (present[seq].extra.get("in_doubt") and not line.extra.get("in_doubt"))
    ]
    if missing:
        wanted = {line.seq for line in missing}
        journeys = {
            seq: plan.journey_of[position]
            for position, seq in enumerate(plan.seqs)
            if seq in wanted
        }
        writer = ResultWriter(results, header)
        try:
            for line in missing:
                line.extra["journey"] = journeys.get(line.seq)
                writer.write(line)
        finally:
            writer.close()
    journal.unlink()


def relearn(
    recording: Path,
    plan: Plan,
    replayed: dict[int, Exchange],
    idmap: IdMap,
    counters: TargetCounters,
    transforms: TransformChain | None,
    learnt: Callable[[int], None] | None = None,
) -> bytearray:
    """Per position, 1 when `replayed` (the last result per seq) has its result already:
    those answers re-teach the id map and the transforms, in recorded order, and are
    counted. `learnt(position)` is called after each (a shard hands on what it learnt)."""
    completed = bytearray(1 if seq in replayed else 0 for seq in plan.seqs)
    idmap.only_times(plan.times)  # as the replay will (TargetReplay._take_plan)
    if not replayed:
        return completed
    with RecordingReader(recording) as reader:
        for position, recorded in reader.positions(completed):
            result = replayed[recorded.seq]
            idmap.learn_responses(recorded.response, result.response)
            if transforms is not None and result.response is not None:
                transforms.learn(recorded, result.response)
            count(counters, result)
            if learnt is not None:
                learnt(position)
    return completed


def resume_replay(
    run_dir: Path,
    *,
    concurrency: int | None = None,
    allow_live: bool = False,
    progress: ProgressView | None = None,
    session_type: Callable[..., ReplaySession] = ReplaySession,
) -> ReplayResult:
    """Finish an interrupted run as if it had never stopped (see `_resumed_state`)."""
    run = load_run(run_dir)
    if run.status == "finished":
        raise InputError(f"{run_dir}: this run finished already; there is nothing to resume")
    if run.scenario_path is None:
        raise InputError(f"{run_dir}/run.json: scenario.path: missing; cannot resume")
    scenario = load_scenario(run.scenario_path)
    if scenario.recording != run.recording_path:
        raise InputError(
            f"{run.scenario_path}: recording: now {scenario.recording}, but the run replayed "
            f"{run.recording_path}; resume needs the same recording"
        )
    names = sorted(t.name for t in scenario.targets)
    if names != sorted(t.name for t in run.targets):
        raise InputError(
            f"{run.scenario_path}: targets changed since the run started "
            f"(run: {', '.join(sorted(t.name for t in run.targets))}; now: {', '.join(names)})"
        )
    # A run sharded over a cluster leaves its shards' files until it ends.
    wait_until_quiet(run.path)
    for name in names:
        fold_shards(run.path, name, result_header(run.info.name, name))
    keys = _keys(scenario, allow_live)
    seeds = _seeds(scenario)
    plan = plan_apart(scenario.recording, _known_ids(seeds), scenario.time.field_names())
    replayed = run.info.recording.get("exchanges")  # None: stopped before its plan was made
    if replayed is not None and plan.exchanges != replayed:
        raise InputError(
            f"{scenario.recording}: has {plan.exchanges} exchanges, the run replayed "
            f"{run.info.recording.get('exchanges')}; resume needs the same recording"
        )
    states = {
        t.name: _resumed_state(
            t,
            scenario.recording,
            plan,
            run.target_file(t.name),
            seeds[t.name],
            result_header(run.info.name, t.name),
        )
        for t in scenario.targets
    }
    if concurrency is None:
        concurrency = run.info.settings.get("concurrency")
    info = run.info
    info.resumed.append(_now())
    info.error = None
    session = session_type(scenario, run.path, info, plan, keys, states, concurrency, progress)
    return session.execute()
