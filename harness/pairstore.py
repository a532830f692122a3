"""A one-to-one map of strings (a recorded id ↔ a target id) that moves to a SQLite file
of its own once it grows, keeping only the latest pairs in memory: the ids of a million
exchanges then take a few megabytes of memory rather than hundreds.

The replay's id map and compare's counterparts are such maps. Each asks about every
string of every answer, most of which name nothing: once on file, a Bloom filter over
the keys and the values answers those without a query, and a two-generation cache
answers the rest of what a journey asks again and again. The file is scratch space,
removed on `close()`; it never holds a secret (client secrets stay in memory, see
harness.replay.idmap).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

# Pairs kept in plain dicts before the map moves to its file.
IN_MEMORY = 20_000
# Lookups remembered once on file (per generation: at most twice as many are).
CACHE_SIZE = 1 << 12
# Writes between commits: a transaction stays open in between (nothing here is durable).
_BATCH = 5000
# The filters' first size: 256 KB each, doubled as pairs come (2 MB for 1.4 M pairs).
_FIRST_BITS = 1 << 21
# Cached answer for a string that is not in the map (ids never hold a NUL).
_ABSENT = "\0"


class _Bloom:
    """Says False for a string never added; True for one added (or, rarely, for one not)."""

    __slots__ = ("_bits", "_mask")

    def __init__(self, bits: int) -> None:
        self._bits = bytearray(bits // 8)
        self._mask = bits - 1

    @property
    def capacity(self) -> int:
        """Strings it holds with about 1 % false answers (3 hashes, 12 bits each)."""
        return len(self._bits) * 8 // 12

    def _positions(self, text: str) -> tuple[int, int, int]:
        h = hash(text) & 0xFFFFFFFFFFFFFFFF
        return h & self._mask, (h >> 22) & self._mask, ((h >> 43) ^ (h * 0x9E37)) & self._mask

    def add(self, text: str) -> None:
        bits = self._bits
        for position in self._positions(text):
            bits[position >> 3] |= 1 << (position & 7)

    def __contains__(self, text: str) -> bool:
        bits = self._bits
        one, two, three = self._positions(text)
        return bool(
            bits[one >> 3] & (1 << (one & 7))
            and bits[two >> 3] & (1 << (two & 7))
            and bits[three >> 3] & (1 << (three & 7))
        )


class _Cache:
    """Two generations of lookups: when the new one is full, the old one is dropped."""

    __slots__ = ("_new", "_old", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._new: dict[str, str] = {}
        self._old: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        found = self._new.get(key)
        if found is None:
            found = self._old.get(key)
            if found is not None:
                self.put(key, found)
        return found

    def put(self, key: str, value: str) -> None:
        if len(self._new) >= self.size:
            self._old, self._new = self._new, {}
        self._new[key] = value


class _File:
    """The pairs on file: a table with both columns unique, and what stands before it."""

    def __init__(self, cache_size: int) -> None:
        import sqlite3  # only a map past IN_MEMORY pairs needs it

        self.directory = tempfile.TemporaryDirectory(prefix="shadow-pairs-")
        self.db = sqlite3.connect(Path(self.directory.name) / "pairs.sqlite")
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-1024"):
            self.db.execute(f"PRAGMA {pragma}")
        self.db.execute("CREATE TABLE pairs (key TEXT NOT NULL UNIQUE, value TEXT NOT NULL)")
        self.db.execute("CREATE INDEX pairs_by_value ON pairs (value)")
        self.keys, self.values = _Bloom(_FIRST_BITS), _Bloom(_FIRST_BITS)
        self.count = 0
        self.forward, self.backward = _Cache(cache_size), _Cache(cache_size)
        self.pending = 0

    def insert(self, key: str, value: str) -> None:
        self.db.execute("INSERT INTO pairs (key, value) VALUES (?, ?)", (key, value))
        self.count += 1
        if self.count > self.keys.capacity:
            self._grow_filters()
        self.keys.add(key)
        self.values.add(value)
        self.forward.put(key, value)
        if self.backward.get(value) is None:
            self.backward.put(value, key)
        self.pending += 1
        if self.pending >= _BATCH:
            self.commit()

    def _grow_filters(self) -> None:
        """Filters twice the size, refilled from the table (which holds every pair)."""
        bits = 2 * len(self.keys._bits) * 8
        self.keys, self.values = _Bloom(bits), _Bloom(bits)
        for key, value in self.db.execute("SELECT key, value FROM pairs"):
            self.keys.add(key)
            self.values.add(value)

    def commit(self) -> None:
        self.db.commit()
        self.pending = 0

    def lookup(self, text: str, forward: bool) -> str | None:
        if text not in (self.keys if forward else self.values):
            return None
        cache = self.forward if forward else self.backward
        found = cache.get(text)
        if found is None:
            query = (
                "SELECT value FROM pairs WHERE key = ?"
                if forward
                else "SELECT key FROM pairs WHERE value = ? ORDER BY rowid LIMIT 1"
            )
            row = self.db.execute(query, (text,)).fetchone()
            found = row[0] if row is not None else _ABSENT
            cache.put(text, found)
        return None if found == _ABSENT else found

    def close(self) -> None:
        self.db.close()
        self.directory.cleanup()


class PairStore(Mapping[str, str]):
    """key → value. `add` keeps it one to one, refusing a key or a value that is paired
    already; `put` (a seed: a migration may map two old ids to one new one) refuses only
    a key. A Mapping, so it compares equal to a dict with the same pairs."""

    def __init__(
        self,
        pairs: Iterable[tuple[str, str]] = (),
        *,
        in_memory: int | None = None,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        self._in_memory = IN_MEMORY if in_memory is None else in_memory
        self._cache_size = cache_size
        self._forward: dict[str, str] | None = {}
        self._backward: dict[str, str] | None = {}
        self._file: _File | None = None
        self._count = 0
        for key, value in pairs:
            self.put(key, value)

    @property
    def on_file(self) -> bool:
        return self._file is not None

    def add(self, key: str, value: str) -> bool:
        """Pair `key` with `value` unless either is paired already; True when added."""
        if self.key_of(value) is not None:
            return False
        return self.put(key, value)

    def put(self, key: str, value: str) -> bool:
        """Pair `key` with `value` unless `key` is paired already; True when added."""
        if self.get(key) is not None:
            return False
        if self._forward is not None and self._backward is not None:
            self._forward[key] = value
            self._backward.setdefault(value, key)
            if len(self._forward) > self._in_memory:
                self._move_to_file()
        else:
            assert self._file is not None
            self._file.insert(key, value)
        self._count += 1
        return True

    def _move_to_file(self) -> None:
        assert self._forward is not None
        self._file = _File(self._cache_size)
        for key, value in self._forward.items():
            self._file.insert(key, value)
        self._file.commit()
        self._forward = self._backward = None

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        if type(key) is not str:
            return default
        if self._forward is not None:
            return self._forward.get(key, default)
        assert self._file is not None
        found = self._file.lookup(key, forward=True)
        return default if found is None else found

    def key_of(self, value: str) -> str | None:
        """The key paired with `value`, or None."""
        if type(value) is not str:
            return None
        if self._backward is not None:
            return self._backward.get(value)
        assert self._file is not None
        return self._file.lookup(value, forward=False)

    def __getitem__(self, key: str) -> str:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self.items())

    def items(self) -> Iterator[tuple[str, str]]:  # type: ignore[override]
        """Every pair, in the order added (streamed from the file once there)."""
        if self._forward is not None:
            yield from list(self._forward.items())
            return
        assert self._file is not None
        self._file.commit()
        cursor = self._file.db.execute("SELECT key, value FROM pairs ORDER BY rowid")
        while rows := cursor.fetchmany(1000):
            yield from rows

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            self._forward, self._backward = {}, {}
            self._count = 0

    def __enter__(self) -> PairStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
