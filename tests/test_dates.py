"""Real month boundaries end to end: the billing integration (scenarios/billing) recorded
at one month's end and replayed at another, every process (driver, recorder, localstripe,
replay, compare) under libfaketime at the chosen date. Jan 31, Feb 28 of a leap year,
Apr 30 and Dec 31: months of 28, 29, 30 and 31 days from the anchor, and a year's end.

Each recording also waits 6 s between the customer's first visit and the later one, more
than the 5 s tolerance, and is replayed at full speed: a slow recording replayed fast.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from itertools import permutations
from pathlib import Path

import pytest
from parts import faketime_library

ROOT = Path(__file__).resolve().parent.parent
SHADOW = str(Path(sys.executable).parent / "shadow")
DATES = {
    "jan31": "2027-01-31 22:30:00",
    "feb28-leap": "2028-02-28 22:30:00",
    "apr30": "2027-04-30 22:30:00",
    "dec31": "2027-12-31 22:30:00",
}
PAUSE = "6"  # seconds between the two visits when recorded
TIMEOUT = 180  # seconds any one step may take


def at(when: str) -> dict[str, str]:
    """The environment of a process tree that lives at `when` (UTC), its clock running.

    FAKETIME_DONT_RESET makes every process of the tree share the first one's clock: by
    default each process would start at `when` as it starts, and localstripe, launched a
    few seconds into a replay, would run that much behind the harness."""
    return {
        **os.environ,
        "LD_PRELOAD": str(faketime_library()),
        "FAKETIME": f"@{when}",
        "FAKETIME_DONT_RESET": "1",
        "TZ": "UTC",
    }


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The billing integration recorded at each date, all four at once."""
    folder = tmp_path_factory.mktemp("month-ends")
    started = {}
    for name, when in DATES.items():
        out = folder / f"{name}.jsonl"
        command = [sys.executable, "-m", "scenarios.billing.make_recording", str(out)]
        started[name] = (
            out,
            subprocess.Popen(
                [*command, "--pause", PAUSE],
                cwd=ROOT,
                env=at(when),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
        )
    made = {}
    for name, (out, process) in started.items():
        stdout, stderr = process.communicate(timeout=TIMEOUT)
        assert process.returncode == 0, f"recording at {DATES[name]} failed: {stderr[-2000:]}"
        assert int(stdout.strip()) > 40
        made[name] = out
    return made


def first_exchange_time(path: Path) -> str:
    with open(path, encoding="utf-8") as file:
        file.readline()
        return str(json.loads(file.readline())["started"])


@pytest.mark.e2e
def test_each_recording_was_made_at_its_date(recordings: dict[str, Path]) -> None:
    from datetime import UTC, datetime, timedelta

    for name, path in recordings.items():
        started = datetime.fromtimestamp(float(first_exchange_time(path)), UTC)
        chosen = datetime.fromisoformat(DATES[name]).replace(tzinfo=UTC)
        # The clock starts at the chosen moment and runs: the first call comes once the
        # recorder is up, a few seconds later (a minute or more on a busy machine), and
        # always before the month ends at midnight.
        assert chosen <= started < chosen + timedelta(seconds=TIMEOUT), (name, started)


@pytest.mark.e2e
@pytest.mark.parametrize(("recorded", "replayed"), list(permutations(DATES, 2)))
def test_a_month_end_recording_replays_on_another_month_end_without_differences(
    recordings: dict[str, Path], recorded: str, replayed: str, tmp_path: Path
) -> None:
    scenario = tmp_path / "month-end.yaml"
    scenario.write_text(
        f"name: month-end\nrecording: {recordings[recorded]}\nbaseline: recording\n"
        "targets:\n  - name: replayed\n    launch: localstripe\n"
    )
    result = subprocess.run(
        [
            *(SHADOW, "run", str(scenario), "--out", str(tmp_path / "run")),
            *("--report", str(tmp_path / "report"), "--no-progress"),
        ],
        env=at(DATES[replayed]),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    candidate = summary["candidates"]["replayed"]
    shown = [(g["endpoint"], g["path"], g["kind"], g.get("values")) for g in candidate["groups"]]
    assert result.returncode == 0, (result.stdout, result.stderr[-2000:], shown)
    assert candidate["outcomes"]["error"] == 0
    assert candidate["outcomes"]["match"] == candidate["exchanges"], shown
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["started"].startswith(DATES[replayed][:10])
    assert run["time"]["mode"] == "shift" and run["results"]["replayed"]["times_shifted"] >= 6


@pytest.mark.e2e
def test_the_shipped_month_end_recording_replays_on_the_day_it_runs(tmp_path: Path) -> None:
    # recordings/month-end.jsonl was made on 2026-10-31; this runs on any later day (CI runs
    # it again with the clock 150 days ahead) and must find nothing.
    result = subprocess.run(
        [
            *(SHADOW, "run", str(ROOT / "scenarios" / "month-end.yaml")),
            *("--out", str(tmp_path / "run"), "--report", str(tmp_path / "report")),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, (result.stdout, result.stderr[-2000:])
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    candidate = summary["candidates"]["replayed"]
    assert candidate["outcomes"]["match"] == candidate["exchanges"] == 43
    assert "were moved by" in (tmp_path / "report" / "summary.md").read_text()
