"""`shadow map` of synthetic recordings of growing size, each a process of its own: peak
memory against the smallest (the map streams and keeps only its open edges, so it should
stay flat), and CPU time against `shadow inspect` of the same recording, one plain
streaming read of it, measured beside it in the same run (CPU, not wall time: the kernel
counts it the same however busy a shared machine is; wall time is in the note)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench.measure import Measured, run_measured
from bench.memory import size_label
from bench.results import Figure
from bench.synth import cached

_BIN = Path(sys.executable).parent


def _checked(measured: Measured, what: str) -> Measured:
    if measured.returncode != 0:
        raise RuntimeError(f"{what} failed ({measured.returncode}): {measured.stderr[-800:]}")
    return measured


def run_size(work: Path, exchanges: int) -> tuple[Measured, Measured, int]:
    """Map and inspect a synthetic recording of `exchanges`; map.json's size in bytes."""
    recording = cached(work, exchanges)
    out = work / "maps" / f"map-{exchanges}"
    mapped = _checked(
        run_measured(
            [str(_BIN / "shadow"), "map", str(recording), "--out", str(out)], timeout=6 * 3600
        ),
        "shadow map",
    )
    read = _checked(
        run_measured([str(_BIN / "shadow"), "inspect", str(recording), "--json"], timeout=6 * 3600),
        "shadow inspect",
    )
    document = json.loads((out / "map.json").read_text())
    if document["exchanges"] != exchanges:
        raise RuntimeError(f"the map of {recording} holds {document['exchanges']} exchanges")
    return mapped, read, (out / "map.json").stat().st_size


def measure(work: Path, sizes: tuple[int, ...], target_ratio: float = 1.5) -> list[Figure]:
    runs = [(exchanges, *run_size(work, exchanges)) for exchanges in sizes]
    smallest_exchanges, smallest, _, _ = runs[0]
    found = []
    for exchanges, mapped, read, size in runs:
        label = size_label(exchanges)
        largest = exchanges == runs[-1][0] and exchanges != smallest_exchanges
        found.append(
            Figure(
                f"map.cpu_seconds_{label}",
                f"map: CPU time, {label} exchanges",
                mapped.cpu,
                "s",
                read.cpu,
                "shadow inspect",
                note=(
                    f"{1e6 * mapped.cpu / exchanges:.0f} µs CPU an exchange; "
                    f"{mapped.wall:.0f} s wall; map.json {size / 2**20:.1f} MiB"
                ),
            )
        )
        found.append(
            Figure(
                f"map.peak_mib_{label}",
                f"map: peak, {label} exchanges",
                mapped.peak_mib,
                "MiB",
                smallest.peak_mib if exchanges != smallest_exchanges else None,
                size_label(smallest_exchanges),
                target=f"<= {target_ratio}" if largest else "",
                note=f"shadow inspect of it peaks at {read.peak_mib:.0f} MiB",
            )
        )
    return found
