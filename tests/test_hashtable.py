"""harness.hashtable: the same answers from its dict, from its arrays, and across the
move from one to the other (plain data; hypothesis for the sequences of calls)."""

from __future__ import annotations

from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from harness.hashtable import HashTable

_KEYS = st.one_of(st.text(max_size=6), st.integers(-(2**40), 2**40), st.sampled_from([0.5, 1e9]))
_CALLS = st.lists(
    st.tuples(st.sampled_from(["get", "set", "setdefault"]), _KEYS, st.integers(0, 2**40)),
    max_size=200,
)


def _answers(table: HashTable[Any], calls: list[tuple[str, Any, int]]) -> list[Any]:
    answers = []
    for call, key, number in calls:
        if call == "get":
            answers.append(table.get(key))
        elif call == "set":
            table.set(key, number)
        else:
            answers.append(table.setdefault(key, number))
        answers.append(len(table))
    return answers


@settings(max_examples=300, deadline=None)
@given(_CALLS, st.integers(0, 20))
def test_the_dict_the_arrays_and_the_move_between_them_answer_alike(
    calls: list[tuple[str, Any, int]], small: int
) -> None:
    """What a dict would answer, for keys that never share a hash (two that do share an
    entry in the arrays, as the module says: `''` and `0`, `-1` and `-2`)."""
    keys = {key for _, key, _ in calls}
    assume(len({hash(key) for key in keys}) == len(keys))
    reference: dict[Any, int] = {}
    expected = []
    for call, key, number in calls:
        if call == "get":
            expected.append(reference.get(key))
        elif call == "set":
            reference[key] = number
        else:
            expected.append(reference.setdefault(key, number))
        expected.append(len(reference))
    assert _answers(HashTable("q", capacity=4, small=small), calls) == expected


def test_a_table_of_floats_gives_floats_from_its_dict_as_from_its_arrays() -> None:
    for small in (0, 100):
        table: HashTable[float] = HashTable("d", small=small)
        table.set("a", 1)
        assert table.setdefault("b", 2) == 2.0 and type(table.get("a")) is float
