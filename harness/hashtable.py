"""Strings or numbers → one number each, in two flat arrays keyed by 64-bit hashes.

A dict of strings costs about 150 bytes an entry; this costs 12 to 24 (open addressing, at
most three quarters full), so the planner's id table and compare's time maps hold the ids
and times of a million exchanges in tens of MB. Two keys with one hash (about one chance
in 10^8 for a million keys) share an entry: each user says what that costs it.

The first SMALL keys are held in a plain dict, which answers in C (compare asks a time
map about every id of every answer) and costs a few MB at most; past that they move to
the arrays.
"""

from __future__ import annotations

from array import array
from typing import Any, Generic, TypeVar

N = TypeVar("N", int, float)

_MIX = 0x9E3779B97F4A7C15  # Fibonacci hashing: consecutive numbers land far apart
_BITS = (1 << 64) - 1
_SIGN = 1 << 63
# Keys held in a dict before the table moves to its arrays.
SMALL = 1 << 15


def _key(item: str | int | float) -> int:
    """A non-zero signed 64-bit key (zero marks an empty slot)."""
    mixed = (hash(item) * _MIX) & _BITS
    return (mixed - (1 << 64) if mixed >= _SIGN else mixed) or 1


class HashTable(Generic[N]):
    """Keys → numbers of one array typecode (`i` 32-bit ints, `q` 64-bit, `d` floats).

    Keys are hashed with Python's `hash`, which is salted per process: a table is never
    shared between processes.
    """

    __slots__ = ("_keys", "_mask", "_size", "_small", "_small_limit", "_typecode", "_values")

    _values: array[Any]

    def __init__(self, typecode: str = "i", capacity: int = 1 << 12, small: int = SMALL) -> None:
        self._typecode = typecode
        self._small: dict[str | int | float, N] | None = {} if small > 0 else None
        self._small_limit = small
        self._allocate(capacity)

    def _allocate(self, capacity: int) -> None:
        typecode = self._typecode
        self._keys = array("q", bytes(8 * capacity))  # 0: an empty slot
        self._values = array(typecode, bytes(array(typecode).itemsize * capacity))
        self._mask = capacity - 1
        self._size = 0

    def __len__(self) -> int:
        return len(self._small) if self._small is not None else self._size

    def _slot(self, key: int) -> int:
        keys, mask = self._keys, self._mask
        index = (key >> 20) & mask
        while keys[index] != key and keys[index] != 0:
            index = (index + 1) & mask
        return index

    def _number(self, number: N) -> N:
        """`number` as the arrays would give it back (a float in a table of floats)."""
        return float(number) if self._typecode == "d" else number  # type: ignore[return-value]

    def get(self, item: str | int | float) -> N | None:
        if self._small is not None:
            return self._small.get(item)
        key = _key(item)
        index = self._slot(key)
        return self._values[index] if self._keys[index] == key else None

    def set(self, item: str | int | float, number: N) -> None:
        small = self._small
        if small is not None:
            small[item] = self._number(number)
            if len(small) > self._small_limit:
                self._to_arrays()
            return
        self._store(item, number)

    def _store(self, item: str | int | float, number: N) -> None:
        key = _key(item)
        index = self._slot(key)
        self._values[index] = number
        if self._keys[index] == 0:
            self._keys[index] = key
            self._size += 1
            if 4 * self._size > 3 * len(self._keys):
                self._grow()

    def setdefault(self, item: str | int | float, number: N) -> N:
        """The number `item` has, or `number` once set for it (the first one wins)."""
        small = self._small
        if small is not None:
            # _number inlined: called per id and time compared.
            found = small.setdefault(
                item,
                float(number) if self._typecode == "d" else number,  # type: ignore[arg-type]
            )
            if len(small) > self._small_limit:
                self._to_arrays()
            return found
        mixed = (hash(item) * _MIX) & _BITS  # _key and _slot inlined: called per id compared
        key = (mixed - (1 << 64) if mixed >= _SIGN else mixed) or 1
        keys, mask = self._keys, self._mask
        index = (key >> 20) & mask
        while True:
            found = keys[index]
            if found == key:
                return self._values[index]  # type: ignore[no-any-return]
            if found == 0:
                break
            index = (index + 1) & mask
        self._keys[index] = key
        self._values[index] = number
        self._size += 1
        if 4 * self._size > 3 * len(self._keys):
            self._grow()
        return number

    def _to_arrays(self) -> None:
        """Move the dict's keys to the arrays, in the order they came (of two keys with
        one hash, the first keeps the entry, as in the arrays)."""
        small, self._small = self._small, None
        assert small is not None
        capacity = len(self._keys)
        while 3 * capacity < 4 * len(small):
            capacity *= 2
        self._allocate(2 * capacity)
        for item, number in small.items():
            key = _key(item)
            index = self._slot(key)
            if self._keys[index] == 0:
                self._keys[index] = key
                self._values[index] = number
                self._size += 1

    def _grow(self) -> None:
        keys, values = self._keys, self._values
        self._allocate(2 * len(keys))
        for key, number in zip(keys, values, strict=True):
            if key != 0:
                index = self._slot(key)
                self._keys[index] = key
                self._values[index] = number
                self._size += 1
