"""Replay and compare sharded by journey over a Dask cluster (docs/distributed.md).

The end-to-end tests start a real `dask scheduler` and two `dask worker` processes on
127.0.0.1 (no dashboards) and replay the demo recording, sharded over them, against the
targets of tests/test_resume.py: `fresh`, a localstripe the coordinator launches, and
`kept`, a localstripe behind a stand-in for Stripe's idempotency that counts what it is
sent. The sharded run must end with the outcomes of an unsharded one, every exchange
once, no write sent twice; `shadow compare --cluster` must write exactly what
`shadow compare` writes; and a worker SIGKILLed mid-run must cost nothing: the cluster
runs its shard again on the other worker, which picks up from the shard's files.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from parts import missing
from test_resume import (
    EXCHANGES,
    KEY_ENV,
    RECORDING,
    SHADOW,
    finished,
    in_doubt,
    kept_target,
    outcomes,
    result_lines,
    scenario,
    shadow,
)

from bench.distributed import DaskCluster
from bench.distributed import dask_cluster as bench_cluster
from harness.distributed.cluster import MISSING, check_cluster
from harness.distributed.shards import assign_journeys, routes, shard_loads
from harness.errors import InputError
from harness.formats.idmap import load_idmap, write_idmap
from harness.formats.recording import Header
from harness.formats.results import ResultWriter, iter_results, latest_exchanges
from harness.formats.rundir import load_run
from harness.formats.shards import fold_shards, shard_files, shard_results_file
from harness.model import Exchange, Request, Response
from harness.replay.gates import GateLayout
from harness.replay.launch.localstripe import LOCALSTRIPE_TEST_KEY
from harness.replay.plan import plan_recording

# --- plain data -------------------------------------------------------------------------


@given(st.lists(st.integers(1, 50), max_size=60), st.integers(1, 6))
def test_journeys_are_balanced_by_exchanges(sizes: list[int], shards: int) -> None:
    owner = assign_journeys(sizes, shards)
    assert len(owner) == len(sizes)
    assert all(0 <= shard < shards for shard in owner)
    loads = [0] * shards
    for journey, size in enumerate(sizes):
        loads[owner[journey]] += size
    # Largest first, each to the least loaded: no shard is more than one journey over.
    if sizes:
        assert max(loads) - min(loads) <= max(sizes)
    assert assign_journeys(sizes, shards) == owner  # the same split every time


def test_every_wait_across_shards_is_routed() -> None:
    """Each exchange another shard waits for (an ordering of the plan) is reported to
    that shard, and nothing else is."""
    plan = plan_recording(RECORDING)
    layout = GateLayout(plan)
    owner = assign_journeys(plan.sizes, 2)
    assert min(shard_loads(plan, owner, 2)) > 0
    routing = routes(plan, layout, owner)
    shard_of = [owner[journey] for journey in plan.journey_of]
    needed: dict[int, set[int]] = {}
    for position in range(plan.exchanges):
        for key, bound in layout.waits(position):
            for member in layout.positions.get(key, array("I")):
                if member < bound and shard_of[member] != shard_of[position]:
                    needed.setdefault(member, set()).add(shard_of[position])
        for producer in plan.after.get(position, ()):
            if shard_of[producer] != shard_of[position]:
                needed.setdefault(producer, set()).add(shard_of[position])
    assert routing == {p: tuple(sorted(shards)) for p, shards in needed.items()}
    assert routing  # the demo's barriers and catalogue cross the shards


def _exchange(seq: int, status: int) -> Exchange:
    return Exchange(
        seq=seq,
        started=1_795_435_200.0 + seq,
        duration=0.1,
        request=Request("GET", f"/v1/customers/cus_{seq}"),
        response=Response(status=status, body="{}"),
        extra={"journey": seq},
    )


def test_shard_files_fold_into_the_run_directory_format(tmp_path: Path) -> None:
    header = Header(source={"kind": "replay", "run": "r", "target": "t"})
    with ResultWriter(tmp_path / "t.jsonl", header) as main:
        main.write(_exchange(0, 500))  # before a resume
    write_idmap(tmp_path / "t.idmap.json", "t", {"cus_0": "cus_A"})
    for shard, attempt, seqs in ((0, "aa", (0, 2)), (1, "bb", (1,)), (1, "cc", (3,))):
        path = shard_results_file(tmp_path, "t", shard, attempt)
        with ResultWriter(path, header) as writer:
            for seq in seqs:
                writer.write(_exchange(seq, 200))
        ids = {f"cus_{seq}": f"cus_{attempt}{seq}" for seq in seqs}
        write_idmap(path.with_name(path.name.removesuffix(".jsonl") + ".idmap.json"), "t", ids)
    assert len(shard_files(tmp_path, "t", 1)) == 2
    assert fold_shards(tmp_path, "t", header) == 4
    assert shard_files(tmp_path, "t") == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.idmap.json", "t.jsonl"]
    latest = latest_exchanges(tmp_path / "t.jsonl")
    assert {seq: e.response.status for seq, e in latest.items() if e.response} == {
        0: 200,
        1: 200,
        2: 200,
        3: 200,
    }
    assert sum(1 for _ in iter_results(tmp_path / "t.jsonl")) == 5
    # The run's own pairs first; a pair a shard learnt again does not replace it.
    assert load_idmap(tmp_path / "t.idmap.json") == {
        "cus_0": "cus_A",
        "cus_2": "cus_aa2",
        "cus_1": "cus_bb1",
        "cus_3": "cus_cc3",
    }


# A shard of a killed coordinator, still ending in a process of its own: it writes one
# result, says so, and only a while later its last result and its id map.
_ENDING_SHARD = """
import sys, time
from pathlib import Path
from harness.formats.idmap import write_idmap
from harness.formats.recording import Header
from harness.formats.results import ResultWriter
from harness.model import Exchange, Request, Response

