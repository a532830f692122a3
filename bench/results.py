"""Figures of a benchmark run: each a value, the baseline measured beside it, their ratio
and the target the ratio must meet; printed as a table and written as JSON with stable
keys (`python -m bench --json FILE`)."""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass(slots=True)
class Figure:
    """One measured figure. `ratio` is value / baseline unless given; `target` reads
    `>= 0.8` or `<= 1.25` and is met or not."""

    key: str
    label: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_label: str = ""
    ratio: float | None = None
    target: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        if self.ratio is None and self.baseline:
            self.ratio = self.value / self.baseline

    @property
    def met(self) -> bool | None:
        if not self.target or self.ratio is None:
            return None
        sign, bound = self.target.split()
        return self.ratio >= float(bound) if sign == ">=" else self.ratio <= float(bound)

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "value": round(self.value, 4),
            "unit": self.unit,
            "baseline": round(self.baseline, 4) if self.baseline is not None else None,
            "baseline_label": self.baseline_label,
            "ratio": round(self.ratio, 4) if self.ratio is not None else None,
            "target": self.target or None,
            "met": self.met,
            "note": self.note,
        }


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def table(figures: Iterable[Figure]) -> str:
    """The figures as a plain-text table."""
    rows = [("figure", "value", "baseline", "ratio", "target")]
    for figure in figures:
        value = f"{_number(figure.value)} {figure.unit}"
        baseline = (
            f"{_number(figure.baseline)} ({figure.baseline_label})"
            if figure.baseline is not None
            else "-"
        )
        ratio = f"{figure.ratio:.2f}" if figure.ratio is not None else "-"
        met = {True: " ok", False: " MISSED", None: ""}[figure.met]
        rows.append((figure.label, value, baseline, ratio, f"{figure.target}{met}" or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def write_json(path: Path, figures: list[Figure], settings: dict[str, Any]) -> None:
    """`{"figures": {key: {...}}, "settings": ..., "machine": ...}`."""
    document = {
        "version": 1,
        "measured": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": _cpus(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "settings": settings,
        "figures": {figure.key: figure.to_json() for figure in figures},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def _cpus() -> int:
    return len(os.sched_getaffinity(0))
