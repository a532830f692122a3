"""Compare's fast paths decide exactly what the slow ones decide.

- normalize.proven_same: never "equal" for answers whose normalised forms differ, and,
  over a whole side read in seq order, the same verdict on every exchange with the fast
  path on or off (the time maps learn the same either way).
- diff.own_reports: the same reports as deepdiff, in the same order, on any two
  normalised trees it takes; the same Difference rows on the shipped recordings.
- recording.read_exchange: the same exchange as validate_exchange and
  Exchange.from_json, or the same one-line message; recording.read_line, what
  load_json then read_exchange give a line."""

from __future__ import annotations

import copy
import json
import random
import tempfile
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.compare.diff import deepdiff_reports, diff_responses, own_reports
from harness.compare.normalize import Answer, ById, parse_body, proven_same
from harness.compare.profile import Profile, stripe_profile
from harness.compare.timemap import Moment, TimeMap
from harness.errors import InputError
from harness.formats.idmap import iter_idmap, load_idmap, write_idmap
from harness.formats.outcomes import outcome_line
from harness.formats.recording import (
    iter_exchanges,
    read_exchange,
    read_line,
    validate_exchange,
)
from harness.formats.untrusted import load_json
from harness.model import DifferenceKind, Exchange, Headers, OutcomeKind, Response, Severity
from harness.stripe import ID_PATTERN

RECORDINGS = Path(__file__).parent.parent / "recordings"
PROFILE = stripe_profile()
SHIFT = 3 * 86_400 + 17  # the other side ran three days and 17 s later


def _answers(name: str) -> list[Exchange]:
    return [
        e
        for e in iter_exchanges(RECORDINGS / name)
        if e.response is not None and parse_body(e.response.text)[1]
    ]


RECORDED = {name: _answers(name) for name in ("demo.jsonl", "month-end.jsonl")}


def _renamed(text: str) -> str:
    """The other side's id for a recorded id: same prefix, another body."""
    return ID_PATTERN.sub(lambda m: m.group(0) + "X", text)


def _twin(tree: Any, shift: int) -> Any:
    """The answer another target gives: every id renamed, every time moved by `shift`."""
    if isinstance(tree, dict):
        return {key: _twin(value, shift) for key, value in tree.items()}
    if isinstance(tree, list):
        return [_twin(value, shift) for value in tree]
    if isinstance(tree, str):
        return _renamed(tree)
    if type(tree) is int and 1_000_000_000 <= tree <= 4_000_000_000:
        return tree + shift
    return tree


def _mutate(tree: Any, rnd: random.Random) -> Any:
    """One change somewhere in the tree: a value changed, a key dropped, a list reversed,
    a time moved, an id swapped for another."""
    tree = copy.deepcopy(tree)
    nodes: list[tuple[Any, Any]] = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                nodes.append((node, key))
                collect(value)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                nodes.append((node, index))
                collect(value)

    collect(tree)
    if not nodes:
        return tree
    parent, key = rnd.choice(nodes)
    value = parent[key]
    action = rnd.randrange(5)
    if action == 0 and isinstance(parent, dict):
        del parent[key]
    elif action == 1 and isinstance(value, list) and len(value) > 1:
        value.reverse()
    elif action == 2 and type(value) is int:
        parent[key] = value + rnd.choice([1, 60, 86_400, 40 * 86_400])
    elif action == 3 and isinstance(value, str) and ID_PATTERN.search(value):
        parent[key] = ID_PATTERN.sub(lambda m: m.group(0) + "Y", value)
    else:
        parent[key] = rnd.choice([None, 0, "changed", True, {"nested": 1}, []])
    return tree


def _response(tree: Any, like: Response) -> Response:
    """An answer holding `tree`, with the headers of `like`."""
    return Response(like.status, like.headers, json.dumps(tree))


