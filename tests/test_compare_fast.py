"""compare_run writes the same outcomes.jsonl and summary.json with its fast paths (the
fused walk, the own diff) as without them (every answer normalised, every difference
found by deepdiff), on runs made of the shipped recordings and a target answering each
exchange as a twin would (every id renamed, every time moved), some answers changed.

Plain data: the run directories are written by hand, nothing is replayed."""

from __future__ import annotations

import json
import random
import shutil
import zlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.compare.pipeline import compare_run
from harness.formats.idmap import write_idmap
from harness.formats.recording import Header, iter_exchanges
from harness.formats.results import ResultWriter
from harness.formats.rundir import RunInfo, write_run_json
from harness.formats.untrusted import load_json
from harness.model import Exchange, Headers, Response
from harness.stripe import ID_PATTERN
from tests.test_fastpath import _mutate, _renamed, _twin

RECORDINGS = Path(__file__).parent.parent / "recordings"
SHIFT = 3 * 86_400 + 17  # the target ran three days and 17 s after the recording


def _known(found: str, seed: int) -> bool:
    """About a third of the ids are new to the id map (placeholders), the rest known."""
    return zlib.crc32(f"{seed}:{found}".encode()) % 3 != 0


def _leaves(tree: Any) -> list[tuple[Any, Any]]:
    """(parent, key) of every value in a parsed tree that holds no other."""
    found: list[tuple[Any, Any]] = []
    items = tree.items() if isinstance(tree, dict) else enumerate(tree)
    for key, value in items:
        if isinstance(value, dict | list):
            found.extend(_leaves(value))
        else:
            found.append((tree, key))
    return found


def _changed_leaf(tree: Any, rnd: random.Random) -> None:
    """A boolean flipped, or an id the twin renamed written as recorded (the same text
    on both sides then names another object on each: a text equal on both sides is not
    equal once named)."""
    leaves = [
        (node, key)
        for node, key in _leaves(tree)
        if type(node[key]) is bool or (isinstance(node[key], str) and ID_PATTERN.search(node[key]))
    ]
    if not leaves:
        return
    node, key = rnd.choice(leaves)
    value = node[key]
    node[key] = not value if type(value) is bool else value.replace("X", "")


def _answered(exchange: Exchange, rnd: random.Random, rate: float) -> Response | None:
    """The twin's answer to `exchange`, changed at `rate`: a field (_mutate), a boolean
    or an id (_changed_leaf), the status, a compared header, or the whole body turned
    into text."""
    response = exchange.response
    if response is None:
        return None
    try:
        tree: Any = load_json(response.text)
    except ValueError:
        return Response(response.status, response.headers, _renamed(response.text))
    tree = _twin(tree, SHIFT)
    headers = response.headers
    status = response.status
    if rnd.random() < rate:
        change = rnd.randrange(8)
        if change in (6, 7):
            _changed_leaf(tree, rnd)
        elif change == 0:
            status = 402 if status < 400 else 200
        elif change == 1:
            headers = headers.with_value("Content-Type", "text/plain")
        elif change == 2:
            return Response(status, headers, "Internal error")
        else:
            tree = _mutate(tree, rnd)
    return Response(status, Headers(headers), json.dumps(tree))


def _write_run(root: Path, recording: Path, seed: int, rate: float) -> Path:
    """A finished run whose baseline is `recording` and whose candidate answered as a
    twin, with its id map and the times the replay moved."""
    rnd = random.Random(seed)
    exchanges = list(iter_exchanges(recording))
    run_dir = root / "run"
    run_dir.mkdir(parents=True)
    header = Header(source={"kind": "replay", "run": "run", "target": "candidate"})
    ids: dict[str, str] = {}
    with ResultWriter(run_dir / "candidate.jsonl", header) as writer:
        for exchange in exchanges:
            if exchange.response is not None:
                for found in ID_PATTERN.findall(exchange.response.text):
                    if _known(found, seed):
                        ids[found] = _renamed(found)
            writer.write(
                replace(
                    exchange,
                    started=exchange.started + SHIFT,
                    response=_answered(exchange, rnd, rate),
                )
            )
    write_idmap(run_dir / "candidate.idmap.json", "candidate", ids)
    scenario_path = root / "scenario.yaml"
    scenario_path.write_text(json.dumps({"name": "twin"}))
    write_run_json(
        run_dir,
        RunInfo.from_json(
            {
                "version": 1,
                "name": "run",
                "scenario": {"name": "twin", "path": str(scenario_path)},
                "recording": {"path": str(recording), "header": {}, "exchanges": len(exchanges)},
                "baseline": "recording",
                "targets": [
                    {"name": "candidate", "role": "candidate", "url": "http://127.0.0.1:1"}
                ],
                "status": "finished",
                "time": {"recording_start": exchanges[0].started, "shift": SHIFT},
            }
        ),
    )
    return run_dir


@pytest.mark.parametrize("name", ["demo.jsonl", "month-end.jsonl", "migrated-account.jsonl"])
@pytest.mark.parametrize(("seed", "rate"), [(0, 0.0), (1, 0.05), (2, 0.3), (3, 1.0)])
def test_the_fast_paths_write_the_outcomes_normalising_everything_writes(
    tmp_path: Path, name: str, seed: int, rate: float
) -> None:
    fast = _write_run(tmp_path / "fast", RECORDINGS / name, seed, rate)
    slow = tmp_path / "slow"
    shutil.copytree(fast, slow)
    fast_summary = compare_run(fast)
    slow_summary = compare_run(slow, fast=False)
    outcomes = (fast / "outcomes.jsonl").read_text()
    assert outcomes == (slow / "outcomes.jsonl").read_text()
    assert {**fast_summary, "compared": None} == {**slow_summary, "compared": None}
    counts = fast_summary["candidates"]["candidate"]["outcomes"]
    if rate == 0.0:
        # A twin unchanged matches everywhere: the fast path was taken, not bypassed.
        assert counts["match"] == sum(1 for line in outcomes.splitlines() if line)
    else:
        assert counts["difference"] + counts["error"] > 0
