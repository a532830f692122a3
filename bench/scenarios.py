"""Scenario files for the benchmarks: a recording replayed against fast targets."""

from __future__ import annotations

from pathlib import Path


def scenario(
    path: Path,
    recording: Path,
    targets: dict[str, str],
    *,
    baseline: str = "recording",
    concurrency: int = 8,
) -> Path:
    """Write a scenario named after `path` replaying `recording` against `targets`
    (name → URL, the first one the baseline when `baseline` names it)."""
    lines = [
        f"name: {path.stem}",
        f"recording: {recording.resolve()}",
        f"baseline: {baseline}",
        f"concurrency: {concurrency}",
        "timeout: 30",
        "targets:",
    ]
    lines += [f'  - {{name: {name}, url: "{url}"}}' for name, url in targets.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