def _side_pairs(
    exchanges: list[Exchange], seed: int, mutations: float
) -> list[tuple[Exchange, Response, float]]:
    """(recorded exchange, the other side's answer, its request start) for each exchange."""
    rnd = random.Random(seed)
    pairs = []
    for exchange in exchanges:
        assert exchange.response is not None
        tree = _twin(load_json(exchange.response.text), SHIFT)
        if rnd.random() < mutations:
            tree = _mutate(tree, rnd)
        pairs.append((exchange, _response(tree, exchange.response), exchange.started + SHIFT))
    return pairs


def _known(found: str) -> bool:
    """A third of the ids are new to the id maps (placeholders), the rest known."""
    return zlib.crc32(found.encode()) % 3 != 0


def _verdicts(pairs: list[tuple[Exchange, Response, float]], fast: bool) -> list[bool]:
    """Each exchange's verdict (equal or not) over one pass in seq order."""
    base_times, other_times = TimeMap(), TimeMap()
    recorded_ids: dict[str, str] = {}
    other_ids: dict[str, str] = {}
    verdicts = []
    for exchange, other, started in pairs:
        assert exchange.response is not None
        for found in ID_PATTERN.findall(exchange.response.text):
            if _known(found):
                recorded_ids[found] = found
                other_ids[_renamed(found)] = found
        end = exchange.started + exchange.duration
        base = Answer(exchange.response, exchange.started, end, recorded_ids, PROFILE, base_times)
        theirs = Answer(
            other, started, started + exchange.duration, other_ids, PROFILE, other_times
        )
        if fast:
            same, parsed_base, parsed_other = proven_same(base, theirs)
            if same:
                verdicts.append(True)
                continue
            verdicts.append(base.normalize(parsed_base) == theirs.normalize(parsed_other))
        else:
            verdicts.append(base.normalize() == theirs.normalize())
    return verdicts


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_an_unchanged_twin_is_proven_equal_on_the_fast_path(name: str) -> None:
    pairs = _side_pairs(RECORDED[name], 0, mutations=0.0)
    assert _verdicts(pairs, fast=True) == _verdicts(pairs, fast=False)
    assert all(_verdicts(pairs, fast=False))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(RECORDED)), st.integers(0, 2**32), st.sampled_from([0.1, 0.5, 1.0]))
def test_the_fast_path_gives_every_exchange_the_verdict_normalising_gives(
    name: str, seed: int, mutations: float
) -> None:
    pairs = _side_pairs(RECORDED[name], seed, mutations)
    assert _verdicts(pairs, fast=True) == _verdicts(pairs, fast=False)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(RECORDED)), st.integers(0, 2**32))
def test_proven_same_never_calls_two_different_answers_equal(name: str, seed: int) -> None:
    rnd = random.Random(seed)
    exchange = rnd.choice(RECORDED[name])
    assert exchange.response is not None
    tree = _mutate(_twin(load_json(exchange.response.text), SHIFT), rnd)
    other = _response(tree, exchange.response)
    ids = {found: found for found in ID_PATTERN.findall(exchange.response.text) if _known(found)}
    other_ids = {_renamed(found): found for found in ids}
    end = exchange.started + exchange.duration
    start = exchange.started + SHIFT
    base = Answer(exchange.response, exchange.started, end, ids, PROFILE, TimeMap())
    theirs = Answer(other, start, start + exchange.duration, other_ids, PROFILE, TimeMap())
    same, _, _ = proven_same(base, theirs)
    if same:
        fresh_base = Answer(exchange.response, exchange.started, end, ids, PROFILE, TimeMap())
        fresh = Answer(other, start, start + exchange.duration, other_ids, PROFILE, TimeMap())
        assert fresh_base.normalize() == fresh.normalize()


