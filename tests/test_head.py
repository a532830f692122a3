"""Sending while planning (docs/replay.md, "Sending while planning"): a replay sends the
head of its recording one exchange at a time, in recorded order, while the plan is made
in a process of its own, and hands over to the planned replay when it arrives.

The recordings of the end-to-end tests are made slow to plan on purpose: after their
first exchanges come a few id-less reads whose recorded answers name a quarter of a
million ids each (a second or two of planning apiece), so the head has the exchanges
before them to send while the planner works through them. They read a path no Stripe
has (every target answers 404 alike), so that they change nothing: a read of the
balance would make localstripe emit an event, and the pages of events would differ.

The property at the end needs no target: wherever the head hands over, the planned
replay that takes over keeps every ordering of the plan.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bench.synth import exchanges as synthetic_exchanges
from harness.formats.recording import iter_exchanges
from harness.formats.results import ResultWriter, iter_results, latest_exchanges
from harness.formats.rundir import load_run
from harness.model import Exchange, Request, Response
from harness.replay.gates import GateLayout, Gates
from harness.replay.launch.localstripe import LOCALSTRIPE_TEST_KEY, localstripe
from harness.replay.plan import Plan, plan_journeys, plan_recording
from harness.replay.session import fold_head, head_file, result_header
from harness.run import replay_and_compare
from harness.scenario import load_scenario
from scenarios.traffic.make_recording import make_recording
from tests.test_resume import KEY_ENV, SHADOW, Kept, kept_target, outcomes

REPO = Path(__file__).resolve().parent.parent
GIANTS = 3  # reads slow to plan, one after the other
GIANT_IDS = 250_000  # ids each of their answers names (13.5 MB a line)
PADDING = "/v1/shadow_head_padding"  # what they read: no Stripe has it


def slow_to_plan(recording: Path, out: Path, at: int) -> Path:
    """`recording` with GIANTS id-less reads put in at position `at`, each recorded
    with an answer that names GIANT_IDS customers: the planner takes a second
    or two over each, and the head sends the `at` exchanges before them meanwhile. Seqs
    are numbered afresh, in order."""
    lines = recording.read_text(encoding="utf-8").splitlines()
    header, body = lines[0], [json.loads(line) for line in lines[1:]]
    template = next(e for e in body if e["request"]["method"] == "GET")
    answer = {
        "object": "padding",
        "customers": [{"id": f"cus_head{i:012d}", "object": "customer"} for i in range(GIANT_IDS)],
    }
    giant = {
        **template,
        "request": {**template["request"], "path": PADDING, "query": "", "body": ""},
        "response": {
            "status": 200,
            "headers": [["Content-Type", "application/json"]],
            "body": json.dumps(answer),
        },
    }
    body[at:at] = [dict(giant) for _ in range(GIANTS)]
    with out.open("w", encoding="utf-8") as file:
        file.write(header + "\n")
        for seq, exchange in enumerate(body):
            file.write(json.dumps({**exchange, "seq": seq}) + "\n")
    return out


def url_scenario(path: Path, recording: Path, baseline: str, urls: dict[str, str]) -> Path:
    """A scenario whose targets are reached by url, with the key in KEY_ENV."""
    path.write_text(
        json.dumps(
            {
                "name": path.stem,
                "recording": str(recording),
                "baseline": baseline,
                "targets": [
                    {"name": name, "url": url, "api_key_env": KEY_ENV} for name, url in urls.items()
                ],
            }
        )
    )
    return path


def head_sent(run: Path, target: str) -> int:
    """How many exchanges the target's head sent, as run.json says."""
    info = json.loads((run / "run.json").read_text())
    return int(next(t for t in info["targets"] if t["name"] == target)["head"])


def journeys_as_planned(run: Path, target: str, plan: Plan) -> None:
    """Every exchange has one result line, with the journey the plan gives it."""
    lines = list(iter_results(run / f"{target}.jsonl"))
    last = {line.seq: line for line in lines}
    assert sorted(last) == list(plan.seqs)
    for position, seq in enumerate(plan.seqs):
        assert last[seq].extra["journey"] == plan.journey_of[position], seq


