"""`shadow import` of HAR files of growing size, each a process of its own: peak memory
against the smallest (the import streams, so it should stay flat), and throughput.

The HAR files are written entry by entry (constant memory): Stripe-like entries, each a
POST with a form body and a JSON answer of a few KB, a third of them on another host
(dropped), with times that go back and forth so the import has to order them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench.measure import Measured, run_measured
from bench.memory import size_label
from bench.results import Figure

_BIN = Path(sys.executable).parent
_ANSWER_PADDING = "x" * 4000  # a Stripe answer is a few KB


def _entry(index: int) -> dict[str, object]:
    host = "o1.ingest.sentry.io" if index % 3 == 2 else "api.stripe.com"
    # Minutes move forward with the index; seconds go back and forth within a minute.
    minute, second = divmod(index, 60)
    started = f"2026-01-01T{(minute // 60) % 24:02d}:{minute % 60:02d}:{59 - second:02d}.000Z"
    customer = f"cus_Bench{index:010d}"
    return {
        "startedDateTime": started,
        "time": 120.5,
        "request": {
            "method": "POST",
            "url": f"https://{host}/v1/customers",
            "headers": [
                {"name": "authorization", "value": "Bearer sk_test_BenchKey000000000000"},
                {"name": "content-type", "value": "application/x-www-form-urlencoded"},
            ],
            "postData": {
                "mimeType": "application/x-www-form-urlencoded",
                "text": f"email=user{index}%40example.com&card[number]=4242424242424242",
            },
        },
        "response": {
            "status": 200,
            "headers": [{"name": "content-type", "value": "application/json"}],
            "content": {
                "mimeType": "application/json",
                "text": json.dumps(
                    {"id": customer, "object": "customer", "description": _ANSWER_PADDING}
                ),
            },
        },
    }


def write_har(path: Path, entries: int) -> Path:
    """A HAR of `entries` entries, written one at a time; reused when already there."""
    if path.exists():
        return path
    partial = path.with_suffix(".partial")
    with open(partial, "w", encoding="utf-8") as out:
        out.write('{"log": {"version": "1.2", "creator": {"name": "bench"}, "entries": [\n')
        for index in range(entries):
            out.write(("," if index else "") + json.dumps(_entry(index)) + "\n")
        out.write("]}}\n")
    partial.replace(path)
    return path


def run_size(work: Path, entries: int) -> tuple[Measured, int]:
    har = write_har(work / f"import-{entries}.har", entries)
    out = work / f"import-{entries}.jsonl"
    measured = run_measured(
        [str(_BIN / "shadow"), "import", str(har), "--out", str(out)], timeout=6 * 3600
    )
    if measured.returncode != 0:
        raise RuntimeError(f"shadow import failed: {measured.stderr[-800:]}")
    return measured, har.stat().st_size


def measure(work: Path, sizes: tuple[int, ...], target_ratio: float = 1.5) -> list[Figure]:
    runs = [(entries, *run_size(work, entries)) for entries in sizes]
    smallest_entries, smallest, _ = runs[0]
    found = []
    for entries, measured, size in runs:
        label = size_label(entries)
        largest = entries == runs[-1][0] and entries != smallest_entries
        found.append(
            Figure(
                f"import.peak_mib_{label}",
                f"import: peak, HAR of {label} entries ({size / 2**20:.0f} MiB)",
                measured.peak_mib,
                "MiB",
                smallest.peak_mib if entries != smallest_entries else None,
                size_label(smallest_entries),
                target=f"<= {target_ratio}" if largest else "",
                note=f"{measured.wall:.0f} s wall, {size / 2**20 / measured.wall:.1f} MiB/s",
            )
        )
    return found