# Answers made of the values the walk's shortcuts decide alone: texts without a `_` that
# an id map may know all the same (a plan called gold), texts with one that naming leaves
# alone or not (a word, a request id, an id inside a sentence), booleans, nulls, empty
# objects and lists, and times a few seconds or a day apart, in objects with and without
# a type.
_WALK_VALUES = st.sampled_from(
    [
        "gold",
        "silver",
        "usd",
        "cus_Abcdefgh1234",
        "in_progress",
        "per_unit",
        "req_Abcdefgh1234",
        "paid by cus_Abcdefgh1234 today",
        {},
        [],
        None,
        True,
        False,
        7,
        1_795_435_200,
        1_795_435_203,
        1_795_521_600,
    ]
)
_WALK_KEYS = ["plan", "currency", "livemode", "created", "customer", "status", "amount"]
_WALK_OBJECTS = st.fixed_dictionaries(
    {"object": st.sampled_from(["customer", "plan", "price_of_nothing"])},
    optional={key: _WALK_VALUES for key in _WALK_KEYS},
)
_WALK_TREES = st.one_of(
    _WALK_OBJECTS,
    st.builds(lambda inner, outer: {**outer, "items": [inner]}, _WALK_OBJECTS, _WALK_OBJECTS),
    st.builds(lambda inner, outer: {**outer, "nested": inner}, _WALK_OBJECTS, _WALK_OBJECTS),
)
_USER_IDS = st.dictionaries(
    st.sampled_from(["gold", "silver", "usd", "cus_Abcdefgh1234", "per_unit"]),
    st.sampled_from(["gold", "silver", "cus_Recorded0001"]),
    max_size=3,
)


def _walked(tree: Any, data: st.DataObject) -> Any:
    """The other side's answer: each value kept, or replaced by another of _WALK_VALUES."""
    if isinstance(tree, dict):
        return {key: _walked(value, data) for key, value in tree.items()}
    if isinstance(tree, list):
        return [_walked(value, data) for value in tree]
    return data.draw(_WALK_VALUES) if data.draw(st.integers(0, 3)) == 0 else tree


@settings(max_examples=400, deadline=None)
@given(
    st.lists(_WALK_TREES, min_size=1, max_size=3),
    _USER_IDS,
    _USER_IDS,
    st.sampled_from([0.0, 3.0, 86_400.0]),
    st.data(),
)
def test_the_walks_shortcuts_decide_what_normalising_decides(
    trees: list[Any],
    ids: dict[str, str],
    other_ids: dict[str, str],
    shift: float,
    data: st.DataObject,
) -> None:
    """Equal texts without a `_` (unless an id map knows them) or that naming leaves
    alone, equal booleans and nulls, empty objects and lists, and times as far from their
    own request on both sides are decided without normalising;
    over a side's answers in order, the verdicts and what the time maps learn are those
    of normalising both."""
    answers = [(tree, _walked(tree, data)) for tree in trees]
    names = ("gold", "silver", "cus_Abcdefgh1234", "cus_Recorded0001", "per_unit")
    values = (1_795_435_200, 1_795_435_203, 1_795_521_600)
    fast, full = (
        _verdicts_and_learnt(answers, (ids, other_ids), shift, (PROFILE, PROFILE), fast)
        for fast in (True, False)
    )
    assert fast[0] == full[0]
    assert [_learnt(times, names, values) for times in fast[1]] == [
        _learnt(times, names, values) for times in full[1]
    ]


def _verdicts_and_learnt(
    answers: list[tuple[Any, Any]],
    ids: tuple[dict[str, str], dict[str, str]],
    shift: float,
    profiles: tuple[Profile, Profile],
    fast: bool,
) -> tuple[list[bool], tuple[TimeMap, TimeMap]]:
    """Each pair of answers' verdict, the fast path tried first or not, over one pair of
    time maps (a side's answers in order, a minute apart; the other side `shift` later)."""
    like = Response(200, Headers([("Content-Type", "application/json")]), "{}")
    times = (TimeMap(), TimeMap())
    verdicts = []
    for index, (tree, other_tree) in enumerate(answers):
        started = 1_795_435_200.0 + 60 * index
        moved = started + shift
        base = Answer(_response(tree, like), started, started, ids[0], profiles[0], times[0])
        theirs = Answer(_response(other_tree, like), moved, moved, ids[1], profiles[1], times[1])
        same = proven_same(base, theirs)[0] if fast else False
        verdicts.append(same or base.normalize() == theirs.normalize())
    return verdicts, times


