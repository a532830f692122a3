"""Run every benchmark and print one table (docs/performance.md):

    python -m bench                 # the full run: about half an hour on 2 cores (1M exchanges)
    python -m bench --quick         # a few minutes: smaller sizes, no million
    python -m bench --json FILE     # the same figures, with stable keys
    python -m bench --only replay,memory

Every figure is a ratio against a baseline measured in the same run. Recordings, flow
files and runs go under --work (build/bench/); recordings are kept and reused.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from bench import (
    compare,
    distributed,
    fidelity,
    importer,
    integration_map,
    memory,
    reconcile,
    recorder,
    replay,
    report,
)
from bench.measure import ROOT
from bench.results import Figure, table, write_json
from bench.synth import cached

MEASUREMENTS = (
    "replay",
    "mitmproxy",
    "compare",
    "recorder",
    "memory",
    "report",
    "fidelity",
    "import",
    "map",
    "reconcile",
    "distributed",
)


@dataclass(frozen=True, slots=True)
class Sizes:
    """How big each measurement is."""

    throughput: int
    throughput_slow: int
    repeats: int
    mitmproxy: int
    compare: int
    recorder_requests: int
    recorder_rounds: int
    memory: tuple[int, ...]
    imports: tuple[int, ...]  # HAR entries (about 4.5 KB each)
    fidelity_seeds: int = 20  # seeds of traffic replayed twin against twin once
    fidelity_requests: int = 300  # requests a seed records
    fidelity_large: int = 1500  # requests of the largest recording...
    fidelity_runs: int = 10  # ...replayed this many times
    first_request: int = 100_000  # exchanges of the recording whose first request is timed


FULL = Sizes(
    30_000, 10_000, 3, 5_000, 30_000, 500, 4, (10_000, 100_000, 1_000_000), (2_000, 100_000)
)
QUICK = Sizes(
    5_000, 2_000, 1, 1_000, 5_000, 200, 2, (2_000, 20_000), (1_000, 10_000), 4, 150, 500, 3, 20_000
)


def _progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(work: Path, sizes: Sizes, only: set[str]) -> list[Figure]:
    figures: list[Figure] = []

    def measure(name: str, what: Callable[[], list[Figure]]) -> None:
        if name not in only:
            return
        _progress(f"{name} ...")
        begin = time.perf_counter()
        found = what()
        figures.extend(found)
        _progress(f"{name}: done in {time.perf_counter() - begin:.0f} s")
        print(table(found), file=sys.stderr, flush=True)

    measure(
        "replay",
        lambda: (
            replay.throughput(work, sizes.throughput, sizes.repeats)
            + replay.throughput(work, sizes.throughput_slow, sizes.repeats, latency=0.005)
            + replay.first_request(work, sizes.first_request)
        ),
    )
    measure("mitmproxy", lambda: replay.against_mitmproxy(work, sizes.mitmproxy))
    measure("compare", lambda: compare.throughput(work, sizes.compare))
    measure(
        "recorder",
        lambda: recorder.measure(
            work,
            cached(work, sizes.recorder_requests),
            sizes.recorder_requests,
            sizes.recorder_rounds,
        ),
    )
    measure(
        "fidelity",
        lambda: (
            fidelity.parallelism(work, sizes.memory[:2], sizes.fidelity_requests)
            + fidelity.seeds(work, sizes.fidelity_seeds, sizes.fidelity_requests)
            + fidelity.repeated(work, sizes.fidelity_large, sizes.fidelity_runs)
        ),
    )
    measure("import", lambda: importer.measure(work, sizes.imports))
    measure("map", lambda: integration_map.measure(work, sizes.memory))
    measure("reconcile", lambda: reconcile.measure(work, sizes.memory))
    measure("distributed", lambda: distributed.measure(work, sizes.throughput, sizes.repeats))
    if only & {"memory", "report"}:
        runs: list[memory.SizeRun] = []
        for exchanges in sizes.memory:
            _progress(f"memory: {exchanges} exchanges ...")
            runs.append(memory.run_size(work, exchanges))
        if "memory" in only:
            figures.extend(memory.figures(runs))
        if "report" in only:
            figures.extend(report.figures(runs[0], runs[min(1, len(runs) - 1)]))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, no million")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--only", default=",".join(MEASUREMENTS), help=f"some of: {', '.join(MEASUREMENTS)}"
    )
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "bench")
    args = parser.parse_args(argv)
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = only - set(MEASUREMENTS)
    if unknown:
        parser.error(f"--only: unknown {', '.join(sorted(unknown))}")
    sizes = QUICK if args.quick else FULL
    args.work.mkdir(parents=True, exist_ok=True)
    figures = run(args.work.resolve(), sizes, only)
    print(table(figures))
    if args.json is not None:
        write_json(args.json, figures, {"quick": args.quick, "sizes": asdict(sizes)})
    missed = [figure.key for figure in figures if figure.met is False]
    if missed:
        print(f"targets missed: {', '.join(missed)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
