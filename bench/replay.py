"""Replay throughput: `shadow replay` against the fast target, beside a minimal raw httpx
client sending the same requests with the same concurrency, and beside mitmproxy's own
client replay (`mitmdump -n -C`) of the same traffic.

Each command runs as a process of its own, start to end (planning, reading, writing the
run directory included); the two take turns, `repeats` times, and medians are compared.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from bench.flows import write_flows
from bench.measure import Measured, run_measured
from bench.results import Figure, median
from bench.scenarios import scenario
from bench.synth import cached
from bench.target import FastTarget

_BIN = Path(sys.executable).parent


def _shadow_replay(scenario_file: Path, out: Path, concurrency: int) -> Measured:
    shutil.rmtree(out, ignore_errors=True)
    measured = run_measured(
        [
            str(_BIN / "shadow"),
            "replay",
            str(scenario_file),
            "--out",
            str(out),
            "--no-progress",
            "--concurrency",
            str(concurrency),
        ]
    )
    if measured.returncode != 0:
        raise RuntimeError(f"shadow replay failed: {measured.stderr[-500:]}")
    shutil.rmtree(out, ignore_errors=True)
    return measured


def _raw(recording: Path, url: str, concurrency: int, client: str) -> Measured:
    measured = run_measured(
        [
            sys.executable,
            "-m",
            "bench.rawclient",
            str(recording),
            url,
            "--concurrency",
            str(concurrency),
            "--client",
            client,
        ]
    )
    if measured.returncode != 0:
        raise RuntimeError(f"raw {client} client failed: {measured.stderr[-500:]}")
    return measured


def throughput(
    work: Path, exchanges: int, repeats: int, concurrency: int = 8, latency: float = 0.0
) -> list[Figure]:
    """`shadow replay` vs raw httpx and aiohttp clients: exchanges per second and CPU."""
    recording = cached(work, exchanges)
    suffix = f"{latency * 1000:g}ms"
    walls: dict[str, list[float]] = {"shadow": [], "httpx": [], "aiohttp": []}
    cpus: dict[str, list[float]] = {"shadow": [], "httpx": [], "aiohttp": []}
    with FastTarget(latency=latency) as target:
        scenario_file = scenario(
            work / f"throughput-{suffix}.yaml", recording, {"fast": target.url}
        )
        for _ in range(repeats):
            runs = {
                "httpx": _raw(recording, target.url, concurrency, "httpx"),
                "shadow": _shadow_replay(scenario_file, work / "runs" / "throughput", concurrency),
                "aiohttp": _raw(recording, target.url, concurrency, "aiohttp"),
            }
            for name, measured in runs.items():
                walls[name].append(measured.wall)
                cpus[name].append(measured.cpu)
    note = (
        f"{exchanges} exchanges, concurrency {concurrency}, target latency {suffix}, "
        f"median of {repeats}"
    )
    rate = {name: exchanges / median(values) for name, values in walls.items()}
    cpu = {name: median(values) / exchanges * 1e3 for name, values in cpus.items()}
    return [
        Figure(
            f"replay.throughput_{suffix}",
            f"replay: throughput, target latency {suffix}",
            rate["shadow"],
            "exchanges/s",
            rate["httpx"],
            "raw httpx client",
            target=">= 0.8",
            note=note,
        ),
        Figure(
            f"replay.throughput_vs_aiohttp_{suffix}",
            f"replay: throughput vs raw aiohttp, latency {suffix}",
            rate["shadow"],
            "exchanges/s",
            rate["aiohttp"],
            "raw aiohttp client",
            note="the HTTP client the engine itself uses",
        ),
        Figure(
            f"replay.cpu_per_exchange_{suffix}",
            f"replay: CPU per exchange, target latency {suffix}",
            cpu["shadow"],
            "ms",
            cpu["httpx"],
            "raw httpx client",
            note=(
                f"every process of each command (result writers included); "
                f"raw aiohttp client {cpu['aiohttp']:.3f} ms"
            ),
        ),
    ]


def against_mitmproxy(work: Path, exchanges: int) -> list[Figure]:
    """`shadow replay` vs `mitmdump -n -C` on the same flows: exchanges per second."""
    recording = cached(work, exchanges)
    flows = work / f"flows-{exchanges}.mitm"
    with FastTarget() as target:
        write_flows(recording, target.url, flows)
        mitm = run_measured([str(_BIN / "mitmdump"), "-q", "-n", "-C", str(flows)])
        if mitm.returncode != 0:
            raise RuntimeError(f"mitmdump failed: {mitm.stderr[-500:]}")
        scenario_file = scenario(work / "against-mitmproxy.yaml", recording, {"fast": target.url})
        out = work / "runs" / "against-mitmproxy"
        sequential = _shadow_replay(scenario_file, out, 1)
        parallel = _shadow_replay(scenario_file, out, 8)
    mitm_rate = exchanges / mitm.wall
    note = f"{exchanges} exchanges; mitmproxy replays one at a time, a new connection each"
    return [
        Figure(
            "replay.vs_mitmproxy",
            "replay: throughput vs mitmproxy client replay",
            exchanges / parallel.wall,
            "exchanges/s",
            mitm_rate,
            "mitmdump -n -C",
            note=note + "; shadow at concurrency 8",
        ),
        Figure(
            "replay.vs_mitmproxy_sequential",
            "replay: throughput vs mitmproxy, one at a time",
            exchanges / sequential.wall,
            "exchanges/s",
            mitm_rate,
            "mitmdump -n -C",
            note="shadow at concurrency 1",
        ),
    ]