path = Path(sys.argv[1])
header = Header(source={"kind": "replay", "run": "r", "target": "t"})
def exchange(seq):
    request = Request(method="POST", path="/v1/customers")
    response = Response(status=200, body="{}")
    return Exchange(seq, 1_795_435_200.0 + seq, 0.1, request, response)
with ResultWriter(path, header) as writer:
    writer.write(exchange(0))
    print("writing", flush=True)
    time.sleep(1.0)
    writer.write(exchange(1))
    idmap = path.with_name(path.name.removesuffix(".jsonl") + ".idmap.json")
    write_idmap(idmap, "t", {"cus_0": "cus_B"})
"""


def test_folding_waits_for_a_shard_that_is_still_ending(tmp_path: Path) -> None:
    """A resume folds the shards of a killed run: a shard still ending has its last
    result and its id map folded too, and leaves no file behind."""
    header = Header(source={"kind": "replay", "run": "r", "target": "t"})
    path = shard_results_file(tmp_path, "t", 0, "aa")
    shard = subprocess.Popen(
        [sys.executable, "-c", _ENDING_SHARD, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert shard.stdout is not None and shard.stdout.readline() == "writing\n"
        assert fold_shards(tmp_path, "t", header) == 2
    finally:
        shard.wait(timeout=30)
    assert shard.returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.idmap.json", "t.jsonl"]
    assert sorted(latest_exchanges(tmp_path / "t.jsonl")) == [0, 1]
    assert load_idmap(tmp_path / "t.idmap.json") == {"cus_0": "cus_B"}


@pytest.mark.parametrize("value", ["local:0", "local:x", "http://10.0.0.1:8786", "tcp://h", ""])
def test_a_cluster_is_named_one_of_two_ways(value: str) -> None:
    with pytest.raises(InputError, match="expected tcp://HOST:PORT"):
        check_cluster(value)
    assert check_cluster("local:2") == "local:2"
    assert check_cluster("tcp://10.1.2.3:8786") == "tcp://10.1.2.3:8786"


def test_without_dask_cluster_says_how_to_install_it(tmp_path: Path) -> None:
    """Dask is an optional extra: without it, --cluster is one line and exit 2."""
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "distributed.py").write_text("raise ImportError('not installed')\n")
    run = subprocess.run(
        [SHADOW, "compare", str(tmp_path), "--cluster", "local:2"],
        env={**os.environ, "PYTHONPATH": str(hide)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip().splitlines()[-1].endswith(MISSING)
    assert "Traceback" not in run.stderr


# --- a real cluster ---------------------------------------------------------------------


@contextlib.contextmanager
def dask_cluster(folder: Path) -> Iterator[DaskCluster]:
    """bench's cluster (a scheduler and two workers as processes of their own, all on
    127.0.0.1, no dashboards), its workers given the kept target's key."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        missing("Dask distributed", "pip install -e '.[test]' (stripe-shadow[distributed])")
    with bench_cluster(folder, env={KEY_ENV: LOCALSTRIPE_TEST_KEY}) as running:
        yield running


