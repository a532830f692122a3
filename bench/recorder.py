"""Recorder overhead: `shadow record` against a bare `mitmdump` reverse proxy with no
addon, both in front of the fast target, driven by the same requests one at a time.

Latency is the client's, per request; CPU is the proxy process's own (from /proc), per
request. The two proxies take turns in rounds, so a busy machine slows both alike.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.measure import ROOT, cpu_seconds
from bench.results import Figure, median
from bench.target import FastTarget
from harness.formats.recording import RecordingReader
from harness.model import Request
from harness.replay.launch.process import free_port

_SKIPPED = frozenset({"host", "content-length", "connection", "accept-encoding"})
_READY_TIMEOUT = 30.0


@contextmanager
def _proxy(command: list[str], url: str) -> Iterator[int]:
    """Start a proxy, wait until it answers, yield its pid, stop it."""
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + _READY_TIMEOUT
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while True:
                try:
                    client.get(url + "/v1/ready")
                    break
                except httpx.TransportError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"{command[0]} did not start") from None
                    time.sleep(0.1)
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _requests(recording: Path, count: int) -> list[Request]:
    found = []
    with RecordingReader(recording) as reader:
        for exchange in reader:
            if len(found) >= count:
                break
            found.append(exchange.request)
    return found


def _drive(client: httpx.Client, url: str, requests: list[Request]) -> list[float]:
    """Send each request once, in order; the latency of each."""
    latencies = []
    for request in requests:
        headers = [(k, v) for k, v in request.headers if k.lower() not in _SKIPPED]
        begin = time.perf_counter()
        client.request(request.method, url + request.target, headers=headers, content=request.text)
        latencies.append(time.perf_counter() - begin)
    return latencies


def measure(work: Path, recording: Path, requests: int, rounds: int) -> list[Figure]:
    """Latency and CPU per request of `shadow record` and of bare mitmdump."""
    load = _requests(recording, requests)
    bin_dir = Path(sys.executable).parent
    out = work / "recorder-bench.jsonl"
    latencies: dict[str, list[float]] = {"bare": [], "shadow": []}
    cpu: dict[str, float] = {"bare": 0.0, "shadow": 0.0}
    with FastTarget() as target:
        bare_port, shadow_port = free_port(), free_port()
        bare = [
            str(bin_dir / "mitmdump"),
            "-q",
            "--mode",
            f"reverse:{target.url}",
            "--listen-host",
            "127.0.0.1",
            "-p",
            str(bare_port),
            "--set",
            "connection_strategy=lazy",
        ]
        shadow = [
            str(bin_dir / "shadow"),
            "record",
            "--out",
            str(out),
            "--upstream",
            target.url,
            "--listen",
            f"127.0.0.1:{shadow_port}",
        ]
        bare_url = f"http://127.0.0.1:{bare_port}"
        shadow_url = f"http://127.0.0.1:{shadow_port}"
        with (
            _proxy(bare, bare_url) as bare_pid,
            _proxy(shadow, shadow_url) as shadow_pid,
            httpx.Client(timeout=10.0, trust_env=False) as client,
        ):
            warm = load[: min(50, len(load))]
            _drive(client, bare_url, warm)
            _drive(client, shadow_url, warm)
            for _ in range(rounds):
                for name, pid, url in (
                    ("bare", bare_pid, bare_url),
                    ("shadow", shadow_pid, shadow_url),
                ):
                    before = cpu_seconds(pid)
                    latencies[name].extend(_drive(client, url, load))
                    cpu[name] += cpu_seconds(pid) - before
    sent = requests * rounds
    bare_cpu, shadow_cpu = cpu["bare"] / sent * 1e3, cpu["shadow"] / sent * 1e3
    bare_latency = median(latencies["bare"]) * 1e3
    shadow_latency = median(latencies["shadow"]) * 1e3
    return [
        Figure(
            "recorder.latency_ms",
            "recorder: latency per request (median)",
            shadow_latency,
            "ms",
            bare_latency,
            "bare mitmdump",
            target="<= 1.25",
            note=f"{sent} requests per proxy, one at a time, {rounds} alternating rounds",
        ),
        Figure(
            "recorder.cpu_ms_per_request",
            "recorder: proxy CPU per request",
            shadow_cpu,
            "ms",
            bare_cpu,
            "bare mitmdump",
            target="<= 1.25",
        ),
    ]
