"""Journeys: exchanges joined by the Stripe ids they create and use (union-find over ids).

An exchange *uses* the ids in its request (path, query, form or JSON body, Stripe-Account)
and *creates* the ids its response names. Two exchanges that touch one id are in one
journey; within a journey exchanges keep their recorded order; journeys are independent,
so the replay runs them in parallel. Three kinds of id are handled differently, each
deterministically, so that parallelism neither breaks dependencies nor disappears:

* **Requests that touch no id** — a list of all customers, the balance, a page of a list
  (`starting_after` is a cursor, not a scope). Joining them to anything would serialise
  everything; running them freely would race with the writes whose effect they show.
  Each is a journey of its own and a *barrier* on its collection
  (`harness.stripe.resource_of`, widened by `harness.stripe.read_depends_on`: the
  balance sees every write): it waits until every earlier write (POST/DELETE…, in
  recorded order) to a collection it can see has completed, and every later such write
  waits until it has completed. It sees exactly the writes it saw when recorded, and
  writes between two barriers run in parallel. The ids its answer lists are not counted
  as created, or every journey would merge into one.
* **Catalogue ids** — products, plans, prices, coupons, tax rates, promotion codes, and
  every user-chosen id (`gold`). Every subscription refers to a price; joining on it would
  put every customer in one journey. Exchanges that act on the object (its id in the
  path, or the object itself as the answer) are joined on it as usual; exchanges that
  merely refer to it are ordered instead: a reference waits for every earlier exchange
  that acts on the object, and an action waits for every earlier reference.
* **Account-wide configuration ids** that every object names (payment method
  configurations, tax codes) join and order nothing; the id map still rewrites them.

The planner keeps a compact record per exchange (journey, barrier role, collection, the
catalogue ids it refers to or acts on) and the ids seen, never bodies, so a million
exchanges plan in one streaming pass with union-find.
"""

from __future__ import annotations

import multiprocessing
import os
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from harness.errors import RecordingError
from harness.model import Exchange
from harness.recording import RecordingReader
from harness.replay.groups import GroupScopes
from harness.replay.idmap import response_json
from harness.replay.rewrite import (
    CURSOR,
    CUSTOM,
    NOT_ID_FIELDS,
    PATH,
    SECRET,
    request_references,
    secret_owner,
)
from harness.stripe import (
    NON_OBJECT_PREFIXES,
    id_prefix,
    is_stripe_id,
    is_test_token,
    resource_of,
)

# Account-wide configuration that every object of a kind names.
AMBIENT_PREFIXES = frozenset({"pmc", "txcd", "bpc"})
# Catalogue objects: made once, referred to by many (user-chosen ids are catalogue too).
CATALOGUE_PREFIXES = frozenset({"prod", "plan", "price", "txr", "promo", "shr", "sku"})

# Barrier roles of an exchange.
PLAIN = 0  # a read that touches ids: ordered within its journey only
READ_BARRIER = 1  # a read that touches no id: waits for earlier writes it can see
WRITE = 2  # a write: waits for earlier id-less reads that can see it

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Exchanges a plan can hold (its arrays hold positions and journeys as 32-bit ints).
MAX_EXCHANGES = 2**31 - 1
# Seqs below this are remembered as bits (16 MB at most); any beyond, in a set.
_SEQ_BITS = 1 << 27
# Values that never hold an id (walked past without a call).
_SCALARS = frozenset({int, float, bool})


def is_catalogue_id(value: str) -> bool:
    """A product, plan, price, coupon… id, or any user-chosen id."""
    return not is_stripe_id(value) or id_prefix(value) in CATALOGUE_PREFIXES


@dataclass(slots=True, frozen=True)
class Footprint:
    """What the planner keeps of one exchange."""

    seq: int
    joins: tuple[str, ...]  # ids that put it in a journey
    refers: tuple[str, ...] = ()  # catalogue ids it only refers to: ordered, not joined
    resource: str = ""
    write: bool = False
    uses: tuple[str, ...] = ()  # every id its request names (to count unproduced ones)
    creates: tuple[str, ...] = ()  # user-chosen ids its answer names (plan `gold`)

    @property
    def role(self) -> int:
        if self.write:
            return WRITE
        return PLAIN if self.joins else READ_BARRIER


