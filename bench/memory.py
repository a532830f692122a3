"""Peak memory of replay, compare and report, each a process of its own, for recordings of
growing size: a baseline and a candidate fast target (the candidate answering like a new
API version for customers, so a share of exchanges differ), replayed, compared and
reported as a user would. The smallest size is the baseline of the others."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.measure import Measured, run_measured
from bench.results import Figure
from bench.scenarios import scenario
from bench.synth import cached
from bench.target import FastTarget

_BIN = Path(sys.executable).parent
STAGES = ("replay", "compare", "report")


@dataclass(slots=True)
class SizeRun:
    """One size, replayed, compared and reported."""

    exchanges: int
    run_dir: Path
    report_dir: Path
    stages: dict[str, Measured]


def _checked(measured: Measured, what: str) -> Measured:
    if measured.returncode != 0:
        raise RuntimeError(f"{what} failed ({measured.returncode}): {measured.stderr[-800:]}")
    return measured


def run_size(work: Path, exchanges: int) -> SizeRun:
    """Replay, compare and report a synthetic recording of `exchanges`, each measured."""
    recording = cached(work, exchanges)
    run_dir = work / "runs" / f"memory-{exchanges}"
    report_dir = work / "reports" / f"memory-{exchanges}"
    shutil.rmtree(run_dir, ignore_errors=True)
    shutil.rmtree(report_dir, ignore_errors=True)
    stages: dict[str, Measured] = {}
    with FastTarget() as baseline, FastTarget(variant="customers") as candidate:
        scenario_file = scenario(
            work / f"memory-{exchanges}.yaml",
            recording,
            {"control": baseline.url, "candidate": candidate.url},
            baseline="control",
        )
        stages["replay"] = _checked(
            run_measured(
                [
                    str(_BIN / "shadow"),
                    "replay",
                    str(scenario_file),
                    "--out",
                    str(run_dir),
                    "--no-progress",
                ],
                timeout=6 * 3600,
            ),
            "shadow replay",
        )
    stages["compare"] = _checked(
        run_measured([str(_BIN / "shadow"), "compare", str(run_dir)], timeout=6 * 3600),
        "shadow compare",
    )
    stages["report"] = _checked(
        run_measured([str(_BIN / "shadow"), "report", str(run_dir), "--out", str(report_dir)]),
        "shadow report",
    )
    return SizeRun(exchanges, run_dir, report_dir, stages)


def size_label(exchanges: int) -> str:
    if exchanges >= 1_000_000 and exchanges % 1_000_000 == 0:
        return f"{exchanges // 1_000_000}M"
    if exchanges >= 1000 and exchanges % 1000 == 0:
        return f"{exchanges // 1000}k"
    return str(exchanges)


def figures(runs: list[SizeRun], target_ratio: float = 1.5) -> list[Figure]:
    """Peak memory per stage and size, each against the smallest size."""
    smallest = runs[0]
    found = []
    for run in runs:
        label = size_label(run.exchanges)
        for stage in STAGES:
            measured = run.stages[stage]
            base = smallest.stages[stage]
            largest = run is runs[-1] and run is not smallest
            found.append(
                Figure(
                    f"memory.{stage}_peak_mib_{label}",
                    f"memory: {stage} peak, {label} exchanges",
                    measured.peak_mib,
                    "MiB",
                    base.peak_mib if run is not smallest else None,
                    f"{size_label(smallest.exchanges)}",
                    target=f"<= {target_ratio}" if largest else "",
                    note=(
                        f"largest process; all its processes together "
                        f"{measured.peak_tree_mib:.0f} MiB; {measured.wall:.0f} s wall"
                    ),
                )
            )
        worst = max(run.stages[s].peak_mib for s in STAGES)
        base_worst = max(smallest.stages[s].peak_mib for s in STAGES)
        found.append(
            Figure(
                f"memory.peak_mib_{label}",
                f"memory: replay + compare + report, {label}",
                worst,
                "MiB",
                base_worst if run is not smallest else None,
                f"{size_label(smallest.exchanges)}",
                target=f"<= {target_ratio}" if run is runs[-1] and run is not smallest else "",
                note="the largest peak of the three stages",
            )
        )
    return found