def _learnt(times: TimeMap, names: tuple[str, ...], values: tuple[int, ...]) -> list[Any]:
    """What a time map learnt of these objects and times."""
    return [
        (times.born(name, 1), times.first_shown(value, 1)) for name in names for value in values
    ]


# Fields whose name decides how they are normalised: masked everywhere (`number`,
# `secret`), masked in one object type only (`fee` of a balance transaction), a time by
# name (`created`, `due_date`, `paid_at`), an expandable reference by the catalogue
# (`customer` of an invoice or a charge, `source` of a balance transaction), plain
# (`amount`); with values of every type the walk tells apart, ints and floats alike,
# numbers below and above the earliest time, ids the maps know, know on one side only, or
# not at all, and containers, empty or not, where a masked field may hold them.
_KIND_VALUES = st.sampled_from(
    [
        None,
        True,
        False,
        0,
        7,
        7.0,
        99_999_999,
        1_795_435_200,
        1_795_435_200.0,
        1_795_435_203,
        1_795_521_600,
        "gold",
        "per_unit",
        "cus_Abcdefgh1234",
        "cus_Other0000001",
        "ch_Abcdefgh1234",
        "see cus_Abcdefgh1234",
        "<masked>",
        {},
        [],
        {"amount": 7},
        [{"id": "cus_Abcdefgh1234", "object": "customer"}],
        ["gold", 7],
    ]
)
_KIND_KEYS = ["number", "secret", "fee", "created", "due_date", "paid_at", "customer", "source"]
_KIND_OBJECTS = st.fixed_dictionaries(
    {"object": st.sampled_from(["invoice", "charge", "balance_transaction", "customer", "x"])},
    optional={key: _KIND_VALUES for key in [*_KIND_KEYS, "amount", "id"]},
)
_KIND_TREES = st.one_of(
    _KIND_OBJECTS,
    st.builds(lambda inner, outer: {**outer, "lines": [inner]}, _KIND_OBJECTS, _KIND_OBJECTS),
    st.builds(lambda inner, outer: {**outer, "nested": inner}, _KIND_OBJECTS, _KIND_OBJECTS),
)
_KIND_IDS = st.dictionaries(
    st.sampled_from(["gold", "cus_Abcdefgh1234", "cus_Other0000001", "ch_Abcdefgh1234"]),
    st.sampled_from(["gold", "cus_Recorded0001", "ch_Recorded00001"]),
    max_size=3,
)
# The two sides' profiles: with a catalogue (references, its times) or without (the
# profile's names alone), most often one for both (their fields then normalise alike).
_CATALOGUED = PROFILE.for_version("2026-09-30.endive")
_KIND_PROFILES = st.sampled_from(
    [
        (_CATALOGUED, _CATALOGUED),
        (_CATALOGUED, _CATALOGUED),
        (PROFILE, PROFILE),
        (PROFILE, _CATALOGUED),
    ]
)


def _varied(tree: Any, data: st.DataObject) -> Any:
    """The other side's answer: the same tree with at most two values replaced by others
    of _KIND_VALUES (one changed field is what a fast path could miss)."""
    leaves: list[tuple[Any, Any]] = []

    def collect(node: Any) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            if isinstance(value, dict | list) and value and data.draw(st.booleans()):
                collect(value)
            else:
                leaves.append((node, key))

    other = copy.deepcopy(tree)
    collect(other)
    for _ in range(data.draw(st.integers(0, 2))):
        node, key = leaves[data.draw(st.integers(0, len(leaves) - 1))]
        value = node[key]
        if data.draw(st.booleans()):
            node[key] = copy.deepcopy(data.draw(_KIND_VALUES))
        elif type(value) is bool:
            node[key] = not value
        elif type(value) in (int, float):
            node[key] = value + data.draw(st.sampled_from([1, 3, 86_400]))
        elif type(value) is str:
            node[key] = value + data.draw(st.sampled_from(["X", "_x", " "]))
    return other


