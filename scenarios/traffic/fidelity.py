"""Replay a recording against unchanged localstripe targets and say what differed: the
fidelity check of tests/test_fidelity.py and bench/fidelity.py.

Twin: two fresh localstripes, one the baseline of the other. Recording: one fresh
localstripe compared with what was recorded. Nothing differs between two unchanged
setups, so every real difference group, unresolved id or skipped request is the
harness's.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from harness.run import replay_and_compare
from harness.scenario import load_scenario

CONCURRENCY = 8


@dataclass(slots=True)
class Fidelity:
    """What an unchanged replay showed: its real difference groups (endpoint, path,
    kind), and per target the unresolved and skipped requests; how long it took."""

    differences: list[tuple[str, str, str]]
    unresolved: dict[str, int]
    skipped: dict[str, int]
    seconds: float


def replay_unchanged(
    recording: Path, out: Path, baseline: str = "control", concurrency: int = CONCURRENCY
) -> Fidelity:
    """Replay `recording` into the run directory `out` against a localstripe `twin`,
    compared with a localstripe `control` (baseline "control") or with the recording
    (baseline "recording"), `concurrency` requests in flight per target."""
    targets = ["twin"] if baseline == "recording" else ["control", "twin"]
    scenario = out.with_suffix(".yaml")
    scenario.write_text(
        f"name: {out.name}\nrecording: {recording.resolve()}\nbaseline: {baseline}\ntargets:\n"
        + "".join(f"  - {{name: {target}, launch: localstripe}}\n" for target in targets)
    )
    started = time.perf_counter()
    result, summary = replay_and_compare(load_scenario(scenario), out=out, concurrency=concurrency)
    seconds = time.perf_counter() - started
    results = json.loads((result.run_dir / "run.json").read_text())["results"]
    groups = summary["candidates"]["twin"]["groups"]
    return Fidelity(
        differences=[
            (group["endpoint"], group["path"], group["kind"])
            for group in groups
            if group["outcome"] == "difference"
        ],
        unresolved={name: counts["unresolved"] for name, counts in results.items()},
        skipped={name: counts["skipped"] for name, counts in results.items()},
        seconds=seconds,
    )
