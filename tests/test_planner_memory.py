"""Memory of the planner and of compare's groups: flat arrays, hashes and bits."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from bench.synth import synthesize
from harness.compare.group import JourneySet
from harness.errors import RecordingError
from harness.replay.plan import Footprint, Planner, PositionTuples, plan_apart, plan_recording

# Nothing here depends on the date: CI's clock-ahead pass leaves this module out.
pytestmark = pytest.mark.no_clock


def test_planning_many_ids_stays_small() -> None:
    """60,000 exchanges naming 180,000 distinct ids: held as strings in dicts and sets,
    they would take about 30 MB; the planner keeps a few bytes per id and exchange."""
    planner = Planner()
    tracemalloc.start()
    try:
        for position in range(60_000):
            journey = position // 6
            ids = (f"cus_R{journey:010d}", f"pi_R{position:010d}", f"ch_R{position:010d}")
            planner.add_footprint(Footprint(seq=position, joins=ids, uses=ids[:1]))
        plan = planner.plan()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert plan.journeys == 10_000 and plan.largest[1] == 6
    assert peak < 10 * 2**20


def test_position_tuples_read_like_a_dict() -> None:
    tuples = PositionTuples()
    tuples.append(3, [1, 2])
    tuples.append(7, [0])
    assert tuples == {3: (1, 2), 7: (0,)}
    assert tuples.get(5, ()) == () and tuples[7] == (0,)
    assert sorted(tuples.items()) == [(3, (1, 2)), (7, (0,))]


def test_a_group_counts_distinct_journeys_in_bits() -> None:
    journeys = JourneySet()
    for journey in (5, 5, 0, 1_000_000, 17, 0):
        journeys.add(journey)
    assert len(journeys) == 4


def test_planning_apart_gives_the_same_plan_and_the_same_errors(tmp_path: Path) -> None:
    path = synthesize(tmp_path / "r.jsonl", 500)
    apart, here = plan_apart(path), plan_recording(path)
    assert apart.to_json() == here.to_json()
    assert list(apart.journey_of) == list(here.journey_of) and apart.refers == here.refers
    with open(path, "a", encoding="utf-8") as file:
        file.write('{"seq": 500}\n')
    with pytest.raises(RecordingError, match=r"r.jsonl:502: exchange: missing field 'started'"):
        plan_apart(path)
