"""Sharded replay and compare (`--cluster`, docs/distributed.md) beside one process.

The synthetic recording is replayed against the fast target by `shadow replay` in one
process, with `--cluster local:1` and `local:2` (a LocalCluster the command starts and
stops), and with `--cluster tcp://...` against a `dask scheduler` and two `dask worker`
processes started beforehand, as on a real cluster. Then the single-process run is
compared by `shadow compare` and by `shadow compare --cluster` on those workers. Each
figure is exchanges per second, and its ratio to the single process's. Where the time
of a sharded replay goes beside the shards' own work is read from its run.json
(`settings.shards.seconds`: split, shards, fold).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.measure import Measured, run_measured
from bench.results import Figure, median
from bench.scenarios import scenario
from bench.synth import cached
from bench.target import FastTarget
from harness.distributed.cluster import connect

_BIN = Path(sys.executable).parent


@dataclass(slots=True)
class DaskCluster:
    """A running scheduler's address, and its worker processes."""

    address: str
    workers: list[subprocess.Popen[bytes]]


@contextlib.contextmanager
def dask_cluster(
    folder: Path, workers: int = 2, env: dict[str, str] | None = None
) -> Iterator[DaskCluster]:
    """A `dask scheduler` and `workers` `dask worker` processes on 127.0.0.1 (one thread
    each, no nanny, no dashboard), logging under `folder`, stopped after the block.
    tests/test_distributed.py runs its cluster with this too."""
    from distributed import Client

    folder.mkdir(parents=True, exist_ok=True)
    # The scheduler takes a free port itself and says which in this file: a port chosen
    # here could be taken by another process before the scheduler binds it.
    scheduler_file = folder / "scheduler.json"
    scheduler_file.unlink(missing_ok=True)
    launched = {"env": {**os.environ, **(env or {})}, "stdout": subprocess.DEVNULL}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with open(folder / "scheduler.log", "wb") as log:
            processes.append(
                subprocess.Popen(
                    [
                        *(str(_BIN / "dask"), "scheduler", "--host", "127.0.0.1"),
                        *("--port", "0", "--scheduler-file", str(scheduler_file)),
                        "--no-dashboard",
                        # its HTTP server (health, metrics) listens even so: on loopback
                        *("--dashboard-address", "127.0.0.1:0"),
                    ],
                    stderr=log,
                    **launched,  # type: ignore[call-overload]
                )
            )
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.1)  # written whole
        address = json.loads(scheduler_file.read_text())["address"]
        for number in range(workers):
            with open(folder / f"worker{number}.log", "wb") as log:
                processes.append(
                    subprocess.Popen(
                        [
                            *(str(_BIN / "dask"), "worker", "--host", "127.0.0.1"),
                            *("--scheduler-file", str(scheduler_file)),
                            *("--nthreads", "1", "--no-nanny", "--no-dashboard"),
                            *("--dashboard-address", "127.0.0.1:0"),
                            *("--local-directory", str(folder / f"w{number}")),
                        ],
                        stderr=log,
                        **launched,  # type: ignore[call-overload]
                    )
                )
        with Client(address, timeout=30) as client:
            client.wait_for_workers(workers, timeout=60)
        yield DaskCluster(address, processes[1:])
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _replay(
    scenario_file: Path, out: Path, cluster: str | None
) -> tuple[Measured, dict[str, float]]:
    shutil.rmtree(out, ignore_errors=True)
    command = [str(_BIN / "shadow"), "replay", str(scenario_file), "--out", str(out)]
    command += ["--no-progress", "--concurrency", "8"]
    if cluster is not None:
        command += ["--cluster", cluster]
    measured = run_measured(command)
    if measured.returncode != 0:
        raise RuntimeError(f"shadow replay failed: {measured.stderr[-800:]}")
    settings = json.loads((out / "run.json").read_text())["settings"]
    seconds = dict((settings.get("shards") or {}).get("seconds") or {})
    return measured, seconds


def _compare(run: Path, cluster: str | None) -> Measured:
    command = [str(_BIN / "shadow"), "compare", str(run)]
    if cluster is not None:
        command += ["--cluster", cluster]
    measured = run_measured(command)
    if measured.returncode != 0:
        raise RuntimeError(f"shadow compare failed: {measured.stderr[-800:]}")
    return measured


def measure(work: Path, exchanges: int, repeats: int) -> list[Figure]:
    """Throughput of sharded replay and compare, against one process."""
    recording = cached(work, exchanges)
    runs = work / "runs" / "distributed"
    walls: dict[str, list[float]] = {}
    split: dict[str, list[float]] = {}
    compares: dict[str, list[float]] = {"single": [], "cluster": []}
    with FastTarget() as target, dask_cluster(work / "dask") as cluster:
        scenario_file = scenario(work / "distributed.yaml", recording, {"fast": target.url})
        address = cluster.address
        ways = {"single": None, "local1": "local:1", "local2": "local:2", "separate": address}
        for _ in range(repeats):
            for name, cluster in ways.items():
                measured, seconds = _replay(scenario_file, runs / name, cluster)
                walls.setdefault(name, []).append(measured.wall)
                for part, value in seconds.items():
                    split.setdefault(f"{name}.{part}", []).append(value)
            compares["single"].append(_compare(runs / "single", None).wall)
            compares["cluster"].append(_compare(runs / "single", address).wall)
    starts = []
    for _ in range(repeats):
        begin = time.perf_counter()
        with connect("local:2"):
            pass
        starts.append(time.perf_counter() - begin)
    rate = {name: exchanges / median(values) for name, values in walls.items()}
    spent = {key: median(values) for key, values in split.items()}

    def where(name: str) -> str:
        parts = ("split", "shards", "fold")
        told = ", ".join(f"{part} {spent.get(f'{name}.{part}', 0):.1f} s" for part in parts)
        return f"of {median(walls[name]):.1f} s: {told}"

    note = f"{exchanges} exchanges, concurrency 8 per shard, fast target, median of {repeats}"
    compare_rate = {name: exchanges / median(values) for name, values in compares.items()}
    return [
        Figure(
            "distributed.replay_local_1",
            "sharded replay: --cluster local:1",
            rate["local1"],
            "exchanges/s",
            rate["single"],
            "one process",
            note=f"{note}; {where('local1')}",
        ),
        Figure(
            "distributed.replay_local_2",
            "sharded replay: --cluster local:2",
            rate["local2"],
            "exchanges/s",
            rate["single"],
            "one process",
            note=f"{where('local2')}; starting and stopping local:2 alone {median(starts):.1f} s",
        ),
        Figure(
            "distributed.replay_scheduler_2_workers",
            "sharded replay: dask scheduler + 2 workers",
            rate["separate"],
            "exchanges/s",
            rate["single"],
            "one process",
            note=f"separate processes, started beforehand; {where('separate')}",
        ),
        Figure(
            "distributed.compare_scheduler_2_workers",
            "sharded compare: dask scheduler + 2 workers",
            compare_rate["cluster"],
            "exchanges/s",
            compare_rate["single"],
            "one process",
            note="two rounds per pair of sides (firsts, then outcomes); exact",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.distributed [EXCHANGES] [REPEATS]`: these figures alone."""
    from bench.measure import ROOT
    from bench.results import table

    args = argv if argv is not None else sys.argv[1:]
    exchanges = int(args[0]) if args else 5000
    repeats = int(args[1]) if len(args) > 1 else 1
    work = ROOT / "build" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    figures = measure(work.resolve(), exchanges, repeats)
    print(table(figures))
    for figure in figures:
        print(f"{figure.label}: {figure.note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
