"""Replay fidelity at size (docs/replay.md): seeded stateful traffic (scenarios/traffic)
recorded through `shadow record` against localstripe, replayed at concurrency 8 against
two fresh localstripes. An unchanged twin must show no real difference group and leave no
id unresolved: over many seeds once each, and over the largest recording many times.

Also the parallelism the planner finds in the shipped demo recording, the synthetic
benchmark recordings and the traffic: by journeys, and with the orderings between them
(harness.replay.gates.GateLayout.critical_path).

Recordings are made once under WORK/fidelity/ and kept.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from bench.measure import ROOT
from bench.results import Figure, median
from bench.synth import cached
from harness.replay.gates import GateLayout
from harness.replay.plan import plan_recording
from scenarios.traffic.driver import GENERATOR_VERSION
from scenarios.traffic.fidelity import CONCURRENCY, Fidelity, replay_unchanged
from scenarios.traffic.make_recording import make_recording


def traffic(work: Path, seed: int, requests: int) -> Path:
    """The recording of `requests` requests of seed `seed`, made once."""
    path = work / "fidelity" / f"traffic-{requests}-s{seed}-v{GENERATOR_VERSION}.jsonl"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        make_recording(partial, seed, requests)
        partial.replace(path)
    return path


def _run_dir(work: Path, name: str) -> Path:
    out = work / "fidelity" / "runs" / name
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def _zero(key: str, label: str, value: float, unit: str, note: str) -> Figure:
    """A count that must be zero."""
    return Figure(key, label, value, unit, ratio=value, target="<= 0", note=note)


@dataclass(slots=True)
class Tally:
    """What a series of unchanged replays showed, replay by replay."""

    groups: list[int] = field(default_factory=list)
    unresolved: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    paths: set[str] = field(default_factory=set)

    def add(self, result: Fidelity) -> None:
        self.groups.append(len(result.differences))
        self.unresolved.append(sum(result.unresolved.values()))
        self.seconds.append(result.seconds)
        self.paths.update(f"{endpoint} {path}" for endpoint, path, _ in result.differences)

    def note(self, what: str) -> str:
        found = f"; differing: {', '.join(sorted(self.paths))}" if self.paths else ""
        return f"{what}; groups {self.groups}, unresolved {self.unresolved}{found}"


def seeds(work: Path, count: int, requests: int) -> list[Figure]:
    """Every seed recorded and replayed twin against twin once."""
    tally = Tally()
    for seed in range(1, count + 1):
        tally.add(replay_unchanged(traffic(work, seed, requests), _run_dir(work, f"seed-{seed}")))
    note = tally.note(f"{count} seeds of {requests} requests at concurrency {CONCURRENCY}")
    return [
        _zero(
            "fidelity.seeds.groups",
            "twin real difference groups, all seeds",
            sum(tally.groups),
            "groups",
            note,
        ),
        _zero(
            "fidelity.seeds.unresolved",
            "twin unresolved requests, all seeds",
            sum(tally.unresolved),
            "requests",
            note,
        ),
    ]


def repeated(work: Path, requests: int, runs: int, seed: int = 1000) -> list[Figure]:
    """The largest recording replayed twin against twin `runs` times."""
    recording = traffic(work, seed, requests)
    tally = Tally()
    for run in range(runs):
        tally.add(replay_unchanged(recording, _run_dir(work, f"large-{run}")))
    note = tally.note(
        f"{requests} requests (seed {seed}), {runs} runs at concurrency {CONCURRENCY}"
    )
    return [
        _zero(
            "fidelity.large.groups",
            "twin real difference groups, largest recording",
            max(tally.groups),
            "groups (most in a run)",
            note,
        ),
        _zero(
            "fidelity.large.unresolved",
            "twin unresolved requests, largest recording",
            max(tally.unresolved),
            "requests (most in a run)",
            note,
        ),
        Figure(
            "fidelity.large.seconds",
            "twin replay and compare, largest recording",
            median(tally.seconds),
            "s",
            note=note,
        ),
    ]


def parallelism(work: Path, synthetic: tuple[int, ...], requests: int) -> list[Figure]:
    """`shadow plan`'s parallelism for the demo recording, synthetic recordings and the
    traffic: exchanges per exchange of the largest journey, and per step of the longest
    chain of exchanges that wait for one another."""
    recordings = {
        "demo": ROOT / "recordings" / "demo.jsonl",
        **{f"synthetic {size}": cached(work, size) for size in synthetic},
        f"traffic {requests}": traffic(work, 1, requests),
    }
    figures: list[Figure] = []
    for name, path in recordings.items():
        plan = plan_recording(path)
        steps = GateLayout(plan).critical_path()
        key = name.replace(" ", "-")
        figures.append(
            Figure(
                f"plan.{key}.parallelism",
                f"parallelism by journeys, {name}",
                plan.parallelism,
                "x",
                note=f"{plan.exchanges} exchanges, largest journey {plan.largest[1]}",
            )
        )
        figures.append(
            Figure(
                f"plan.{key}.ordered",
                f"parallelism with orderings, {name}",
                round(plan.exchanges / steps, 1) if steps else 0.0,
                "x",
                note=f"longest chain {steps} exchanges; {plan.barriers} barrier reads, "
                f"{len(plan.windows)} pages of longer lists",
            )
        )
    return figures
