"""The readers of untrusted files, fuzzed: any bytes given as a recording, a scenario, an id
map, compare rules or a summary end in the reader's own clean error or a valid result,
never another exception, and within bounded memory.

The bytes are arbitrary, or a valid file with bytes inserted, removed or replaced, or
JSON and YAML made of nested values of every kind. A short budget runs in `make test`;
`pytest -m slow` runs a long one.
"""

from __future__ import annotations

import gzip
import json
import tempfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.compare.rules import load_rules_file
from harness.errors import ShadowError
from harness.formats.events import iter_events
from harness.formats.idmap import load_idmap
from harness.formats.recording import iter_exchanges
from harness.formats.summary import read_summary_file
from harness.replay.idmap import read_id_map_file
from harness.scenario import load_scenario

# Nothing here depends on the date: CI's clock-ahead pass leaves this module out.
pytestmark = pytest.mark.no_clock

# What a reader may take, at most, for an input of a few kilobytes.
MEMORY_LIMIT = 64 << 20

VALID = {
    "recording": (
        json.dumps(
            {
                "format": "stripe-shadow-recording",
                "version": 1,
                "created": "2026-01-01T00:00:00+00:00",
                "redaction": {"applied": True},
            }
        )
        + "\n"
        + json.dumps(
            {
                "seq": 0,
                "started": 1700000000.5,
                "duration": 0.2,
                "request": {"method": "GET", "path": "/v1/customers/cus_A1b2C3d4", "headers": []},
                "response": {"status": 200, "headers": [], "body": '{"id": "cus_A1b2C3d4"}'},
            }
        )
        + "\n"
    ).encode(),
    "scenario": (
        b"name: fuzz\nrecording: r.jsonl\nbaseline: recording\n"
        b"targets:\n  - {name: candidate, url: 'http://127.0.0.1:9',\n"
        b"     headers: {Stripe-Version: x}}\n"
        b"compare: {ignore: [{path: $.x, reason: r}]}\ngate: {fail_on: high}\n"
    ),
    "id map csv": b"old_id,new_id,type\ncus_A1b2C3d4E5,cus_Z9y8X7w6V5,customer\n",
    "id map json": b'{"customers": {"cus_A1b2C3d4E5": {"id": "cus_Z9y8X7w6V5"}}}',
    "run id map": (
        b'{\n "version": 1,\n "target": "c",\n "ids": {\n  "cus_A1b2C3d4E5": "cus_Z9"\n }\n}\n'
    ),
    "rules": (
        b"ignore: [{endpoint: 'GET *', path: $.a, reason: r}]\n"
        b"expect: [{path: $.b, kind: removed, reason: r}]\n"
        b"severity: [{path: $.c, severity: low}]\ntimestamp_tolerance: 2\nnoise: {relative: 10}\n"
    ),
    "summary": json.dumps(
        {
            "version": 1,
            "baseline": "recording",
            "candidates": {
                "c": {
                    "exchanges": 2,
                    "outcomes": {"match": 1, "difference": 1},
                    "severities": {"low": 1},
                    "groups": [
                        {
                            "id": "0123456789",
                            "endpoint": "GET /v1/customers/{customer}",
                            "path": "$.a",
                            "kind": "added",
                            "severity": "low",
                            "outcome": "difference",
                            "count": 1,
                            "samples": [1],
                        }
                    ],
                    "endpoints": {"GET /v1/customers/{customer}": {"match": 1, "difference": 1}},
                    "errors": [],
                    "error_groups": [],
                }
            },
            "events": {
                "version": 1,
                "baseline": "recording",
                "targets": {"c": {"source": "webhook", "received": 1}},
                "types": {"customer.created": {"recording": 1, "c": 1}},
                "candidates": {
                    "c": {
                        "events": 1,
                        "outcomes": {"match": 0, "missing": 1},
                        "causes": [
                            {
                                "id": "0123456789",
                                "type": "customer.created",
                                "path": "$",
                                "kind": "missing",
                                "severity": "critical",
                                "outcome": "difference",
                                "count": 1,
                            }
                        ],
                    }
                },
            },
        }
    ).encode(),
    "events": (
        b'{"format": "stripe-shadow-events", "version": 1, "target": "c", "source": "webhook"}\n'
        b'{"received": 1700000000.5, "late": false, "event": {"id": "evt_1", "object": "event",'
        b' "type": "customer.created", "data": {"object": {"id": "cus_A1b2C3d4"}}}}\n'
    ),
}


def _read_recording(path: Path) -> object:
    return list(iter_exchanges(path))


def _read_scenario(path: Path) -> object:
    (path.parent / "r.jsonl").write_bytes(VALID["recording"])
    return load_scenario(path)


READERS: dict[str, tuple[str, Callable[[Path], object]]] = {
    "recording": ("r.jsonl", _read_recording),
    "gzip recording": ("r.jsonl.gz", _read_recording),
    "scenario": ("s.yaml", _read_scenario),
    "id map csv": ("ids.csv", read_id_map_file),
    "id map json": ("ids.json", read_id_map_file),
    "run id map": ("c.idmap.json", load_idmap),
    "rules": ("rules.yaml", load_rules_file),
    "summary": ("summary.json", read_summary_file),
    "events": ("c.events.jsonl", lambda path: list(iter_events(path))),
}


