"""harness.formats.untrusted.load_json reads with orjson first and the standard library's
decoder for what orjson refuses or would read otherwise: both roads give the same value,
and the same problem, for any text."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.formats.untrusted import MAX_DEPTH, JSONProblem, load_json

# Nothing here depends on the date: CI's clock-ahead pass leaves this module out.
pytestmark = pytest.mark.no_clock

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
documents = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


def _same(one: Any, other: Any) -> bool:
    """Equal, with the types of numbers too (1 and 1.0 are not the same reading)."""
    if type(one) is not type(other):
        return False
    if isinstance(one, dict):
        return one.keys() == other.keys() and all(_same(one[k], other[k]) for k in one)
    if isinstance(one, list):
        return len(one) == len(other) and all(map(_same, one, other))
    if isinstance(one, float):
        return one == other or (math.isnan(one) and math.isnan(other))
    return bool(one == other)


@settings(max_examples=300, deadline=None)
@given(documents, st.booleans(), st.booleans())
def test_any_document_reads_as_the_standard_library_reads_it(
    document: Any, ascii_only: bool, as_bytes: bool
) -> None:
    text = json.dumps(document, ensure_ascii=ascii_only)
    read = load_json(text.encode() if as_bytes else text)
    assert _same(read, json.loads(text))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_text_is_read_alike_or_refused_as_a_problem(text: str) -> None:
    try:
        expected: Any = json.loads(text)
    except ValueError:
        expected = JSONProblem
    try:
        read: Any = load_json(text)
    except JSONProblem:
        read = JSONProblem
    if expected is JSONProblem or read is JSONProblem:
        # What the standard library reads but the limits refuse: NaN, Infinity, a lone
        # surrogate, a number out of range.
        if read is not JSONProblem:
            pytest.fail(f"{text!r} was read though the standard library refuses it")
        return
    assert _same(read, expected)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[NaN]", "NaN is not a number JSON allows"),
        ("[1e400]", "out of range"),
        ('["\\ud800"]', "lone surrogate"),
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), f"nested deeper than {MAX_DEPTH}"),
        ("{", "not valid JSON"),
    ],
)
def test_what_orjson_refuses_is_refused_with_the_precise_problem(text: str, problem: str) -> None:
    with pytest.raises(JSONProblem, match=problem):
        load_json(text)


def test_an_integer_past_64_bits_stays_an_integer() -> None:
    assert load_json('{"amount": 123456789012345678901234567890}') == {
        "amount": 123456789012345678901234567890
    }
    assert type(load_json(b"[18446744073709551616]")[0]) is int
    assert load_json("[-9223372036854775809]") == [-9223372036854775809]


@pytest.mark.parametrize(
    "text",
    [
        "123456789012345678901234567890",
        " \n\t-98765432109876543210",
        '{"a":\n18446744073709551616}',
        '{"a":[1,\t18446744073709551616]}',
        '{"key": "shadow-ab714c0204e97057242249452764784efac76dee", "n": 18446744073709551616}',
    ],
)
def test_a_long_integer_after_anything_that_may_precede_a_number_stays_an_integer(
    text: str,
) -> None:
    assert _same(load_json(text), json.loads(text))


def test_digits_inside_a_text_are_not_a_number() -> None:
    text = '{"key": "shadow-3205940207584213422dfb47f43ee", "id": "x1234567890123456789012"}'
    assert load_json(text) == json.loads(text)
