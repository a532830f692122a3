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
                while line := file.readline(limit):
                    match = _PAIR_LINE.match(line)
                    if match is None:
                        if line.strip() in ("}", "}}", ""):
                            continue
                        break  # not our layout after all: parse the whole file
                    pair = "{" + match.group(1) + "}"
                    try:
                        # Two JSON texts and nothing else (the pattern says so): no number,
                        # no depth for load_json to bound. What orjson refuses (a lone
                        # surrogate) load_json refuses with its message.
                        key, value = orjson.loads(pair).popitem()
                    except orjson.JSONDecodeError:
                        try:
                            key, value = load_json(pair).popitem()
                        except JSONProblem as exc:
                            raise InputError(f"{path}: {exc.problem}") from None
                    yield key, value
                else:
                    return
        except UnicodeDecodeError:
            raise InputError(f"{path}: not UTF-8 text; an id map is JSON") from None
    yield from load_idmap(file_path).items()


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