@settings(max_examples=500, deadline=None)
@given(
    st.lists(_KIND_TREES, min_size=1, max_size=3),
    _KIND_IDS,
    _KIND_IDS,
    st.sampled_from([0.0, 3.0, 86_400.0]),
    _KIND_PROFILES,
    st.data(),
)
def test_the_walk_decides_each_kind_of_field_as_normalising_does(
    trees: list[Any],
    ids: dict[str, str],
    other_ids: dict[str, str],
    shift: float,
    profiles: tuple[Profile, Profile],
    data: st.DataObject,
) -> None:
    """Masked fields (everywhere and in one object type), times by name, references,
    plain numbers (an int and a float of one value, a number on one side and a time on
    the other), nulls beside masked values, and containers where a field is masked: over
    a side's answers in order, the fast path's verdicts and what the time maps learn are
    those of normalising both, whether the two sides' fields are normalised alike (one
    profile, one object type) or not."""
    answers = [(tree, _varied(tree, data)) for tree in trees]
    names = ("gold", "cus_Abcdefgh1234", "cus_Other0000001", "ch_Abcdefgh1234")
    values = (99_999_999, 1_795_435_200, 1_795_435_203, 1_795_521_600)
    fast, full = (
        _verdicts_and_learnt(answers, (ids, other_ids), shift, profiles, fast)
        for fast in (True, False)
    )
    assert fast[0] == full[0]
    assert [_learnt(times, names, values) for times in fast[1]] == [
        _learnt(times, names, values) for times in full[1]
    ]


# --- the own diff against deepdiff ------------------------------------------------------

_T0 = 1_700_000_000.0
_KEYS = st.sampled_from(["id", "amount", "status", "data", "__private", "x", "<cus_1>"])
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.sampled_from([1.0, 2.5, -0.0]),
    st.sampled_from(["", "a", "b", "<masked>", "cus_1"]),
    st.builds(
        lambda offset: Moment(_T0 + offset, (_T0, _T0), tolerance=5.0),
        st.sampled_from([0, 3, 60, 86_400]),
    ),
)
_TREES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(_KEYS, inner, max_size=4),
        st.dictionaries(_KEYS, inner, max_size=4).map(ById),
    ),
    max_leaves=12,
)


def _edited(tree: Any, data: st.DataObject) -> Any:
    """`tree` with some of its nodes replaced, dropped or added: two trees that share
    most of their shape, as two answers to one request do."""
    if data.draw(st.integers(0, 5)) == 0:
        return data.draw(_TREES)
    if isinstance(tree, dict):
        out = type(tree)()
        for key, value in tree.items():
            if data.draw(st.integers(0, 6)) != 0:
                out[key] = _edited(value, data)
        if data.draw(st.integers(0, 4)) == 0:
            out[data.draw(_KEYS)] = data.draw(_TREES)
        return out
    if isinstance(tree, list):
        return [_edited(value, data) for value in tree]
    return tree


@settings(max_examples=400, deadline=None)
@given(_TREES, st.data())
def test_the_own_diff_reports_what_deepdiff_reports(tree: Any, data: st.DataObject) -> None:
    other = _edited(tree, data)
    own = own_reports(tree, other)
    if own is not None:
        assert own == deepdiff_reports(tree, other)


def test_the_own_diff_leaves_differing_lists_to_deepdiff() -> None:
    assert own_reports({"types": ["card"]}, {"types": ["card", "link"]}) is None
    baseline = {"a": 1, "b": {"c": "x"}}
    candidate = {"a": 2, "b": {"d": "x"}}
    assert own_reports(baseline, candidate) == [
        ("values_changed", ["a"], 1, 2),
        ("dictionary_item_added", ["b", "d"], None, "x"),
        ("dictionary_item_removed", ["b", "c"], "x", None),
    ]