def _response_ids(node: Any, found: dict[str, None], key: str | None = None) -> None:
    if isinstance(node, dict):
        for name, value in node.items():
            if name not in NOT_ID_FIELDS and value is not None and type(value) not in _SCALARS:
                _response_ids(value, found, name)
    elif isinstance(node, list):
        for value in node:
            _response_ids(value, found, key)
    elif isinstance(node, str) and node:
        if key == "id":
            if id_prefix(node) not in NON_OBJECT_PREFIXES:
                found[node] = None
        elif "_" in node and is_stripe_id(node) and not is_test_token(node):
            found[node] = None


def footprint(exchange: Exchange, custom_ids: set[str] | frozenset[str] = frozenset()) -> Footprint:
    """The ids an exchange joins on and the catalogue ids it refers to. `custom_ids` are the
    user-chosen ids named by earlier answers: `plan=gold` refers to an object only if one
    has been seen."""
    request = exchange.request
    used: dict[str, None] = {}
    acted: set[str] = set()
    cursors: set[str] = set()
    for kind, value, where in request_references(request):
        if kind == SECRET:
            value = secret_owner(value)
        elif kind == CUSTOM and value not in custom_ids:
            continue
        if id_prefix(value) in AMBIENT_PREFIXES:
            continue
        used[value] = None
        if kind == CURSOR:
            cursors.add(value)
        if where == PATH:
            acted.add(value)
    write = request.method.upper() not in _READ_METHODS
    named: dict[str, None] = {}
    scoped = write or any(v not in cursors and not is_catalogue_id(v) for v in used)
    body = response_json(exchange.response) if scoped else None
    if body is not None:
        # An id-less read (a list of everything) creates nothing: see the module docstring.
        _response_ids(body, named)
        own = body.get("id") if isinstance(body, dict) and body.get("object") != "list" else None
        if isinstance(own, str):
            acted.add(own)
    joins: list[str] = []
    refers: list[str] = []
    for value in {**used, **named}:
        if value in cursors or id_prefix(value) in AMBIENT_PREFIXES:
            continue
        if is_catalogue_id(value) and value not in acted:
            refers.append(value)
        else:
            joins.append(value)
    creates = tuple(v for v in named if not is_stripe_id(v))
    return Footprint(
        seq=exchange.seq,
        joins=tuple(joins),
        refers=tuple(refers),
        resource=resource_of(request.path),
        write=write,
        uses=tuple(used),
        creates=creates,
    )


class PositionTuples(Mapping[int, tuple[int, ...]]):
    """position → a few ints (catalogue indexes), for the few exchanges that have any:
    three flat arrays, appended in position order, instead of a dict of tuples."""

    __slots__ = ("_positions", "_starts", "_values")

    def __init__(self) -> None:
        self._positions = array("q")
        self._starts = array("q", [0])
        self._values = array("q")

    def append(self, position: int, values: Iterable[int]) -> None:
        """Add the values of `position`, later than any added before."""
        if self._positions and position <= self._positions[-1]:
            raise ValueError("positions are added in increasing order")
        self._values.extend(values)
        self._positions.append(position)
        self._starts.append(len(self._values))

    def __getitem__(self, position: int) -> tuple[int, ...]:
        index = bisect_left(self._positions, position)
        if index == len(self._positions) or self._positions[index] != position:
            raise KeyError(position)
        return tuple(self._values[self._starts[index] : self._starts[index + 1]])

    def __iter__(self) -> Iterator[int]:
        return iter(self._positions)

    def __len__(self) -> int:
        return len(self._positions)


