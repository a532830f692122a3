"""Report generation: time and size of `shadow report` for a large run, beside the same for
the smallest run of the memory measurement (the page's size should follow the number of
causes, not of exchanges)."""

from __future__ import annotations

from pathlib import Path

from bench.memory import SizeRun, size_label
from bench.results import Figure


def _size(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.iterdir() if path.is_file())


def figures(small: SizeRun, large: SizeRun) -> list[Figure]:
    small_report, large_report = small.stages["report"], large.stages["report"]
    label, base = size_label(large.exchanges), size_label(small.exchanges)
    html = (large.report_dir / "index.html").stat().st_size
    return [
        Figure(
            f"report.seconds_{label}",
            f"report: time, {label} exchanges",
            large_report.wall,
            "s",
            small_report.wall,
            base,
            note=f"CPU {large_report.cpu:.1f} s; peak {large_report.peak_mib:.0f} MiB",
        ),
        Figure(
            f"report.html_kib_{label}",
            f"report: index.html, {label} exchanges",
            html / 1024,
            "KiB",
            (small.report_dir / "index.html").stat().st_size / 1024,
            base,
            note=f"all four files {_size(large.report_dir) / 1024:.0f} KiB",
        ),
    ]