def _normalised_pairs(name: str, seed: int) -> list[tuple[Any, Any, str]]:
    """(baseline's, other's, endpoint) normalised answers of mutated twins."""
    found = []
    for exchange, other, started in _side_pairs(RECORDED[name], seed, mutations=1.0):
        assert exchange.response is not None
        ids = {i: i for i in ID_PATTERN.findall(exchange.response.text) if _known(i)}
        other_ids = {_renamed(i): i for i in ids}
        end = exchange.started + exchange.duration
        base = Answer(exchange.response, exchange.started, end, ids, PROFILE, TimeMap())
        theirs = Answer(other, started, started + exchange.duration, other_ids, PROFILE, TimeMap())
        found.append((base.normalize(), theirs.normalize(), exchange.request.path))
    return found


@pytest.mark.parametrize("name", sorted(RECORDED))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_own_diff_finds_the_differences_deepdiff_finds(name: str, seed: int) -> None:
    for baseline, other, endpoint in _normalised_pairs(name, seed):
        own = diff_responses(endpoint, baseline, other, own=True)
        assert own == diff_responses(endpoint, baseline, other, own=False)


# --- reading an exchange in one pass ----------------------------------------------------

_LINE = {
    "seq": 3,
    "started": 1_700_000_000.5,
    "duration": 0.25,
    "journey": 2,
    "request": {
        "method": "POST",
        "scheme": "https",
        "host": "api.stripe.com",
        "port": 443,
        "path": "/v1/customers",
        "query": "",
        "headers": [["Content-Type", "application/x-www-form-urlencoded"]],
        "body": "email=a%40example.com",
    },
    "response": {"status": 200, "headers": [["Request-Id", "req_1"]], "body": "{}"},
}
_ODD_VALUES = st.sampled_from(
    [
        None,
        True,
        0,
        -1,
        1.5,
        2**64,
        float("inf"),
        "",
        "x",
        "/",
        "base64",
        "utf-8",
        "outbound",
        "inbound",
        [],
        [["a", "b"]],
        [["a"]],
        [["a", 1]],
        [1],
        {},
        {"status": 200},
        "AAAA",
        "!!",
    ]
)
_FIELDS = [
    ("seq",),
    ("started",),
    ("duration",),
    ("direction",),
    ("error",),
    ("response",),
    ("request",),
    ("request", "method"),
    ("request", "path"),
    ("request", "query"),
    ("request", "port"),
    ("request", "headers"),
    ("request", "body"),
    ("request", "body_encoding"),
    ("response", "status"),
    ("response", "headers"),
    ("response", "body"),
    ("response", "body_encoding"),
]


def _slow_read(data: Any) -> Exchange | str:
    try:
        validate_exchange(data)
        return Exchange.from_json(data)
    except ValueError as exc:
        return str(exc)


def _quick_read(data: Any) -> Exchange | str:
    try:
        return read_exchange(data)
    except ValueError as exc:
        return str(exc)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_FIELDS), _ODD_VALUES, st.booleans()), max_size=3))
def test_reading_in_one_pass_is_validating_then_building(
    changes: list[tuple[tuple[str, ...], Any, bool]],
) -> None:
    data = copy.deepcopy(_LINE)
    for path, value, drop in changes:
        parent = data
        for step in path[:-1]:
            parent = parent.get(step) if isinstance(parent, dict) else None
        if isinstance(parent, dict):
            if drop:
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = copy.deepcopy(value)
    assert _quick_read(data) == _slow_read(data)


def _slow_line(line: str | bytes) -> Exchange | str:
    try:
        return _slow_read(load_json(line))
    except ValueError as exc:
        return str(exc)


def _line_read(line: str | bytes) -> Exchange | str:
    try:
        return read_line(line)
    except ValueError as exc:
        return str(exc)


