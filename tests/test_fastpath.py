"""Compare's fast path (normalize.proven_same) decides exactly what normalising both answers
decides: never "equal" for answers whose normalised forms differ, and, over a whole side
read in seq order, the same verdict on every exchange with the fast path on or off (the
time maps learn the same either way)."""

from __future__ import annotations

import copy
import json
import random
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.compare.normalize import Answer, parse_body, proven_same
from harness.compare.profile import stripe_profile
from harness.compare.timemap import TimeMap
from harness.formats.recording import iter_exchanges
from harness.formats.untrusted import load_json
from harness.model import Exchange, Response
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
