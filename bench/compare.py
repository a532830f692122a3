"""Compare throughput: exchanges per CPU second of `shadow compare` on a run whose
answers all match the recording once normalised, and on one where every answer differs
(the fast target answering like a new API version), each beside the floor a hand-written
script reaches (`bench.comparefloor`: parse both sides and test `==`)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from bench.measure import run_measured
from bench.results import Figure
from bench.scenarios import scenario
from bench.synth import cached
from bench.target import FastTarget

_BIN = Path(sys.executable).parent


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


def throughput(work: Path, exchanges: int) -> list[Figure]:
    recording = cached(work, exchanges)
    figures = []
    for name, variant, label in (
        ("identical", "", "answers that match"),
        ("differing", "all", "answers that all differ"),
    ):
        run = replayed_run(work, recording, f"compare-{name}", variant)
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
        summary = json.loads((run / "summary.json").read_text())
        outcomes = summary["candidates"]["candidate"]["outcomes"]
        figures.append(
            Figure(
                f"compare.{name}_per_core",
                f"compare: {label}, per core",
                exchanges / compared.cpu,
                "exchanges/s",
                exchanges / floor.cpu,
                "parse + == script",
                note=(
                    f"{exchanges} exchanges, {exchanges / compared.wall:,.0f}/s wall; "
                    f"outcomes {outcomes}"
                ),
            )
        )
    return figures
