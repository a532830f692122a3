"""The one way a file is written whole: into a temporary of the writing process's own
beside it, then renamed over it, so a reader (or a killed writer) never sees half a file
and two processes writing one file never rename each other's half-written temporary."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary path to write `path` through: it replaces `path` when the block ends
    without an exception, and is removed when one is raised (whatever `path` held stays).
    It keeps `path`'s suffix, so a writer that goes by it (`.gz`) writes the same way."""
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


@contextmanager
def atomic_file(path: Path) -> Iterator[IO[str]]:
    """A UTF-8 text file that replaces `path` at once when the block ends (see replacing)."""
    with replacing(path) as temporary, open(temporary, "w", encoding="utf-8") as file:
        yield file


def write_text_atomically(path: Path, text: str) -> None:
    with atomic_file(path) as file:
        file.write(text)


def write_json_atomically(path: Path, data: Any) -> None:
    """`data` as indented JSON (UTF-8 kept as it is), replacing `path` at once."""
    write_text_atomically(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
