"""Replay throughput: `shadow replay` against the fast target, beside a minimal raw httpx
client sending the same requests with the same concurrency, and beside mitmproxy's own
client replay (`mitmdump -n -C`) of the same traffic. Beside them: the engine process's
own CPU (bench.engineprocess), the time to its first request (the fast target notes it),
and what held its concurrency back (run.json's `engine`).

Each command runs as a process of its own, start to end (planning, reading, writing the
run directory included); the two take turns, `repeats` times, and medians are compared.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.flows import write_flows
from bench.measure import ROOT, Measured, compile_harness, run_measured
from bench.results import Figure, median
from bench.scenarios import scenario
from bench.synth import cached
from bench.target import FastTarget

_BIN = Path(sys.executable).parent


@dataclass(slots=True)
class ShadowRun:
    """One `shadow replay` measured: the whole command, the engine process's own CPU, when
    its first request reached the target, and what run.json says held the engine back."""

    measured: Measured
    engine_cpu: float  # seconds, the engine process alone
    first_request: float | None  # seconds from the command's start
    engine: dict[str, Any]  # run.json: the target's `engine` ({} from a harness without it)
    head: int | None = None  # run.json: exchanges sent one at a time while planning


def _shadow_replay(
    scenario_file: Path, out: Path, concurrency: int, target: FastTarget | None = None
) -> ShadowRun:
    shutil.rmtree(out, ignore_errors=True)
    cpu_file = out.with_name(out.name + ".cpu.json")
    if target is not None:
        target.take_first_request()  # forget the raw clients' requests
    begin = time.time()
    measured = run_measured(
        [
            sys.executable,
            "-m",
            "bench.engineprocess",
            str(cpu_file),
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
    first = target.take_first_request() if target is not None else None
    engine_cpu = json.loads(cpu_file.read_text())["cpu"]
    cpu_file.unlink()
    run = json.loads((out / "run.json").read_text())
    engine = run["targets"][0].get("engine") or {}
    head = run["targets"][0].get("head")
    shutil.rmtree(out, ignore_errors=True)
    return ShadowRun(
        measured, engine_cpu, first - begin if first is not None else None, engine, head
    )


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
    """`shadow replay` vs raw httpx and aiohttp clients: exchanges per second and CPU, the
    engine process's own CPU, time to the first request, and what held concurrency back."""
    recording = cached(work, exchanges)
    suffix = f"{latency * 1000:g}ms"
    walls: dict[str, list[float]] = {"shadow": [], "httpx": [], "aiohttp": []}
    cpus: dict[str, list[float]] = {"shadow": [], "httpx": [], "aiohttp": []}
    shadows: list[ShadowRun] = []
    with FastTarget(latency=latency) as target:
        scenario_file = scenario(
            work / f"throughput-{suffix}.yaml", recording, {"fast": target.url}
        )
        for _ in range(repeats):
            httpx = _raw(recording, target.url, concurrency, "httpx")
            shadow = _shadow_replay(
                scenario_file, work / "runs" / "throughput", concurrency, target
            )
            shadows.append(shadow)
            runs = {
                "httpx": httpx,
                "shadow": shadow.measured,
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
    engine_cpu = median([s.engine_cpu for s in shadows]) / exchanges * 1e3
    firsts = [s.first_request for s in shadows if s.first_request is not None]
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
            target=">= 0.85" if latency > 0 else "",
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
        Figure(
            f"replay.engine_cpu_per_exchange_{suffix}",
            f"replay: engine process CPU per exchange, latency {suffix}",
            engine_cpu * 1e3,
            "µs",
            cpu["aiohttp"] * 1e3,
            "raw aiohttp client",
            note=(
                "the engine's process alone, not the planner's nor the result writers'"
                + ("; issue 25 asks <= 300 µs" if latency == 0 else "")
            ),
        ),
        Figure(
            f"replay.first_request_{suffix}",
            f"replay: time to first request, latency {suffix}",
            median(firsts) if firsts else float("nan"),
            "s",
            note=f"from the command's start to the target's first request; {exchanges} exchanges",
        ),
        _held_back(suffix, concurrency, shadows),
    ]