@dataclass
class Reference:
    outcomes: dict[tuple[str, int], tuple[Any, ...]]
    creations: int


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """The scenario replayed on this machine, in one process."""
    folder = tmp_path_factory.mktemp("single")
    with kept_target(folder) as kept:
        run = folder / "run"
        finished(shadow("replay", str(scenario(folder, kept)), "--out", str(run)))
        return Reference(outcomes(run), kept.stats()["posts"])


def check_same_as_reference(run: Path, reference: Reference, stats: dict[str, Any]) -> None:
    """The sharded run's outcomes are the single-process run's; each exchange has its
    one result per target; no write reached the kept target twice."""
    assert load_run(run).status == "finished"
    assert not list(run.glob("*.shard-*"))  # folded into the run directory's format
    for name in ("fresh", "kept"):
        assert sorted(latest_exchanges(run / f"{name}.jsonl")) == list(range(EXCHANGES))
    # A write in flight on a dead worker is in doubt: a DELETE to the kept target (Stripe
    # cannot replay it), any write to the launched one (it keeps no Idempotency-Keys).
    # What the launched one made then is unknown to the run, and whatever refers to it
    # (its journey, a page from its cursor, a catalogue object) may differ: there, only
    # that nothing is lost and no write is sent twice holds.
    doubtful = {("kept", seq): method for seq, method in in_doubt(run).items()}
    assert set(doubtful.values()) <= {"DELETE"}
    fresh_doubts = launched_in_doubt(run / "fresh.jsonl")
    doubtful.update((("fresh", seq), "write") for seq in fresh_doubts)
    found = outcomes(run)
    changed = {
        key: (reference.outcomes.get(key), found.get(key))
        for key in reference.outcomes.keys() | found.keys()
        if reference.outcomes.get(key) != found.get(key)
        and key not in doubtful
        and not (key[0] == "fresh" and fresh_doubts)
    }
    assert changed == {}
    for key in doubtful:
        assert found[key][1].startswith("in doubt: ")
    assert all(count == 1 for count in stats["forwarded"].values())  # no key sent twice
    assert stats["posts"] == reference.creations


def launched_in_doubt(path: Path) -> set[int]:
    """The seqs a launched target's file leaves in doubt; and no write was sent to it
    twice (each write has one in-doubt line and at most one answer after it)."""
    marks: dict[int, int] = {}
    answers: dict[int, int] = {}
    for exchange in iter_results(path):
        found = marks if exchange.extra.get("in_doubt") else answers
        found[exchange.seq] = found.get(exchange.seq, 0) + 1
    assert all(count == 1 for count in marks.values()), "a write was sent twice"
    assert all(count == 1 for count in answers.values()), "an exchange was answered twice"
    return {seq for seq, e in latest_exchanges(path).items() if e.extra.get("in_doubt")}


