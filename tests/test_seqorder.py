"""Reading target files and recordings in seq order without holding them."""

from __future__ import annotations

import gzip
import random
import tracemalloc
from pathlib import Path

import pytest

from harness.errors import RecordingError
from harness.formats.recording import Header, RecordingWriter
from harness.formats.results import SeqIndex, iter_in_seq_order
from harness.model import Exchange, Request, Response


def exchange(seq: int, body: str = "{}") -> Exchange:
    return Exchange(
        seq=seq,
        started=1_700_000_000.0 + seq,
        duration=0.01,
        request=Request(method="GET", path=f"/v1/customers/cus_{seq:08d}"),
        response=Response(status=200, body=body),
    )


def write(path: Path, exchanges: list[Exchange]) -> Path:
    with RecordingWriter(path, Header()) as writer:
        for item in exchanges:
            writer.write(item)
    return path


def test_completion_order_comes_back_in_seq_order_with_the_last_line_winning(
    tmp_path: Path,
) -> None:
    lines = [exchange(2), exchange(0, '{"try": 1}'), exchange(3), exchange(1), exchange(0)]
    path = write(tmp_path / "target.jsonl", lines)
    assert not SeqIndex(path).in_order
    got = list(iter_in_seq_order(path))
    assert [e.seq for e in got] == [0, 1, 2, 3]
    assert got[0].response is not None and got[0].response.body == "{}"


def test_a_file_in_seq_order_is_streamed_as_it_is(tmp_path: Path) -> None:
    path = write(tmp_path / "recording.jsonl", [exchange(seq) for seq in range(5)])
    assert SeqIndex(path).in_order
    assert [e.seq for e in iter_in_seq_order(path)] == [0, 1, 2, 3, 4]


def test_sparse_seqs_and_a_cut_off_last_line(tmp_path: Path) -> None:
    path = write(tmp_path / "target.jsonl", [exchange(10**9), exchange(7)])
    with open(path, "ab") as file:
        file.write(b'{"seq": 8, "started": 1')  # a replay killed mid-write
    assert [e.seq for e in iter_in_seq_order(path)] == [7, 10**9]


def test_a_header_cut_off_means_no_results_and_a_bad_line_names_its_number(
    tmp_path: Path,
) -> None:
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(b'{"format": "stripe-sh')
    assert list(iter_in_seq_order(cut)) == []
    bad = write(tmp_path / "bad.jsonl", [exchange(1), exchange(0)])
    with open(bad, "ab") as file:
        file.write(b'{"seq": 2, "started": "soon"}\n')
    with pytest.raises(RecordingError, match=r"bad.jsonl:4: exchange.started"):
        list(iter_in_seq_order(bad))


def test_a_compressed_file_must_already_be_in_seq_order(tmp_path: Path) -> None:
    good = write(tmp_path / "good.jsonl.gz", [exchange(0), exchange(1)])
    assert [e.seq for e in iter_in_seq_order(good)] == [0, 1]
    bad = write(tmp_path / "bad.jsonl.gz", [exchange(1), exchange(0)])
    with gzip.open(bad, "rt") as file:
        assert len(file.readlines()) == 3
    with pytest.raises(RecordingError, match="must be in seq order"):
        list(iter_in_seq_order(bad))


def test_memory_stays_flat_however_many_results(tmp_path: Path) -> None:
    """Reading 4,000 shuffled results holds their offsets, not the results: the peak
    stays far below what holding them would take."""
    body = '{"id": "cus_X", "pad": "' + "x" * 2000 + '"}'
    items = [exchange(seq, body) for seq in range(4000)]
    random.Random(1).shuffle(items)
    path = write(tmp_path / "target.jsonl", items)
    del items
    tracemalloc.start()
    try:
        seqs = [e.seq for e in iter_in_seq_order(path)]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seqs == list(range(4000))
    held = path.stat().st_size  # at least what holding every result would take
    assert peak < held / 10