def _held_back(suffix: str, concurrency: int, shadows: list[ShadowRun]) -> Figure:
    """Requests in flight against the concurrency allowed (the slots in use), the waits
    that explain a gap (run.json: the target's `engine`; medians over the repeats), and
    the command's time around its sending: before the first request, the exchanges sent
    one at a time while planning (the head), and after the last answer."""
    found = [s.engine for s in shadows if s.engine]
    if not found:
        return Figure(
            f"replay.in_flight_{suffix}",
            f"replay: mean requests in flight, latency {suffix}",
            float("nan"),
            "requests",
            note="the harness measured reports no `engine` in run.json",
        )

    def waited(name: str) -> str:
        seconds = median([e["waits"].get(name, {}).get("seconds", 0.0) for e in found])
        count = median([e["waits"].get(name, {}).get("count", 0) for e in found])
        return f"{name} {seconds:.2f} s ({count:.0f} waits)"

    peak = max(e["in_flight_peak"] for e in found)
    around = [
        (s.first_request, s.measured.wall - s.first_request - s.engine["sending_seconds"])
        for s in shadows
        if s.engine and s.first_request is not None
    ]
    heads = [s.head for s in shadows if s.head is not None]
    timed = [e for e in found if "head_seconds" in e]
    outside = (
        f"; before the first request {median([b for b, _ in around]):.2f} s, after the "
        f"last answer {median([a for _, a in around]):.2f} s"
        if around
        else ""
    ) + (f"; head {median(heads):.0f} exchanges" if heads else "")
    if timed:
        # The head sends one at a time: the planned replay's own mean says what the plan's
        # orderings and the engine's loop leave of the concurrency.
        outside += (
            f" in {median([e['head_seconds'] for e in timed]):.2f} s, then "
            f"{median([e['in_flight_mean_planned'] for e in timed]):.2f} in flight"
        )
    return Figure(
        f"replay.in_flight_{suffix}",
        f"replay: mean requests in flight, latency {suffix}",
        median([e["in_flight_mean"] for e in found]),
        "requests",
        float(concurrency),
        "concurrency",
        note=(
            f"peak {peak}; journeys waited (summed over journeys): "
            + ", ".join(waited(name) for name in ("barrier", "slot", "reader", "writer"))
            + f"; sending took {median([e['sending_seconds'] for e in found]):.2f} s"
            + outside
        ),
    )


def first_request(work: Path, exchanges: int, timeout: float = 600.0) -> list[Figure]:
    """How long `shadow replay` of a large recording takes to send its first request: it
    runs until the target sees one, then is stopped (SIGTERM, as Ctrl-C). The replay does
    not wait for its plan (docs/replay.md, "Sending while planning"), so this is the
    command's start-up: imports, the scenario, the planner's fork, the run directory."""
    recording = cached(work, exchanges)
    compile_harness()
    out = work / "runs" / "first-request"
    shutil.rmtree(out, ignore_errors=True)
    with FastTarget() as target:
        scenario_file = scenario(work / "first-request.yaml", recording, {"fast": target.url})
        target.take_first_request()
        begin = time.time()
        command = ["replay", str(scenario_file), "--out", str(out), "--no-progress"]
        process = subprocess.Popen(
            [str(_BIN / "shadow"), *command],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # This tree's harness, as run_measured gives it: the venv's own may be another.
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        first = None
        try:
            while first is None and process.poll() is None and time.time() - begin < timeout:
                time.sleep(0.02)
                first = target.take_first_request()
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    shutil.rmtree(out, ignore_errors=True)
    if first is None:
        raise RuntimeError(f"shadow replay sent nothing within {timeout:g} s")
    return [
        Figure(
            f"replay.first_request_{exchanges}",
            f"replay: time to first request, {exchanges:,} exchanges",
            first - begin,
            "s",
            0.5,
            "issue 25's bound (s)",
            target="<= 1.0",
            note=(
                "from the command's start to the target's first request; the plan is "
                "made meanwhile (the head is sent in recorded order while it is)"
            ),
        )
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
        sequential = _shadow_replay(scenario_file, out, 1).measured
        parallel = _shadow_replay(scenario_file, out, 8).measured
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
