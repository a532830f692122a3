"""outcomes.jsonl (docs/run-format.md): one outcome per exchange per candidate, written
by compare as they are decided (replacing the file at once when all are) and streamed
back by the report and the pytest plugin."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import orjson

from harness.formats.atomic import atomic_file
from harness.formats.untrusted import load_json
from harness.model import Outcome

OUTCOMES_FILE = "outcomes.jsonl"


class OutcomeWriter:
    """Appends outcomes as JSON lines to a file being written."""

    def __init__(self, file: IO[str]) -> None:
        self._file = file

    def write(self, outcome: Outcome) -> None:
        self._file.write(outcome_line(outcome.to_json()))


def outcome_line(data: dict[str, Any]) -> str:
    """One line of outcomes.jsonl: what `json.dumps(data, ensure_ascii=False,
    separators=(",", ":"))` writes, byte for byte, made by orjson (a fifth of the time)
    where the two agree. They differ only where orjson refuses (an integer past 64 bits,
    a lone surrogate) and on floats below 1e-4, which orjson writes in full
    (0.00001) and json with an exponent (1e-05): a line that may hold one (`0.0000` or
    `e-` anywhere in it) is written by json."""
    try:
        line = orjson.dumps(data)
    except TypeError:
        line = b"e-"
    if b"e-" in line or b"0.0000" in line:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"
    return line.decode("utf-8") + "\n"


@contextmanager
def writing_outcomes(run_dir: Path) -> Iterator[OutcomeWriter]:
    """RUN_DIR/outcomes.jsonl, replaced at once when the block ends without an error."""
    with atomic_file(run_dir / OUTCOMES_FILE) as file:
        yield OutcomeWriter(file)


def read_outcomes(run_dir: str | os.PathLike[str]) -> Iterator[Outcome]:
    """The outcomes a compare wrote, one at a time."""
    path = Path(run_dir) / OUTCOMES_FILE
    with open(path, "rb") as file:
        for line in file:
            if line.strip():
                yield Outcome.from_json(load_json(line))