def summary_without_time(run: Path) -> dict[str, Any]:
    summary = json.loads((run / "summary.json").read_text())
    summary["run"].pop("compared", None)
    summary.pop("compared", None)
    return dict(summary)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    with dask_cluster(tmp_path_factory.mktemp("cluster")) as running:
        yield running


@pytest.mark.e2e
def test_sharded_replay_and_compare_equal_a_single_process(
    tmp_path: Path, reference: Reference, cluster: DaskCluster
) -> None:
    with kept_target(tmp_path) as kept:
        run = tmp_path / "run"
        finished(
            shadow(
                "replay",
                str(scenario(tmp_path, kept)),
                "--out",
                str(run),
                "--cluster",
                cluster.address,
            )
        )
        shards = load_run(run).info.settings["shards"]
        assert shards["count"] == 2 and min(shards["exchanges"]) > 0
        check_same_as_reference(run, reference, kept.stats())

        single = subprocess.run([SHADOW, "compare", str(run)], capture_output=True, timeout=300)
        assert single.returncode == 0, single.stderr
        expected = ((run / "outcomes.jsonl").read_bytes(), summary_without_time(run))
        sharded = subprocess.run(
            [SHADOW, "compare", str(run), "--cluster", cluster.address],
            capture_output=True,
            timeout=300,
        )
        assert sharded.returncode == 0, sharded.stderr
        assert ((run / "outcomes.jsonl").read_bytes(), summary_without_time(run)) == expected


@pytest.mark.e2e
@settings(max_examples=1, deadline=None)
@given(point=st.integers(5, EXCHANGES // 2))
def test_a_worker_killed_mid_run_loses_and_repeats_nothing(
    tmp_path_factory: pytest.TempPathFactory, reference: Reference, point: int
) -> None:
    """SIGKILL a worker once its shard has written `point` results: the cluster runs the
    shard again on the other worker, and the run ends as if nothing happened."""
    folder = tmp_path_factory.mktemp("killed")
    with dask_cluster(folder) as cluster, kept_target(folder) as kept:
        run = folder / "run"
        replay = shadow(
            "replay", str(scenario(folder, kept)), "--out", str(run), "--cluster", cluster.address
        )
        victim = cluster.workers[0]
        deadline = time.monotonic() + 120
        killed = False
        while replay.poll() is None and time.monotonic() < deadline:
            written = sum(result_lines(path) for path in run.glob("*.shard-*.jsonl"))
            if written >= point:
                victim.send_signal(signal.SIGKILL)
                killed = True
                break
            time.sleep(0.005)
        finished(replay)
        assert killed, "the replay ended before the worker could be killed"
        check_same_as_reference(run, reference, kept.stats())


@pytest.mark.e2e
def test_a_sharded_run_whose_coordinator_was_killed_is_resumed(
    tmp_path: Path, reference: Reference, cluster: DaskCluster
) -> None:
    """SIGKILL `shadow replay --cluster` mid-run: its shards stop once they hear no more
    from it, and `--resume --cluster` finishes the run as if nothing happened."""
    with kept_target(tmp_path) as kept:
        run = tmp_path / "run"
        replay = shadow(
            "replay", str(scenario(tmp_path, kept)), "--out", str(run), "--cluster", cluster.address
        )
        deadline = time.monotonic() + 120
        while replay.poll() is None and time.monotonic() < deadline:
            if sum(result_lines(path) for path in run.glob("*.shard-*.jsonl")) >= EXCHANGES // 2:
                replay.send_signal(signal.SIGKILL)
                break
            time.sleep(0.005)
        replay.communicate(timeout=60)
        assert replay.returncode == -signal.SIGKILL, "the replay ended before it could be killed"
        assert load_run(run).status == "running"
        finished(shadow("replay", "--resume", str(run), "--cluster", cluster.address))
        assert len(load_run(run).info.resumed) == 1
        check_same_as_reference(run, reference, kept.stats())