# Pieces that broke readers before: nesting, numbers past every limit, JSON constants,
# escapes of lone surrogates and NULs, invalid UTF-8, YAML syntax.
TOKENS = [
    b"[" * 1000,
    b"{" * 200,
    b'{"a":' * 150,
    b"[" * 150 + b"]" * 150,
    b"1" * 5000,
    b"9" * 25,
    b"-1",
    b"1e999",
    b"1e308",
    b"NaN",
    b"Infinity",
    b'"\\ud800"',
    b'"\\u0000"',
    b"\x00",
    b"\xff\xfe",
    b"\r\n",
    b"null",
    b"true",
    b'""',
    b"[]",
    b"{}",
    b": ",
    b"- ",
    b"&a [*a, *a]",
    b"? [a]\n: b",
    b"1: 2",
    b".nan",
    b'"' + b"a" * 300 + b'"',
]


def _mutated(valid: bytes) -> st.SearchStrategy[bytes]:
    """`valid` with bytes (or TOKENS) inserted, removed or replaced here and there."""

    def apply(edits: list[tuple[int, int, bytes]]) -> bytes:
        data = bytearray(valid)
        for at, removed, inserted in edits:
            at = at % (len(data) + 1)
            data[at : at + removed] = inserted
        return bytes(data)

    inserted = st.binary(max_size=12) | st.sampled_from(TOKENS)
    edit = st.tuples(st.integers(0, 1 << 16), st.integers(0, 8), inserted)
    return st.lists(edit, min_size=1, max_size=6).map(apply)


_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=30,
)


def _structured(kind: str) -> st.SearchStrategy[bytes]:
    """JSON (or, for YAML readers, JSON, which YAML reads too) of any shape."""
    text = _JSON_VALUES.map(lambda value: json.dumps(value, allow_nan=True))
    if kind in ("recording", "gzip recording", "events"):
        header = VALID["recording" if kind != "events" else kind].split(b"\n")[0] + b"\n"
        return text.map(lambda line: header + line.encode() + b"\n")
    return text.map(str.encode)


# Values no field of any file may hold, as JSON text (and so YAML), and in YAML's words.
HOSTILE = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    "1" * 4301,
    "[" * 1000 + "]" * 1000,
    "[" * 101 + "]" * 101,
    '{"a": ' * 101 + "1" + "}" * 101,
    '"\\ud800"',
    '"a\\udfffb"',
    ".nan",
    ".inf",
    "1e308",
    "-1",
    str(1 << 63),
    '"x"',
    "null",
    "true",
    "[]",
    "{}",
]
MARKER = "\u0007HOSTILE\u0007"


def _paths(tree: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a tree that holds a value (the tree itself excluded)."""
    found: list[tuple[Any, ...]] = []
    if isinstance(tree, dict | list):
        items = tree.items() if isinstance(tree, dict) else enumerate(tree)
        for key, value in items:
            found.append((*path, key))
            found.extend(_paths(value, (*path, key)))
    return found


def _with_value(tree: Any, path: tuple[Any, ...], raw: str) -> str:
    copy = json.loads(json.dumps(tree))
    node = copy
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = MARKER
    return json.dumps(copy).replace(json.dumps(MARKER), raw)


def _trees(kind: str) -> tuple[bytes, Any] | None:
    """(what comes before the tree, the tree) of a valid input; None for CSV."""
    if kind in ("recording", "gzip recording"):
        header, line, _ = VALID["recording"].split(b"\n")
        return header + b"\n", json.loads(line)
    if kind in ("scenario", "rules"):
        return b"", yaml.safe_load(VALID[kind])
    if kind in ("id map csv", "events"):
        return None
    return b"", json.loads(VALID[kind])


def _hostile_values(kind: str) -> st.SearchStrategy[bytes]:
    """A valid input with one of its values (any depth) replaced by one of HOSTILE."""
    found = _trees(kind)
    assert found is not None
    prefix, tree = found
    return st.builds(
        lambda path, raw: prefix + _with_value(tree, path, raw).encode() + b"\n",
        st.sampled_from(_paths(tree)),
        st.sampled_from(HOSTILE),
    )


def inputs(kind: str) -> st.SearchStrategy[bytes]:
    valid = VALID["recording" if kind == "gzip recording" else kind]
    strategies = [st.binary(max_size=600), _mutated(valid), _structured(kind)]
    if _trees(kind) is not None:
        strategies.append(_hostile_values(kind))
    return st.one_of(strategies)


def check_reader(kind: str, content: bytes) -> None:
    """Read `content` as `kind`: a clean ShadowError or a result, within MEMORY_LIMIT."""
    name, read = READERS[kind]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(gzip.compress(content) if name.endswith(".gz") else content)
        tracemalloc.start()
        try:
            read(path)
        except ShadowError as error:
            assert str(error) and "\n" not in str(error).splitlines()[0]
        finally:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    assert peak < MEMORY_LIMIT, f"{kind}: {peak / (1 << 20):.0f} MB for {len(content)} bytes"


SHORT = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LONG = settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _fuzz(kind: str, budget: settings) -> Callable[[], None]:
    @budget
    @given(content=inputs(kind))
    def run(content: bytes) -> None:
        check_reader(kind, content)

    return run  # type: ignore[no-any-return]


@pytest.mark.parametrize("kind", list(READERS))
def test_any_bytes_end_in_a_clean_error_or_a_valid_result(kind: str) -> None:
    _fuzz(kind, SHORT)()


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(READERS))
def test_any_bytes_end_in_a_clean_error_or_a_valid_result_long(kind: str) -> None:
    _fuzz(kind, LONG)()


def test_the_valid_inputs_read(tmp_path: Path) -> None:
    """The files the fuzzer starts from are valid: mutations start from a reader's yes."""
    for kind, (name, read) in READERS.items():
        content = VALID["recording" if kind == "gzip recording" else kind]
        path = tmp_path / kind.replace(" ", "-") / name
        path.parent.mkdir()
        path.write_bytes(gzip.compress(content) if name.endswith(".gz") else content)
        result: Any = read(path)
        assert result, kind