@pytest.mark.e2e
def test_the_head_reaches_a_real_target_before_planning_ends_and_a_twin_stays_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    traffic = tmp_path / "traffic.jsonl"
    make_recording(traffic, 14, 160)
    recording = slow_to_plan(traffic, tmp_path / "slow.jsonl", at=40)
    monkeypatch.setenv(KEY_ENV, LOCALSTRIPE_TEST_KEY)
    with (
        localstripe("control", tmp_path / "control.log") as control,
        localstripe("twin", tmp_path / "twin.log") as twin,
    ):
        scenario = url_scenario(
            tmp_path / "head.yaml", recording, "control", {"control": control.url, "twin": twin.url}
        )
        run = tmp_path / "run"
        result, summary = replay_and_compare(load_scenario(scenario), out=run, concurrency=8)

    assert result.status == "finished"
    plan = plan_recording(recording)
    for target in ("control", "twin"):
        # Sent before the plan arrived: the planner was still on the reads after them.
        assert head_sent(run, target) >= 1
        engine = next(
            t for t in json.loads((run / "run.json").read_text())["targets"] if t["name"] == target
        )["engine"]
        # The head's time is told apart from the planned replay's (docs/run-format.md).
        assert 0 < engine["head_seconds"] < engine["sending_seconds"]
        assert 0 < engine["in_flight_mean_planned"] <= 8
        assert not (run / f"{target}.head.jsonl").exists()
        journeys_as_planned(run, target, plan)
    groups = summary["candidates"]["twin"]["groups"]
    assert [g for g in groups if g["outcome"] == "difference"] == []
    results = json.loads((run / "run.json").read_text())["results"]
    assert {name: (r["unresolved"], r["skipped"]) for name, r in results.items()} == {
        "control": (0, 0),
        "twin": (0, 0),
    }


