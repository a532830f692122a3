"""A target's id map file (`<target>.idmap.json`, docs/run-format.md): recorded id →
target id, written one pair per line as the map streams them and read back the same way,
so a million ids are never one string in memory. An id map written by hand (any JSON
layout) is read whole."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import orjson

from harness.errors import InputError
from harness.formats.atomic import atomic_file
from harness.formats.untrusted import JSONProblem, load_json, max_line_chars

IDMAP_FORMAT_VERSION = 1


def write_idmap(path: Path, target: str, ids: Mapping[str, str]) -> None:
    """Write `<target>.idmap.json` atomically, one pair per line as the map streams them
    (a million ids never have to be one string in memory)."""
    head = {"version": IDMAP_FORMAT_VERSION, "target": target}
    with atomic_file(path) as file:
        file.write(json.dumps(head, indent=1, ensure_ascii=False)[:-2] + ',\n "ids": {')
        separator = "\n"
        for recorded, replayed in ids.items():
            pair = json.dumps({recorded: replayed}, ensure_ascii=False)[1:-1]
            file.write(f"{separator}  {pair}")
            separator = ",\n"
        file.write("\n }\n}\n" if separator != "\n" else "}\n}\n")


# A line of the `ids` object as write_idmap writes it: `  "cus_A": "cus_B",`.
_PAIR_LINE = re.compile(r'^\s*("(?:[^"\\]|\\.)*"\s*:\s*"(?:[^"\\]|\\.)*")\s*,?\s*$')


def iter_idmap(path: str | os.PathLike[str]) -> Iterator[tuple[str, str]]:
    """The `ids` of an idmap file, recorded id → target id, one pair at a time: line by
    line when written by write_idmap, else (an id map written by hand) parsed whole (a
    file that changes layout midway repeats the pairs read before, each to the same id)."""
    file_path = Path(path)
    try:
        file = open(file_path, encoding="utf-8")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise InputError(f"{path}: no such id map") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
    limit = max_line_chars()
    with file:
        try:
            opening = [file.readline(limit) for _ in range(4)]
            if [line.strip() for line in opening] == [
                "{",
                f'"version": {IDMAP_FORMAT_VERSION},',
                opening[2].strip(),
                '"ids": {',
            ] and opening[2].strip().startswith('"target":'):
                while lines := file.readlines(_BATCH_CHARS):
                    pairs = len(lines)
                    while pairs and lines[pairs - 1].strip() in _CLOSING:
                        pairs -= 1  # the end of the file: nothing to read in them
                    batch = _batch_pairs(lines[:pairs]) if pairs else []
                    if batch is not None:
                        yield from batch
                        continue
                    for line in lines:
                        if len(line) >= limit:
                            break  # a line past the limit: parse the whole file
                        match = _PAIR_LINE.match(line)
                        if match is None:
                            if line.strip() in _CLOSING:
                                continue
                            break  # not our layout after all: parse the whole file
                        yield _pair(path, "{" + match.group(1) + "}")
                    else:
                        continue
                    break
                else:
                    return
        except UnicodeDecodeError:
            raise InputError(f"{path}: not UTF-8 text; an id map is JSON") from None
    yield from load_idmap(file_path).items()


# What stands after the pairs (and may stand between them): no pair.
_CLOSING = ("}", "}}", "")
# The pair lines read and parsed at a time: a few thousand pairs.
_BATCH_CHARS = 1 << 18


def _batch_pairs(lines: list[str]) -> list[tuple[str, str]] | None:
    """The pairs of lines that each hold one pair as write_idmap writes it (`"a": "b",`),
    parsed as one object by orjson; None when the lines are anything else (the closing
    braces, another layout, a key given twice, a value that is not a string, what orjson
    refuses): they are then read one by one."""
    text = "".join(lines).rstrip()
    if not text.endswith('"'):
        text = text.removesuffix(",")
    try:
        parsed = orjson.loads("{" + text + "}")
    except orjson.JSONDecodeError:
        return None
    if (
        type(parsed) is not dict
        or len(parsed) != len(lines)
        or text.count('",\n') != len(lines) - 1  # each line but the last ends `",`
        or not all(type(value) is str for value in parsed.values())
    ):
        return None
    return list(parsed.items())


def _pair(path: str | os.PathLike[str], pair: str) -> tuple[str, str]:
    """The one pair of `{"a": "b"}`. Two JSON texts and nothing else (_PAIR_LINE says
    so): no number, no depth for load_json to bound. What orjson refuses (a lone
    surrogate) load_json refuses with its message."""
    try:
        key, value = orjson.loads(pair).popitem()
    except orjson.JSONDecodeError:
        try:
            key, value = load_json(pair).popitem()
        except JSONProblem as exc:
            raise InputError(f"{path}: {exc.problem}") from None
    return key, value


def load_idmap(path: str | os.PathLike[str]) -> dict[str, str]:
    """The `ids` of an idmap file: recorded id → target id."""
    try:
        data = load_json(Path(path).read_bytes(), unique_keys=True)
    except FileNotFoundError:
        raise InputError(f"{path}: no such id map") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
    except JSONProblem as exc:
        raise InputError(exc.located(path)) from None
    ids = data.get("ids") if isinstance(data, dict) else None
    if not isinstance(ids, dict) or not all(isinstance(v, str) for v in ids.values()):
        raise InputError(f"{path}: ids: expected an object of recorded id → target id strings")
    return ids