@dataclass(slots=True)
class Plan:
    """Per exchange (by position in the recording): its seq, journey, barrier role and
    collection, and the catalogue ids it refers to or acts on; per journey: its size.
    Journeys are numbered in order of their first exchange."""

    seqs: Sequence[int]  # a range when every seq is its position, as in a recording
    journey_of: array[int]
    roles: bytearray
    resource_index: array[int]
    resources: list[str]
    sizes: array[int]
    catalogue: list[str] = field(default_factory=list)
    refers: Mapping[int, tuple[int, ...]] = field(default_factory=PositionTuples)
    acts: Mapping[int, tuple[int, ...]] = field(default_factory=PositionTuples)
    unproduced: int = 0
    unproduced_examples: list[str] = field(default_factory=list)

    @property
    def exchanges(self) -> int:
        return len(self.seqs)

    @property
    def journeys(self) -> int:
        return len(self.sizes)

    @property
    def largest(self) -> tuple[int, int]:
        """(journey, size) of the largest journey; (-1, 0) for an empty recording."""
        if not self.sizes:
            return -1, 0
        size = max(self.sizes)
        return self.sizes.index(size), size

    @property
    def barriers(self) -> int:
        return self.roles.count(READ_BARRIER)

    @property
    def parallelism(self) -> float:
        """Exchanges per exchange of the largest journey: the most a parallel replay gains."""
        _, size = self.largest
        return round(self.exchanges / size, 1) if size else 0.0

    def journey_seqs(self) -> list[list[int]]:
        """The seqs of every journey, in recorded order."""
        out: list[list[int]] = [[] for _ in range(self.journeys)]
        for position, journey in enumerate(self.journey_of):
            out[journey].append(self.seqs[position])
        return out

    def to_json(self) -> dict[str, Any]:
        journey, size = self.largest
        first = self.journey_of.index(journey) if size else None
        return {
            "exchanges": self.exchanges,
            "journeys": self.journeys,
            "largest": size,
            "largest_journey": {
                "journey": journey,
                "first_seq": self.seqs[first] if first is not None else None,
            },
            "parallelism": self.parallelism,
            "barriers": self.barriers,
            "catalogue_ids": len(self.catalogue),
            "unproduced": {"count": self.unproduced, "examples": self.unproduced_examples},
        }


class _IdTable:
    """Ids → an int, keyed by the ids' 64-bit hashes in two flat arrays (open addressing,
    at most three quarters full): 12 to 24 bytes an id instead of about 150 for a dict of
    strings, so a million exchanges plan in tens of MB. Two ids with one hash (about one
    chance in 10^8 for a million ids) would share an entry: for the planner, that joins
    two journeys, which only orders more than needed."""

    __slots__ = ("_keys", "_mask", "_size", "_values")

    def __init__(self, capacity: int = 1 << 12) -> None:
        self._keys = array("q", bytes(8 * capacity))  # 0: an empty slot
        self._values = array("i", bytes(4 * capacity))
        self._mask = capacity - 1
        self._size = 0

    def _slot(self, key: int) -> int:
        keys, mask = self._keys, self._mask
        index = key & mask
        while keys[index] != key and keys[index] != 0:
            index = (index + 1) & mask
        return index

    def get(self, value: str) -> int | None:
        key = hash(value) or 1
        index = self._slot(key)
        return self._values[index] if self._keys[index] == key else None

    def set(self, value: str, number: int) -> None:
        key = hash(value) or 1
        index = self._slot(key)
        self._values[index] = number
        if self._keys[index] == 0:
            self._keys[index] = key
            self._size += 1
            if 4 * self._size > 3 * len(self._keys):
                self._grow()

    def _grow(self) -> None:
        keys, values = self._keys, self._values
        self.__init__(2 * len(keys))  # type: ignore[misc]
        for key, number in zip(keys, values, strict=True):
            if key != 0:
                index = self._slot(key)
                self._keys[index] = key
                self._values[index] = number
                self._size += 1


# What an id is to the planner (the values of its _IdTable besides owner positions).
_KNOWN = -1  # known, with no exchange joined on it (a seed, a catalogue reference)
_UNPRODUCED = -2  # used before anything produced it