# Where a line may hold what orjson reads otherwise than the standard library: integers
# past 64 bits (orjson makes floats of them), floats as large, nesting, lone surrogates.
_LINE_ODDITIES = st.sampled_from(
    [
        "2" * 19,
        "9" * 19,
        "-" + "9" * 19,
        "1" * 25,
        "1e19",
        "-1e300",
        "1" * 400,
        "1.5",
        '"\\ud800"',
        "NaN",
        "[" * 120 + "]" * 120,
        '{"a": [' + "9" * 30 + "]}",
        '"' + "{[" * 120 + '"',  # brackets in a text: nothing nests
    ]
)
_LINE_PLACES = st.sampled_from(
    [
        ("seq",),
        ("started",),
        ("duration",),
        ("journey",),
        ("attempts",),
        ("unresolved",),
        ("request", "scheme"),
        ("request", "host"),
        ("request", "port"),
        ("request", "body"),
        ("request", "other"),
        ("response", "status"),
        ("response", "other"),
    ]
)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(st.tuples(_LINE_PLACES, _LINE_ODDITIES), max_size=3),
    st.booleans(),
    st.booleans(),
)
def test_reading_a_line_is_parsing_it_then_reading_it(
    changes: list[tuple[tuple[str, ...], str]], as_bytes: bool, compact: bool
) -> None:
    """read_line gives what load_json then read_exchange give, on lines whose numbers
    orjson and the standard library read differently."""
    data = copy.deepcopy(_LINE)
    marks: dict[str, str] = {}
    for index, (path, oddity) in enumerate(changes):
        parent = data
        for step in path[:-1]:
            parent = parent[step]
        mark = f"@@{index}@@"
        parent[path[-1]] = mark
        marks[json.dumps(mark)] = oddity
    text = json.dumps(data, separators=(",", ":") if compact else (", ", ": "))
    for mark, oddity in marks.items():
        text = text.replace(mark, oddity)
    line = text.encode("utf-8") if as_bytes else text + "\n"
    assert _line_read(line) == _slow_line(line)


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_reading_in_one_pass_reads_the_shipped_recordings_alike(name: str) -> None:
    with open(RECORDINGS / name, encoding="utf-8") as file:
        next(file)
        for line in file:
            data = load_json(line)
            assert read_exchange(data) == _slow_read(data) == read_line(line)


# --- outcome lines ------------------------------------------------------------------------

_LINE_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),  # past 64 bits too
        st.floats(allow_nan=False, allow_infinity=False),  # below 1e-4 too
        st.text(),
        st.sampled_from([*OutcomeKind, *Severity, *DifferenceKind]),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(), inner)),
    max_leaves=10,
)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.text(), _LINE_VALUES, max_size=6))
def test_an_outcome_line_is_what_json_dumps_writes(data: dict[str, Any]) -> None:
    assert outcome_line(data) == json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"


# --- id map lines -------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(), st.text(), max_size=8), st.sampled_from(["", "\\ud800"]))
def test_an_id_map_read_line_by_line_holds_what_parsing_it_whole_holds(
    ids: dict[str, str], lone: str
) -> None:
    """Each pair line is parsed by orjson, and what it refuses by load_json: the pairs
    are those of the whole file parsed at once, or the message is load_json's."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "t.idmap.json"
        write_idmap(path, "t", ids)
        if lone and ids and "a" not in ids:  # a lone surrogate, escaped as a hand-edited
            # file may hold it (under a key of its own: a key given twice is another error)
            text = path.read_text(encoding="utf-8")
            first = '"ids": {\n  '
            path.write_text(text.replace(first, first + '"a": "' + lone + '",\n  ', 1))
        try:
            read: dict[str, str] | str = dict(iter_idmap(path))
        except InputError as exc:
            read = str(exc)
        try:
            whole: dict[str, str] | str = load_idmap(path)
        except InputError as exc:
            whole = str(exc)
        if isinstance(whole, str):
            assert isinstance(read, str)
            assert "surrogate" in read and "surrogate" in whole
        else:
            assert read == whole
