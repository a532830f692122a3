"""The replay's end of a result writer (harness.replay.resultwriter): lines handed over
reach the target's file in order and redacted, however far the writer falls behind, and
a writer that reads nothing never stops the event loop; a line written through is in the
pipe before the replay goes on; a writer that died is a one-line error, not a hang."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from harness.errors import InfrastructureError
from harness.formats.results import iter_results
from harness.model import Exchange, Request, Response
from harness.replay.resultwriter import ResultPipe
from harness.replay.session import result_header

KEY = "sk_test_" + "4eC39HqLyjWDarjtT1zdp7dc"


def result(seq: int, body: str = "") -> Exchange:
    return Exchange(
        seq=seq,
        started=1_700_000_000.0 + seq,
        duration=0.01,
        request=Request("POST", "/v1/customers", headers=[("Authorization", f"Bearer {KEY}")]),
        response=Response(200, [("Content-Type", "application/json")], body or "{}"),
        extra={"journey": seq, "attempts": 1},
    )


def test_every_line_arrives_in_order_and_redacted_past_the_pipes_size(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    pipe = ResultPipe(path, result_header("run", "t"))
    body = '{"note": "' + "x" * 2000 + '"}'  # 3,000 of these are several times the pipe
    for seq in range(3000):
        pipe.write(result(seq, body))
    pipe.close()
    lines = list(iter_results(path))
    assert [line.seq for line in lines] == list(range(3000))
    assert KEY not in path.read_text()
    assert lines[-1].response is not None and lines[-1].response.text == body


def test_the_event_loop_goes_on_while_the_writer_reads_nothing(tmp_path: Path) -> None:
    """With the writer stopped (SIGSTOP), lines several times the pipe's size are handed
    over from the event loop: they wait in memory, and reach the file in order once it
    reads again. (Were a write to block, the writer is let go after 20 s and the lines
    would not have waited: the test fails rather than hangs.)"""
    path = tmp_path / "t.jsonl"
    pipe = ResultPipe(path, result_header("run", "t"))
    pipe.wait_ready()
    body = '{"note": "' + "x" * 2000 + '"}'  # 2,000 of these: several times the pipe
    pid = pipe._process.pid
    os.kill(pid, signal.SIGSTOP)
    let_go = threading.Timer(20.0, os.kill, (pid, signal.SIGCONT))
    let_go.start()

    async def hand_over() -> int:
        for seq in range(2000):
            pipe.write(result(seq, body))
            if seq % 100 == 0:
                await asyncio.sleep(0.01)  # the loop's turns: flushes are due
        return pipe._held

    try:
        held = asyncio.run(hand_over())
    finally:
        let_go.cancel()
        os.kill(pid, signal.SIGCONT)
    assert held > 1 << 20  # more than the pipe takes waited in memory
    pipe.close()
    assert [line.seq for line in iter_results(path)] == list(range(2000))


def test_a_line_written_through_comes_after_every_line_handed_over_before(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.jsonl"
    pipe = ResultPipe(path, result_header("run", "t"))
    for seq in range(500):
        pipe.write(result(seq, "{}"))
    asyncio.run(pipe.write_through(result(500)))  # lines before it wait: so does it
    asyncio.run(pipe.write_through(result(501)))  # nothing waits, as usual: written at once
    pipe.close()
    assert [line.seq for line in iter_results(path)] == list(range(502))


def test_a_heads_lines_reach_the_heads_file_redacted_and_at_once(tmp_path: Path) -> None:
    """A head's line (HeadJournal) goes to the head's file, redacted by the writer; it is
    in the pipe when write_head returns, so the writer has it even if the replay is
    killed then (SIGKILL: nothing of the replay's own runs after it)."""
    path, head = tmp_path / "t.jsonl", tmp_path / "t.head.jsonl"
    pipe = ResultPipe(path, result_header("run", "t"), head)
    pipe.write(result(0))
    pipe.write_head(result(1))
    assert not pipe.pending  # in the pipe already: no flush is waited for
    pipe.write_head(result(2))
    pipe.write(result(3))
    pipe.close()
    assert [line.seq for line in iter_results(head)] == [1, 2]
    assert [line.seq for line in iter_results(path)] == [0, 3]
    assert KEY not in head.read_text() and KEY not in path.read_text()


def test_a_writer_that_died_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    pipe = ResultPipe(path, result_header("run", "t"))
    pipe.wait_ready()
    pipe._process.kill()
    with pytest.raises(InfrastructureError, match="result writer failed"):
        for seq in range(100_000):  # bounded: the pump finds the pipe broken at once
            pipe.write(result(seq))
            if seq % 100 == 0:
                asyncio.run(asyncio.sleep(0.001))
    with pytest.raises(InfrastructureError, match="result writer failed"):
        pipe.close()


def test_finished_writers_end_side_by_side_before_they_are_waited_for(tmp_path: Path) -> None:
    """`finish` hands every line over and lets the writer end by itself: several writers
    finished in turn write their files and exit without anyone waiting for each (their
    ends overlap), and `wait` then reports each as `close` would."""
    pipes = [ResultPipe(tmp_path / f"t{n}.jsonl", result_header("run", f"t{n}")) for n in range(3)]
    for pipe in pipes:
        for seq in range(200):
            pipe.write(result(seq))
    for pipe in pipes:
        pipe.finish()
    for pipe in pipes:
        # Not waited for yet: each exits once its lines are written (bounded look).
        for _ in range(6000):
            if pipe._process.poll() is not None:
                break
            time.sleep(0.01)  # a relative sleep: a timed wait never ends under libfaketime
        assert pipe._process.poll() == 0
    for n, pipe in enumerate(pipes):
        pipe.wait()
        pipe.close()  # (idempotent, as close was)
        lines = list(iter_results(tmp_path / f"t{n}.jsonl"))
        assert [line.seq for line in lines] == list(range(200))
    dead = ResultPipe(tmp_path / "dead.jsonl", result_header("run", "dead"))
    dead.wait_ready()
    dead._process.kill()
    dead.finish()  # a dead writer is not an error yet: wait says so
    with pytest.raises(InfrastructureError, match="result writer failed"):
        dead.wait()
