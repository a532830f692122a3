"""Replay fidelity on stateful traffic nobody wrote by hand: seeded traffic
(scenarios/traffic) driven through the stripe SDK against localstripe and recorded with
`shadow record`, then replayed at concurrency 8 against two fresh localstripes, and
against the recording itself. An unchanged twin must show nothing, every time.

A few small seeds here; many seeds and a large recording in `python -m bench --only
fidelity` (bench/fidelity.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scenarios.traffic.fidelity import replay_unchanged
from scenarios.traffic.make_recording import make_recording

pytestmark = pytest.mark.e2e

REQUESTS = 160


@pytest.mark.parametrize("seed", [3, 14, 15])
def test_an_unchanged_twin_shows_nothing_and_resolves_every_id(tmp_path: Path, seed: int) -> None:
    recording = tmp_path / f"traffic-{seed}.jsonl"
    make_recording(recording, seed, REQUESTS)

    twin = replay_unchanged(recording, tmp_path / "twin")  # at concurrency 8
    assert twin.differences == []
    assert twin.unresolved == twin.skipped == {"control": 0, "twin": 0}

    # Against what was recorded: localstripe's own nondeterminism (docs/replay.md) is kept
    # out of the traffic, and the times of objects made before the request that shows them
    # compare through each side's time map (docs/compare.md, "Times"), whatever the pace
    # of the replay against that of the recording.
    recorded = replay_unchanged(recording, tmp_path / "recorded", baseline="recording")
    assert recorded.differences == []
    assert recorded.unresolved == recorded.skipped == {"twin": 0}


def test_the_traffic_of_a_seed_is_the_same_every_time(tmp_path: Path) -> None:
    """The generator is deterministic for a seed: only the ids localstripe hands out, the
    times and the keys' fingerprints differ between two recordings of it."""
    shapes = []
    for attempt in ("a", "b"):
        path = tmp_path / f"{attempt}.jsonl"
        make_recording(path, 7, 60)
        lines = path.read_text().splitlines()[1:]
        shapes.append(
            [
                (
                    exchange["request"]["method"],
                    exchange["request"]["path"].split("/")[2],
                    sorted(pair.split("=")[0] for pair in exchange["request"]["body"].split("&")),
                    exchange["response"]["status"],
                )
                for exchange in map(json.loads, lines)
            ]
        )
    assert shapes[0] == shapes[1] and len(shapes[0]) >= 60
