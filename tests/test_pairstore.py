"""The id pair store: one to one in memory and on file alike, and flat in memory."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from harness.compare.pipeline import counterparts
from harness.formats.idmap import iter_idmap, load_idmap, write_idmap
from harness.pairstore import PairStore
from harness.replay.idmap import SECRETS_KEPT, IdMap

# Nothing here depends on the date: CI's clock-ahead pass leaves this module out.
pytestmark = pytest.mark.no_clock


def test_one_to_one_in_memory_and_on_file_alike() -> None:
    for in_memory in (1000, 3):
        store = PairStore([("plan_A", "price_X"), ("plan_B", "price_X")], in_memory=in_memory)
        assert store.add("cus_1", "cus_T1")
        assert not store.add("cus_1", "cus_T2")  # the recorded id is paired
        assert not store.add("cus_2", "cus_T1")  # the target id is taken
        assert not store.add("cus_3", "price_X")  # taken by a seed
        assert store.add("cus_2", "cus_T2")
        assert store.on_file is (in_memory == 3)
        assert store == {
            "plan_A": "price_X",
            "plan_B": "price_X",
            "cus_1": "cus_T1",
            "cus_2": "cus_T2",
        }
        assert store.get("cus_2") == "cus_T2" and store.get("cus_9") is None
        assert store.key_of("cus_T1") == "cus_1" and store.key_of("price_X") == "plan_A"
        assert "plan_B" in store and "gold" not in store and 42 not in store
        assert list(store) == ["plan_A", "plan_B", "cus_1", "cus_2"]
        store.close()


def test_the_file_goes_with_close() -> None:
    store = PairStore([(f"cus_{i}", f"cus_T{i}") for i in range(10)], in_memory=5)
    assert store.on_file
    directory = Path(store._file.directory.name)  # type: ignore[union-attr]
    assert directory.exists()
    store.close()
    assert not directory.exists()


def test_memory_stays_flat_once_on_file() -> None:
    """100,000 pairs held in dicts take tens of MB; on file, the filters and a bounded
    cache are all that stays in memory."""
    tracemalloc.start()
    try:
        store = PairStore(in_memory=1000, cache_size=1000)
        for i in range(100_000):
            store.add(f"cus_Rec{i:012d}", f"cus_Tgt{i:012d}")
        assert store.get("cus_Rec000000000007") == "cus_Tgt000000000007"
        assert store.key_of("cus_Tgt000000099999") == "cus_Rec000000099999"
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(store) == 100_000
    assert peak < 8 * 2**20
    store.close()


def test_an_id_map_file_streams_in_and_out(tmp_path: Path) -> None:
    store = PairStore([(f"cus_{i}", f'cus_"T{i}') for i in range(50)], in_memory=10)
    path = tmp_path / "t.idmap.json"
    write_idmap(path, "t", store)
    assert load_idmap(path) == dict(store.items()) == dict(iter_idmap(path))
    write_idmap(path, "t", {})
    assert load_idmap(path) == {} == dict(iter_idmap(path))
    path.write_text('{"version": 1, "target": "t", "ids": {"a": "b", "c": "d"}}')
    assert dict(iter_idmap(path)) == {"a": "b", "c": "d"}


def test_only_the_latest_client_secrets_are_kept() -> None:
    idmap = IdMap()
    for i in range(SECRETS_KEPT + 10):
        idmap.learn(
            {"id": f"pi_R{i:09d}", "client_secret": f"pi_R{i:09d}_secret_<redacted>"},
            {"id": f"pi_T{i:09d}", "client_secret": f"pi_T{i:09d}_secret_abc{i}"},
        )
    last = SECRETS_KEPT + 9
    assert idmap.secret(f"pi_R{last:09d}_secret_<redacted>") == f"pi_T{last:09d}_secret_abc{last}"
    assert idmap.secret("pi_R000000000_secret_<redacted>") is None
    assert len(idmap) == SECRETS_KEPT + 10
    idmap.close()


def test_compare_counterparts_are_the_ids_both_sides_know() -> None:
    for in_memory in (1000, 1):
        baseline = PairStore(
            [("cus_R1", "cus_B1"), ("cus_R2", "cus_B2"), ("cus_R3", "cus_B3")],
            in_memory=in_memory,
        )
        candidate = PairStore(
            [("cus_R1", "cus_C1"), ("cus_R2", "cus_C2"), ("cus_R4", "cus_C4")],
            in_memory=in_memory,
        )
        ours, theirs = counterparts(baseline, candidate)
        assert dict(ours) == {"cus_B1": "cus_R1", "cus_B2": "cus_R2"}
        assert dict(theirs) == {"cus_C1": "cus_R1", "cus_C2": "cus_R2"}
        assert ours.get("cus_B3") is None and "cus_C4" not in theirs
        recorded, replayed = counterparts(None, candidate)
        assert recorded.get("cus_R4") == "cus_R4" and recorded.get("cus_R3") is None
        assert replayed.get("cus_C4") == "cus_R4" and replayed.get("cus_B1") is None
