"""Replay progress: a rich bar per target on a terminal (done/total, rate, errors, ETA),
plain periodic lines otherwise (CI logs). Both read the engine's counters on a timer,
so the engine pays nothing per request for them."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from rich.console import Console

# rich is imported where bars are drawn: a replay without them (--no-progress, the
# counters alone) starts sending sooner (docs/performance.md).


@dataclass(slots=True)
class Occupancy:
    """How many of something are in use over time (requests in flight): the peak, and the
    time-weighted mean from the first change to the last, so a replay that keeps fewer
    requests in flight than its concurrency allows shows it (docs/performance.md)."""

    current: int = 0
    peak: int = 0
    area: float = 0.0  # the integral of `current` over time, in unit-seconds
    first: float | None = None
    last: float = 0.0
    # (when, area until then) where a replay's head handed over to the planned replay.
    handover: tuple[float, float] | None = None

    def change(self, delta: int, now: float) -> None:
        """`delta` more in use at `now` (time.perf_counter)."""
        if self.first is None:
            self.first = now
        else:
            self.area += self.current * (now - self.last)
        self.last = now
        self.current += delta
        if self.current > self.peak:
            self.peak = self.current

    @property
    def mean(self) -> float:
        span = self.last - self.first if self.first is not None else 0.0
        return self.area / span if span > 0 else 0.0

    def hand_over(self, now: float) -> None:
        """Note that the head ended at `now` (time.perf_counter): the means before and
        after are told apart (a head sends one at a time)."""
        area = self.area + (self.current * (now - self.last) if self.first is not None else 0.0)
        self.handover = (now, area)

    def mean_after_handover(self) -> tuple[float, float] | None:
        """(seconds, mean in use) from the handover to the last change, or None."""
        if self.handover is None:
            return None
        when, area = self.handover
        span = self.last - when
        return max(span, 0.0), (self.area - area) / span if span > 0 else 0.0


@dataclass(slots=True)
class Waits:
    """Time journeys spent waiting for one thing (a barrier, a slot): how often, and the
    seconds summed over every journey that waited."""

    count: int = 0
    seconds: float = 0.0

    def add(self, seconds: float) -> None:
        self.count += 1
        self.seconds += seconds


@dataclass(slots=True)
class TargetCounters:
    """Counts one target's replay keeps up to date."""

    name: str
    total: int
    done: int = 0
    errors: int = 0
    skipped: int = 0
    retries: int = 0
    idempotent_replayed: int = 0
    times_shifted: int = 0
    unresolved: int = 0
    answered: int = 0
    # (recorded Stripe-Account, the one sent or None when not sent) → requests
    accounts: dict[tuple[str, str | None], int] = field(default_factory=dict)
    first_error: str | None = None
    started: float = field(default_factory=time.monotonic)
    # What held concurrency back (run.json `engine`, per target): requests in flight, and
    # the time journeys waited for the plan's orderings, for a slot, for the reader and
    # for a result writer far behind.
    in_flight: Occupancy = field(default_factory=Occupancy)
    barrier_waits: Waits = field(default_factory=Waits)
    slot_waits: Waits = field(default_factory=Waits)
    reader_waits: Waits = field(default_factory=Waits)
    writer_waits: Waits = field(default_factory=Waits)  # for a result writer far behind

    def to_results(self) -> dict[str, int]:
        """The counts as run.json's `results` holds them per target."""
        return {
            "exchanges": self.done,
            "answered": self.answered,
            "errors": self.errors,
            "skipped": self.skipped,
            "unresolved": self.unresolved,
            "retries": self.retries,
            "idempotent_replayed": self.idempotent_replayed,
            "times_shifted": self.times_shifted,
        }

    def engine(self, concurrency: int) -> dict[str, Any]:
        """How busy the engine kept this target (run.json: a target's `engine`)."""
        flight = self.in_flight
        span = flight.last - flight.first if flight.first is not None else 0.0
        planned: dict[str, Any] = {}
        after = flight.mean_after_handover()
        if after is not None and flight.handover is not None:
            # The head's time (one request at a time) and the planned replay's own mean.
            head = flight.handover[0] - flight.first if flight.first is not None else 0.0
            planned = {
                "head_seconds": round(max(head, 0.0), 3),
                "in_flight_mean_planned": round(after[1], 3),
            }
        return {
            "concurrency": concurrency,
            "in_flight_mean": round(flight.mean, 3),
            "in_flight_peak": flight.peak,
            "sending_seconds": round(span, 3),
            **planned,
            "waits": {
                name: {"count": waits.count, "seconds": round(waits.seconds, 3)}
                for name, waits in (
                    ("barrier", self.barrier_waits),
                    ("slot", self.slot_waits),
                    ("reader", self.reader_waits),
                    ("writer", self.writer_waits),
                )
            },
        }

    def add(self, other: TargetCounters) -> None:
        """Add the counts another replay of the same target made (a shard's)."""
        self.add_results(other.to_results())
        for pair, requests in other.accounts.items():
            self.accounts[pair] = self.accounts.get(pair, 0) + requests

    def add_results(self, results: dict[str, int]) -> None:
        """Add counts as to_results gives them."""
        self.done += results["exchanges"]
        self.answered += results["answered"]
        self.errors += results["errors"]
        self.skipped += results["skipped"]
        self.unresolved += results["unresolved"]
        self.retries += results["retries"]
        self.idempotent_replayed += results["idempotent_replayed"]
        self.times_shifted += results["times_shifted"]

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0


class ProgressView(Protocol):
    async def watch(self, counters: list[TargetCounters], stop: asyncio.Event) -> None: ...


class RichProgressView:
    """One bar per target, redrawn a few times a second."""

    def __init__(self, console: Console) -> None:
        self.console = console

    async def watch(self, counters: list[TargetCounters], stop: asyncio.Event) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskID,
            TextColumn,
            TimeRemainingColumn,
        )

        progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>7.1f}/s"),
            TextColumn("errors {task.fields[errors]}"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        tasks: dict[str, TaskID] = {
            c.name: progress.add_task(c.name, total=c.total or None, rate=0.0, errors=0)
            for c in counters
        }
        with progress:
            while True:
                for c in counters:
                    # The total is known once the plan is (a replay sends while planning).
                    progress.update(
                        tasks[c.name],
                        total=c.total or None,
                        completed=c.done,
                        rate=c.rate,
                        errors=c.errors,
                    )
                if stop.is_set():
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.2)


class PlainProgressView:
    """A line per target every `interval` seconds, and a last one at the end."""

    def __init__(self, stream: IO[str] | None = None, interval: float = 10.0) -> None:
        self.stream = stream or sys.stderr
        self.interval = interval

    def _print(self, counters: list[TargetCounters]) -> None:
        for c in counters:
            print(
                f"replay: {c.name}: {c.done}/{c.total or '?'} done, {c.rate:.1f}/s, "
                f"{c.errors} errors, {c.skipped} skipped",
                file=self.stream,
                flush=True,
            )

    async def watch(self, counters: list[TargetCounters], stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), self.interval)
            except TimeoutError:
                self._print(counters)
        self._print(counters)


def progress_view(stream: IO[str] | None = None) -> ProgressView:
    """Bars on a terminal, lines otherwise."""
    from rich.console import Console

    console = Console(file=stream or sys.stderr)
    if console.is_terminal:
        return RichProgressView(console)
    return PlainProgressView(stream)
