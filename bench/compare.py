"""Compare throughput: exchanges per CPU second of `shadow compare` on a run whose
answers all match the recording once normalised, and on one where every answer differs
(the fast target answering like a new API version), each beside the floor a hand-written
script reaches (`bench.comparefloor`: parse both sides and test `==`). The two take
turns, `repeats` times, and medians are compared, so a busy machine slows both alike.

    python -m bench.compare --exchanges 20000 --repeats 3   # this measurement alone
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from bench.measure import ROOT, run_measured
from bench.results import Figure, median, table
from bench.scenarios import scenario
from bench.synth import cached
from bench.target import FastTarget

_BIN = Path(sys.executable).parent
# The ratios of issue 25: answers that match at 0.7 of the floor from 20,000 exchanges
# on (0.5 below, where start-up weighs more), answers that differ at 0.3.
_MATCHING_TARGET, _MATCHING_QUICK_TARGET, _DIFFERING_TARGET = 0.7, 0.5, 0.3
_FULL_SIZE = 20_000


def replayed_run(work: Path, recording: Path, name: str, variant: str) -> Path:
    """A finished run of `recording` against a fast target (made once per recording)."""
    out = work / "runs" / f"{name}-{recording.stem}"
    run_json = out / "run.json"
    if run_json.exists() and json.loads(run_json.read_text()).get("status") == "finished":
        return out
    shutil.rmtree(out, ignore_errors=True)
    with FastTarget(variant=variant) as target:
        scenario_file = scenario(work / f"{name}.yaml", recording, {"candidate": target.url})
        measured = run_measured(
            [str(_BIN / "shadow"), "replay", str(scenario_file), "--out", str(out), "--no-progress"]
        )
    if measured.returncode != 0:
        raise RuntimeError(f"shadow replay failed: {measured.stderr[-500:]}")
    return out


def _target(name: str, exchanges: int) -> str:
    if name == "differing":
        return f">= {_DIFFERING_TARGET}"
    return f">= {_MATCHING_TARGET if exchanges >= _FULL_SIZE else _MATCHING_QUICK_TARGET}"


def throughput(work: Path, exchanges: int, repeats: int = 3) -> list[Figure]:
    recording = cached(work, exchanges)
    figures = []
    for name, variant, label in (
        ("identical", "", "answers that match"),
        ("differing", "all", "answers that all differ"),
    ):
        run = replayed_run(work, recording, f"compare-{name}", variant)
        cpus: list[float] = []
        walls: list[float] = []
        floors: list[float] = []
        for _ in range(repeats):
            compared = run_measured([str(_BIN / "shadow"), "compare", str(run)])
            if compared.returncode != 0:
                raise RuntimeError(f"shadow compare failed: {compared.stderr[-500:]}")
            floor = run_measured(
                [
                    sys.executable,
                    "-m",
                    "bench.comparefloor",
                    str(recording),
                    str(run / "candidate.jsonl"),
                ]
            )
            cpus.append(compared.cpu)
            walls.append(compared.wall)
            floors.append(floor.cpu)
        summary = json.loads((run / "summary.json").read_text())
        outcomes = summary["candidates"]["candidate"]["outcomes"]
        load = os.getloadavg()[0]
        figures.append(
            Figure(
                f"compare.{name}_per_core",
                f"compare: {label}, per core",
                exchanges / median(cpus),
                "exchanges/s",
                exchanges / median(floors),
                "parse + == script",
                target=_target(name, exchanges),
                note=(
                    f"{exchanges} exchanges, median of {repeats}, "
                    f"{exchanges / median(walls):,.0f}/s wall, load {load:.1f}; "
                    f"outcomes {outcomes}"
                ),
            )
        )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__)
    parser.add_argument("--exchanges", type=int, default=_FULL_SIZE)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "bench")
    args = parser.parse_args(argv)
    figures = throughput(args.work, args.exchanges, args.repeats)
    print(table(figures))
    for figure in figures:
        print(f"- {figure.label}: {figure.note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