class Planner:
    """Builds a Plan from exchanges (or footprints) fed in recorded order."""

    def __init__(self, known_ids: Iterable[str] = ()) -> None:
        # Per id: the first exchange joined on it, or _KNOWN, or _UNPRODUCED.
        self._ids = _IdTable()
        for value in known_ids:
            self._ids.set(value, _KNOWN)
        self._unproduced = 0
        self._parent = array("q")
        self._count = 0
        self._seqs: array[int] | None = None  # kept once a seq is not its position
        self._roles = bytearray()
        self._resource_index = array("H")
        self._resources: dict[str, int] = {}
        self._catalogue: dict[str, int] = {}
        self._refers = PositionTuples()
        self._acts = PositionTuples()
        self._seen = bytearray()  # a bit per seq below _SEQ_BITS
        self._seen_beyond: set[int] = set()
        self._custom: set[str] = set()
        self._examples: list[str] = []
        self._groups = GroupScopes()

    def add(self, exchange: Exchange) -> None:
        # Imported cassettes join each other only on ids one of them created (groups.py).
        self.add_footprint(self._groups.scoped(footprint(exchange, self._custom), exchange))

    def _first_time(self, seq: int) -> bool:
        if seq >= _SEQ_BITS:
            if seq in self._seen_beyond:
                return False
            self._seen_beyond.add(seq)
            return True
        byte, bit = seq >> 3, 1 << (seq & 7)
        if byte >= len(self._seen):
            self._seen.extend(bytes(max(byte + 1 - len(self._seen), len(self._seen))))
        if self._seen[byte] & bit:
            return False
        self._seen[byte] |= bit
        return True

    def add_footprint(self, item: Footprint) -> None:
        if not self._first_time(item.seq):
            raise ValueError(f"seq {item.seq} appears twice; every exchange needs its own seq")
        position = self._count
        if position >= MAX_EXCHANGES:
            raise ValueError(f"more than {MAX_EXCHANGES} exchanges: split the recording")
        self._count += 1
        if self._seqs is None and item.seq != position:
            self._seqs = array("q", range(position))
        if self._seqs is not None:
            self._seqs.append(item.seq)
        self._parent.append(position)
        ids = self._ids
        for value in item.uses:
            if ids.get(value) is not None or not is_stripe_id(value):
                continue
            ids.set(value, _UNPRODUCED)
            self._unproduced += 1
            if len(self._examples) < 10:
                self._examples.append(value)
        for value in item.joins:
            owner = ids.get(value)
            if owner is None or owner < 0:
                ids.set(value, position)
            else:
                self._union(position, owner)
        for value in item.refers:
            if ids.get(value) is None:
                ids.set(value, _KNOWN)
        self._custom.update(item.creates)
        if item.refers:
            self._refers.append(position, [self._catalogue_index(v) for v in item.refers])
        acts = [self._catalogue_index(v) for v in item.joins if is_catalogue_id(v)]
        if acts:
            self._acts.append(position, acts)
        self._roles.append(item.role)
        index = self._resources.setdefault(item.resource, len(self._resources))
        self._resource_index.append(index)

    def _catalogue_index(self, value: str) -> int:
        return self._catalogue.setdefault(value, len(self._catalogue))

    def _find(self, position: int) -> int:
        parent = self._parent
        while parent[position] != position:
            parent[position] = parent[parent[position]]
            position = parent[position]
        return position

    def _union(self, a: int, b: int) -> None:
        root_a, root_b = self._find(a), self._find(b)
        if root_a != root_b:
            # The earlier exchange stays the root, so a root is its journey's first exchange.
            low, high = sorted((root_a, root_b))
            self._parent[high] = low

    def plan(self) -> Plan:
        journey_of = array("i", bytes(4 * self._count))
        sizes = array("q")
        for position in range(self._count):
            # A root is its journey's first exchange, numbered before any later one.
            root = self._find(position)
            if root == position:
                journey = len(sizes)
                sizes.append(0)
            else:
                journey = journey_of[root]
            journey_of[position] = journey
            sizes[journey] += 1
        return Plan(
            seqs=self._seqs if self._seqs is not None else range(self._count),
            journey_of=journey_of,
            roles=self._roles,
            resource_index=self._resource_index,
            resources=list(self._resources),
            sizes=sizes,
            catalogue=list(self._catalogue),
            refers=self._refers,
            acts=self._acts,
            unproduced=self._unproduced,
            unproduced_examples=list(self._examples),
        )


def plan_journeys(exchanges: Iterable[Exchange], known_ids: Iterable[str] = ()) -> Plan:
    """Plan exchanges given in recorded order. `known_ids` (a seed id map) exist already."""
    planner = Planner(known_ids)
    for exchange in exchanges:
        planner.add(exchange)
    return planner.plan()


def plan_apart(path: str | os.PathLike[str], known_ids: Iterable[str] = ()) -> Plan:
    """plan_recording in a process of its own (forked), for a replay about to run.

    Planning a million exchanges parses every line once more and keeps a table of every
    id: tens of MB that Python does not give back to the system in full once freed.
    Planned apart, all of it goes when the child exits; only the plan (a few bytes per
    exchange) comes back.
    """
    if "fork" not in multiprocessing.get_all_start_methods():
        return plan_recording(path, known_ids)
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(plan_recording, path, list(known_ids)).result()


def plan_recording(path: str | os.PathLike[str], known_ids: Iterable[str] = ()) -> Plan:
    """Plan a recording file in one streaming pass."""
    planner = Planner(known_ids)
    with RecordingReader(path) as reader:
        for position, exchange in enumerate(reader):
            try:
                planner.add(exchange)
            except ValueError as exc:
                raise RecordingError(str(path), position + 2, str(exc)) from None
    return planner.plan()