def replay(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [SHADOW, "replay", *args, "--no-progress"],
        env={**os.environ, KEY_ENV: LOCALSTRIPE_TEST_KEY},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(process: subprocess.Popen[str]) -> None:
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr


@pytest.fixture(scope="module")
def slow_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("slow-demo")
    return slow_to_plan(REPO / "recordings" / "demo.jsonl", folder / "demo.jsonl", at=30)


@pytest.fixture(scope="module")
def uninterrupted(
    tmp_path_factory: pytest.TempPathFactory, slow_demo: Path
) -> tuple[dict[tuple[str, int], tuple[Any, ...]], int]:
    """The outcomes of the slow demo replayed without interruption, and the objects it
    created on the kept target."""
    folder = tmp_path_factory.mktemp("uninterrupted-head")
    with kept_target(folder) as kept:
        run = folder / "run"
        scenario = url_scenario(folder / "kept.yaml", slow_demo, "recording", {"kept": kept.url})
        finished(replay(str(scenario), "--out", str(run)))
        return outcomes(run, ("kept",)), kept.stats()["posts"]


def killed_in_the_head(folder: Path, kept: Kept, recording: Path, lines: int) -> Path:
    """Start a replay, SIGKILL it once its head has written `lines` results, and check
    that the plan had not arrived yet."""
    run = folder / "run"
    scenario = url_scenario(folder / "kept.yaml", recording, "recording", {"kept": kept.url})
    process = replay(str(scenario), "--out", str(run))
    journal = run / "kept.head.jsonl"
    deadline = time.monotonic() + 120
    try:
        while process.poll() is None and time.monotonic() < deadline:
            if journal.exists() and journal.read_bytes().count(b"\n") - 1 >= lines:
                break
            time.sleep(0.002)
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
    # The plan's figures reach run.json when it arrives: the kill came before.
    assert load_run(run).info.recording.get("exchanges") is None
    assert not (run / "kept.jsonl").exists() or not list(iter_results(run / "kept.jsonl"))
    return run


@pytest.mark.e2e
@settings(
    max_examples=1,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(lines=st.integers(1, 20))
@example(lines=1)
def test_a_replay_killed_in_its_head_then_resumed_is_exact(
    tmp_path_factory: pytest.TempPathFactory,
    slow_demo: Path,
    uninterrupted: tuple[dict[tuple[str, int], tuple[Any, ...]], int],
    lines: int,
) -> None:
    reference, creations = uninterrupted
    folder = tmp_path_factory.mktemp("killed-head")
    with kept_target(folder) as kept:
        run = killed_in_the_head(folder, kept, slow_demo, lines)
        finished(replay("--resume", str(run)))
        assert load_run(run).status == "finished"
        assert not (run / "kept.head.jsonl").exists()
        journeys_as_planned(run, "kept", plan_recording(slow_demo))
        found = outcomes(run, ("kept",))
        doubtful = {
            ("kept", seq)
            for seq, e in latest_exchanges(run / "kept.jsonl").items()
            if e.extra.get("in_doubt")
        }
        changed = {
            key: (reference.get(key), found.get(key))
            for key in reference.keys() | found.keys()
            if reference.get(key) != found.get(key) and key not in doubtful
        }
        assert changed == {}, f"after a kill at {lines} head results"
        stats = kept.stats()
        assert all(count == 1 for count in stats["forwarded"].values())  # no key sent twice
        assert stats["posts"] == creations  # and no new key for an old request


def test_a_head_file_fills_in_what_the_target_file_lacks_with_journeys(tmp_path: Path) -> None:
    """A head killed before its lines all reached the target's file (fold_head)."""
    plan = plan_journeys(synthetic_exchanges(8, 1))
    results = tmp_path / "kept.jsonl"
    header = result_header("run", "kept")

    def line(seq: int, answered: bool, journey: int | None = None) -> Exchange:
        return Exchange(
            seq=seq,
            started=1_790_000_000.0,
            duration=0.0,
            request=Request("DELETE", f"/v1/customers/cus_fold{seq}"),
            response=Response(200, [], "{}") if answered else None,
            error=None if answered else "in doubt: ...",
            extra={"journey": journey, "in_doubt": not answered},
        )

    head = ResultWriter(head_file(results), header)
    for seq, answered in ((0, True), (1, True), (2, False), (2, True), (3, False)):
        head.write(line(seq, answered))
    head.close()
    main = ResultWriter(results, header)
    main.write(line(0, True, plan.journey_of[0]))  # it reached the target's file
    main.write(line(2, False, plan.journey_of[2]))  # its mark did, its answer did not
    main.close()

    fold_head(results, plan, header)

    assert not head_file(results).exists()
    assert [e.seq for e in iter_results(results)] == [0, 2, 1, 2, 3]  # appended once each
    latest = latest_exchanges(results)
    assert [latest[seq].response is not None for seq in range(4)] == [True, True, True, False]
    assert all(latest[seq].extra["journey"] == plan.journey_of[seq] for seq in range(4))


# --- the property: a head handed over anywhere keeps every ordering of the plan ---------


def waits_for(plan: Plan, layout: GateLayout) -> list[set[int]]:
    """Per position, the earlier positions the plan makes it wait for: the one before it
    in its journey, the members of every frontier it waits for, and the lists whose
    answers taught it an id."""
    before: list[set[int]] = []
    last: dict[int, int] = {}
    for position in range(plan.exchanges):
        found: set[int] = set()
        journey = plan.journey_of[position]
        if journey in last:
            found.add(last[journey])
        last[journey] = position
        for key, bound in layout.waits(position):
            found.update(p for p in layout.positions.get(key, ()) if p < bound and p != position)
        found.update(plan.after.get(position, ()))
        before.append(found)
    return before


def head_then_planned(plan: Plan, layout: GateLayout, head: int, rng: random.Random) -> list[int]:
    """The order one target sends in when its head sends the first `head` exchanges and
    the planned replay, handed them as done (TargetReplay._take_plan), sends the rest,
    taking any exchange its journey and the gates let go."""
    gates = Gates(layout)
    order = list(range(head))
    for position in order:
        gates.done(position)
    queues: dict[int, list[int]] = {}
    for position in range(head, plan.exchanges):
        queues.setdefault(plan.journey_of[position], []).append(position)
    while queues:
        ready = [q[0] for q in queues.values() if gates.ready(q[0])]
        assert ready, "the planned replay is stuck"
        position = rng.choice(ready)
        order.append(position)
        gates.done(position)
        queue = queues[plan.journey_of[position]]
        queue.pop(0)
        if not queue:
            del queues[plan.journey_of[position]]
    return order


@pytest.mark.no_clock
@settings(max_examples=60, deadline=None)
@given(
    count=st.integers(1, 400),
    seed=st.integers(1, 1_000),
    fraction=st.floats(0, 1),
    order_seed=st.integers(0, 2**32 - 1),
)
def test_a_head_handed_over_anywhere_keeps_every_ordering_of_the_plan(
    count: int, seed: int, fraction: float, order_seed: int
) -> None:
    plan = plan_journeys(synthetic_exchanges(count, seed))
    layout = GateLayout(plan)
    head = round(fraction * plan.exchanges)
    order = head_then_planned(plan, layout, head, random.Random(order_seed))
    # The same exchanges, each sent once, the head's first and in recorded order.
    assert sorted(order) == list(range(plan.exchanges))
    assert order[:head] == list(range(head))
    # Every ordering the plan puts between two exchanges holds, wherever it handed over.
    sent_at = {position: index for index, position in enumerate(order)}
    for position, earlier in enumerate(waits_for(plan, layout)):
        for other in earlier:
            assert sent_at[other] < sent_at[position], (other, position, head)


@pytest.mark.no_clock
def test_the_demo_handed_over_at_every_point_keeps_every_ordering() -> None:
    plan = plan_journeys(iter_exchanges(REPO / "recordings" / "demo.jsonl"))
    layout = GateLayout(plan)
    earlier = waits_for(plan, layout)
    for head in range(plan.exchanges + 1):
        order = head_then_planned(plan, layout, head, random.Random(head))
        sent_at = {position: index for index, position in enumerate(order)}
        assert sorted(order) == list(range(plan.exchanges))
        assert all(sent_at[o] < sent_at[p] for p, before in enumerate(earlier) for o in before)
