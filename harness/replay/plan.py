"""Journeys: exchanges joined by the Stripe ids they create and use (union-find over ids),
and the orderings between journeys (docs/replay.md, "Journeys and the orderings between
them"; harness.replay.gates enforces them).

An exchange *uses* the ids in its request (path, query, form or JSON body, Stripe-Account)
and *creates* the ids its response names. Two exchanges that touch one id are in one
journey; within a journey exchanges keep their recorded order; journeys are independent
but for these orderings, each deterministic, so that parallelism neither breaks
dependencies nor disappears:

* **Requests that touch no id** — a list of all customers, the balance, a page of a list
  (`starting_after` is a cursor, not a scope). Joining them to anything would serialise
  everything; running them freely would race with the writes whose effect they show.
  Each is a journey of its own and a *barrier* on the collections it shows
  (`harness.stripe.read_collections`): it waits until every earlier exchange that can
  change them has completed, and every later one waits for it. What an exchange can
  change is `harness.stripe.WRITE_EFFECTS` for writes and `READ_EFFECTS` for the reads
  that change something (localstripe emits an event when the balance is read). The ids
  its answer lists are not joined on, or every journey would merge into one: they are
  *listed*, and a later request that uses one waits for the list that named it.
* **Pages of a longer list** (`has_more`, or a cursor) show which objects came first: the
  writes that made their items are fenced off from the writes that made objects of the
  same collection before and after them; when some item was made by no write seen (an
  event), every earlier write the read can see runs in recorded order.
* **Catalogue ids** — products, plans, prices, coupons, tax rates, promotion codes, and
  every user-chosen id (`gold`). Every subscription refers to a price; joining on it would
  put every customer in one journey. Exchanges that act on the object (its id in the
  path, or the object itself as the answer) are joined on it as usual; exchanges that
  merely refer to it are ordered instead: a reference waits for every earlier exchange
  that acts on the object, and an action waits for every earlier reference.
* **Account-wide configuration ids** that every object names (payment method
  configurations, tax codes) join and order nothing; the id map still rewrites them.

The planner keeps a compact record per exchange (journey, barrier role, access, the
catalogue ids it refers to or acts on) and the ids seen, never bodies, so a million
exchanges plan in one streaming pass with union-find.
"""

from __future__ import annotations

import multiprocessing
import os
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from harness.errors import InfrastructureError, RecordingError
from harness.formats.recording import RecordingReader
from harness.formats.untrusted import response_json
from harness.hashtable import HashTable
from harness.model import Exchange
from harness.replay.groups import GroupScopes
from harness.replay.rewrite import (
    CURSOR,
    CUSTOM,
    NOT_ID_FIELDS,
    PATH,
    SECRET,
    TIME,
    request_references,
    secret_owner,
)
from harness.stripe import (
    NON_OBJECT_PREFIXES,
    Effect,
    collection_of,
    id_prefix,
    is_id_shaped,
    is_stripe_id,
    is_test_token,
    parse_form_pairs,
    read_collections,
    read_effect,
    resource_of,
    write_effect,
)

# Account-wide configuration that every object of a kind names.
AMBIENT_PREFIXES = frozenset({"pmc", "txcd", "bpc"})
# Catalogue objects: made once, referred to by many (user-chosen ids are catalogue too).
CATALOGUE_PREFIXES = frozenset({"prod", "plan", "price", "txr", "promo", "shr", "sku"})

# Barrier roles of an exchange, as bits (a read with a side effect is both).
PLAIN = 0  # a read that touches ids: ordered within its journey only
READ_BARRIER = 1  # a read that touches no id: waits for earlier writes it can see
WRITE = 2  # changes something: waits for earlier id-less reads that can see it

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Exchanges a plan can hold (its arrays hold positions and journeys as 32-bit ints).
MAX_EXCHANGES = 2**31 - 4  # and listed ids are told apart by a negative position
# Seqs below this are remembered as bits (16 MB at most); any beyond, in a set.
_SEQ_BITS = 1 << 27
# Values that never hold an id (walked past without a call).
_SCALARS = frozenset({int, float, bool})


def is_catalogue_id(value: str) -> bool:
    """A product, plan, price, coupon… id, or any user-chosen id (not a generated id
    whose random part happens to be all lowercase: those are referred to by fields and
    path segments of their kind, harness.replay.rewrite)."""
    return not is_id_shaped(value) or id_prefix(value) in CATALOGUE_PREFIXES


# What the planner asks of a string, as bits of _facts(value).
_STRIPE_ID = 1  # is_stripe_id
_CATALOGUE = 2  # is_catalogue_id
_AMBIENT = 4  # an account-wide configuration's id (its prefix is in AMBIENT_PREFIXES)
_LEARNT = 8  # an object's id where an answer names it (a Stripe id, not a test token)
_NAMED = 16  # an answer's own `id` that names an object (not a request's `req_…`)
# Strings whose facts are kept: most an exchange asks about were met a little before
# (its customer's id, a price), and the facts cost several regular expressions each.
_FACTS_KEPT = 4096


@lru_cache(maxsize=_FACTS_KEPT)
def _facts(value: str) -> int:
    """What the planner asks of `value`, found once for the strings it meets again."""
    prefix = id_prefix(value)
    stripe = is_stripe_id(value)
    facts = _STRIPE_ID if stripe else 0
    if prefix in CATALOGUE_PREFIXES or not (stripe or is_id_shaped(value)):
        facts |= _CATALOGUE
    if prefix in AMBIENT_PREFIXES:
        facts |= _AMBIENT
    if stripe and not is_test_token(value):
        facts |= _LEARNT
    if prefix not in NON_OBJECT_PREFIXES:
        facts |= _NAMED
    return facts


@dataclass(slots=True)
class Footprint:
    """What the planner keeps of one exchange; not changed once made (not frozen: a
    frozen dataclass takes about three times as long to make, once per exchange)."""

    seq: int
    joins: tuple[str, ...]  # ids that put it in a journey
    refers: tuple[str, ...] = ()  # catalogue ids it only refers to: ordered, not joined
    resource: str = ""
    write: bool = False
    uses: tuple[str, ...] = ()  # every id its request names (to count unproduced ones)
    creates: tuple[str, ...] = ()  # user-chosen ids its answer names (plan `gold`)
    cursors: tuple[str, ...] = ()  # ids it pages from (starting_after, ending_before)
    listed: tuple[str, ...] = ()  # ids an id-less read's answer names: learnt, not joined
    # A page of a longer list: its items' ids and creation times.
    window: tuple[tuple[str, float | None], ...] | None = None
    started: float = 0.0
    reads: frozenset[str] = frozenset()  # what an id-less read shows (harness.stripe)
    effect: Effect | None = None  # what it changes: a write, or a read with a side effect
    # The absolute times its request holds (by the planner's time fields): the times an
    # answer's walk may have to learn for a later request (IdMap.only_times).
    times: tuple[int, ...] = ()

    @property
    def role(self) -> int:
        barrier = not self.write and not self.joins
        return (READ_BARRIER if barrier else PLAIN) | (WRITE if self.effect is not None else 0)


@dataclass(slots=True, frozen=True)
class Access:
    """What a kind of exchange reads and changes, for the gates: the collections an
    id-less read shows (empty for other exchanges) and the effect of one that changes
    something (None for a pure read)."""

    resource: str
    reads: frozenset[str] = frozenset()
    effect: Effect | None = None


def _response_ids(node: Any, found: dict[str, None], key: str | None = None) -> None:
    """Add to `found` the ids an answer names, in the order they come: every object's own
    `id`, and every value elsewhere that is a Stripe id (not a test token), but for the
    fields that hold codes and words (NOT_ID_FIELDS). Strings are looked at where they
    are met, so only objects and lists cost a call."""
    if isinstance(node, dict):
        for name, value in node.items():
            if value is None or name in NOT_ID_FIELDS:
                continue
            kind = type(value)
            if kind is str:
                if name == "id":
                    if value and _facts(value) & _NAMED:
                        found[value] = None
                elif "_" in value and _facts(value) & _LEARNT:
                    found[value] = None
            elif kind not in _SCALARS:
                _response_ids(value, found, name)
    elif isinstance(node, list):
        for value in node:
            if type(value) is str:
                if key == "id":
                    if value and _facts(value) & _NAMED:
                        found[value] = None
                elif "_" in value and _facts(value) & _LEARNT:
                    found[value] = None
            elif isinstance(value, dict | list):
                _response_ids(value, found, key)
    elif isinstance(node, str) and node:
        if key == "id":
            if _facts(node) & _NAMED:
                found[node] = None
        elif "_" in node and _facts(node) & _LEARNT:
            found[node] = None


def _expands(query: str) -> bool:
    return "expand" in query and any(key.startswith("expand") for key, _ in parse_form_pairs(query))


def _page_of(body: Any, paged: bool) -> tuple[tuple[str, float | None], ...] | None:
    """The ids and creation times of a list answer's items when it is one page of a
    longer list (it says has_more, or it was asked for from a cursor); None otherwise."""
    if not isinstance(body, dict) or body.get("object") != "list":
        return None
    data = body.get("data")
    if not isinstance(data, list) or not (paged or body.get("has_more") is True):
        return None
    items: list[tuple[str, float | None]] = []
    for item in data:
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            created = item.get("created")
            when = float(created) if isinstance(created, int | float) else None
            items.append((item["id"], when))
    return tuple(items)


def footprint(
    exchange: Exchange,
    custom_ids: set[str] | frozenset[str] = frozenset(),
    time_fields: frozenset[str] | None = None,
) -> Footprint:
    """The ids an exchange joins on and the catalogue ids it refers to. `custom_ids` are the
    user-chosen ids named by earlier answers: `plan=gold` refers to an object only if one
    has been seen. With `time_fields`, the absolute times its request holds by them too."""
    request = exchange.request
    used: dict[str, None] = {}
    acted: set[str] = set()
    cursors: set[str] = set()
    times: list[int] = []
    for kind, value, where in request_references(request, times=time_fields):
        if kind == TIME:
            times.append(int(value))
            continue
        if kind == SECRET:
            value = secret_owner(value)
        elif kind == CUSTOM and value not in custom_ids:
            continue
        if _facts(value) & _AMBIENT:
            continue
        used[value] = None
        if kind == CURSOR:
            cursors.add(value)
        if where == PATH:
            acted.add(value)
    write = request.method.upper() not in _READ_METHODS
    resource = resource_of(request.path)
    effect = write_effect(resource) if write else read_effect(request.path)
    named: dict[str, None] = {}
    scoped = write or any(v not in cursors and not _facts(v) & _CATALOGUE for v in used)
    # Its answer is read for the ids it names only when the request is scoped (a write,
    # or a request about some object) or an id-less read (below).
    body = response_json(exchange.response) if scoped else None
    if body is not None:
        _response_ids(body, named)
        own = body.get("id") if isinstance(body, dict) and body.get("object") != "list" else None
        if isinstance(own, str):
            acted.add(own)
    joins: list[str] = []
    refers: list[str] = []
    for value in {**used, **named}:
        if value in cursors:
            continue
        facts = _facts(value)
        if facts & _AMBIENT:
            continue
        if facts & _CATALOGUE and value not in acted:
            refers.append(value)
        else:
            joins.append(value)
    creates = tuple(v for v in named if not _facts(v) & _STRIPE_ID)
    listed: tuple[str, ...] = ()
    window: tuple[tuple[str, float | None], ...] | None = None
    reads: frozenset[str] = frozenset()
    if not write and not joins:
        # An id-less read (a list of everything) joins nothing, or every journey would
        # merge into one; the ids its answer names are learnt, and order their later uses.
        reads = read_collections(resource, _expands(request.query))
        body = response_json(exchange.response)
        if body is not None:
            found: dict[str, None] = {}
            _response_ids(body, found)
            listed = tuple(found)
            window = _page_of(body, bool(cursors))
    return Footprint(
        seq=exchange.seq,
        joins=tuple(joins),
        refers=tuple(refers),
        resource=resource,
        write=write,
        uses=tuple(used),
        creates=creates,
        cursors=tuple(cursors),
        listed=listed,
        window=window,
        reads=reads,
        effect=effect,
        times=tuple(times),
        started=exchange.started,
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

    def get(self, position: int, default: Any = None) -> Any:  # type: ignore[override]
        """The values of `position`, or `default`: the gates ask for every exchange, and
        most have none (Mapping.get would raise and catch a KeyError each time)."""
        index = bisect_left(self._positions, position)
        if index == len(self._positions) or self._positions[index] != position:
            return default
        return tuple(self._values[self._starts[index] : self._starts[index + 1]])

    def __iter__(self) -> Iterator[int]:
        return iter(self._positions)

    def __len__(self) -> int:
        return len(self._positions)


@dataclass(slots=True)
class Fences:
    """Where the writes that make objects of one collection are held apart, because a
    page of a longer list shows which of them came first: every write that makes one at or
    after a fence waits for every write that made one before it (docs/replay.md, the
    third ordering)."""

    points: array[int] = field(default_factory=lambda: array("I"))  # sorted

    def bound(self, position: int) -> int | None:
        """The position whose earlier makers a maker at `position` waits for, if any."""
        index = bisect_right(self.points, position)
        return self.points[index - 1] if index else None


@dataclass(slots=True)
class Window:
    """A page of a longer list read by an id-less read: how many items it showed, and the
    writes it holds in order (from `start` to `end`, or from the first write on when
    `chained`, since some of its items were made by no write of the recording)."""

    items: int
    start: int
    end: int
    chained: bool


@dataclass(slots=True)
class Plan:
    """Per exchange (by position in the recording): its seq, journey, barrier role and
    access (what it reads and changes), and the catalogue ids it refers to or acts on;
    per journey: its size; the fences pages of longer lists need, and which exchanges wait
    for an earlier one whose answer listed an id they use. Journeys are numbered in order
    of their first exchange."""

    seqs: Sequence[int]  # a range when every seq is its position, as in a recording
    journey_of: array[int]
    roles: bytearray
    access_index: array[int]
    accesses: list[Access]
    sizes: array[int]
    catalogue: list[str] = field(default_factory=list)
    refers: Mapping[int, tuple[int, ...]] = field(default_factory=PositionTuples)
    acts: Mapping[int, tuple[int, ...]] = field(default_factory=PositionTuples)
    after: Mapping[int, tuple[int, ...]] = field(default_factory=PositionTuples)
    fences: dict[str, Fences] = field(default_factory=dict)
    # Per fenced collection: the exchanges that made an object of it (named it first).
    makers: dict[str, array[int]] = field(default_factory=dict)
    # Per collection an id-less read shows: the writes that change it before this position
    # run in recorded order (a page some of whose items no write of the recording made).
    chained: dict[str, int] = field(default_factory=dict)
    windows: dict[int, Window] = field(default_factory=dict)
    unproduced: int = 0
    unproduced_examples: list[str] = field(default_factory=list)
    # Every absolute time a request of the recording holds, by the time fields the planner
    # was given; None when it was given none (IdMap.only_times: the times worth learning).
    times: frozenset[int] | None = None

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
        return sum(1 for role in self.roles if role & READ_BARRIER)

    @property
    def parallelism(self) -> float:
        """Exchanges per exchange of the largest journey: the most a parallel replay gains."""
        _, size = self.largest
        return round(self.exchanges / size, 1) if size else 0.0

    def access(self, position: int) -> Access:
        return self.accesses[self.access_index[position]]

    def journey_seqs(self) -> list[list[int]]:
        """The seqs of every journey, in recorded order."""
        out: list[list[int]] = [[] for _ in range(self.journeys)]
        for position, journey in enumerate(self.journey_of):
            out[journey].append(self.seqs[position])
        return out

    def barrier_reads(self) -> list[dict[str, Any]]:
        """For every id-less read: what it shows, the earlier writes it waits for by
        collection and why (later writes of those collections wait for it), the page it
        is of a longer list, and how many later requests use an id its answer listed."""
        users: dict[int, int] = {}
        for producers in self.after.values():
            for producer in producers:
                users[producer] = users.get(producer, 0) + 1
        earlier: dict[int, int] = {}  # access index of a changing exchange -> how many so far
        totals: dict[int, int] = {}
        for position, role in enumerate(self.roles):
            if role & WRITE:
                index = self.access_index[position]
                totals[index] = totals.get(index, 0) + 1
        out: list[dict[str, Any]] = []
        for position, role in enumerate(self.roles):
            index = self.access_index[position]
            if role & READ_BARRIER:
                reads = self.accesses[index].reads
                waits: dict[tuple[str, str], int] = {}
                later = 0
                for other, total in totals.items():
                    effect = self.accesses[other].effect
                    if effect is None or not effect.touches(reads):
                        continue
                    seen = earlier.get(other, 0)
                    later += total - seen - (1 if other == index else 0)
                    if seen:
                        key = (self.accesses[other].resource, effect.why)
                        waits[key] = waits.get(key, 0) + seen
                entry: dict[str, Any] = {
                    "seq": self.seqs[position],
                    "reads": sorted(reads),
                    "waits_for": [
                        {"collection": collection, "writes": count, "why": why}
                        for (collection, why), count in sorted(waits.items())
                    ],
                    "later_writes_wait": later,
                    "ids_used_later": users.get(position, 0),
                }
                window = self.windows.get(position)
                if window is not None:
                    entry["page"] = {
                        "items": window.items,
                        "from_seq": self.seqs[window.start],
                        "to_seq": self.seqs[max(window.end - 1, window.start)],
                        "in_recorded_order": "every write before it"
                        if window.chained
                        else "the writes that made its items",
                    }
                out.append(entry)
            if role & WRITE:
                earlier[index] = earlier.get(index, 0) + 1
        return out

    def to_json(self, details: bool = False) -> dict[str, Any]:
        """The plan's figures; with `details`, every barrier read (`barrier_reads`)."""
        journey, size = self.largest
        first = self.journey_of.index(journey) if size else None
        data: dict[str, Any] = {
            "exchanges": self.exchanges,
            "journeys": self.journeys,
            "largest": size,
            "largest_journey": {
                "journey": journey,
                "first_seq": self.seqs[first] if first is not None else None,
            },
            "parallelism": self.parallelism,
            "barriers": self.barriers,
            "pages": len(self.windows),
            "ordered_by_listed_ids": len(self.after),
            "catalogue_ids": len(self.catalogue),
            "unproduced": {"count": self.unproduced, "examples": self.unproduced_examples},
        }
        if details:
            data["barrier_reads"] = self.barrier_reads()
        return data


# What an id is to the planner (the values of its id table besides owner positions).
_KNOWN = -1  # known, with no exchange joined on it (a seed, a catalogue reference)
_UNPRODUCED = -2  # used before anything produced it
_LISTED = -3  # _LISTED - p: first named by the answer of the id-less read at position p
# An item of a page created this long before the recording's first exchange was made by
# no write of it (the margin allows for a clock that is behind the recorder's).
PREEXISTING_MARGIN = 300.0


class Planner:
    """Builds a Plan from exchanges (or footprints) fed in recorded order."""

    def __init__(
        self, known_ids: Iterable[str] = (), time_fields: frozenset[str] | None = None
    ) -> None:
        # Per id: the first exchange joined on it, or _KNOWN, _UNPRODUCED, or listed.
        # Ids → an int in flat arrays (harness.hashtable): a million exchanges plan in tens
        # of MB. Two ids with one hash (about one chance in 10^8 for a million ids) would
        # share an entry: for the planner, that joins two journeys, which only orders more
        # than needed.
        self._ids: HashTable[int] = HashTable("i")
        for value in known_ids:
            self._ids.set(value, _KNOWN)
        self._unproduced = 0
        self._parent = array("q")
        self._count = 0
        self._seqs: array[int] | None = None  # kept once a seq is not its position
        self._roles = bytearray()
        self._access_index = array("I")
        self._accesses: dict[Access, int] = {}
        self._catalogue: dict[str, int] = {}
        self._refers = PositionTuples()
        self._acts = PositionTuples()
        self._after = PositionTuples()
        self._fences: dict[str, Fences] = {}
        self._makes = PositionTuples()  # position -> collections it made an object of
        self._collections: dict[str, int] = {}
        self._chained: dict[str, int] = {}
        self._windows: dict[int, Window] = {}
        self._start: float | None = None
        self._seen = bytearray()  # a bit per seq below _SEQ_BITS
        self._seen_beyond: set[int] = set()
        self._custom: set[str] = set()
        self._examples: list[str] = []
        self._groups = GroupScopes()
        # The absolute times requests hold, by `time_fields` (None: not looked for).
        self._time_fields = time_fields
        self._times: set[int] | None = None if time_fields is None else set()

    def add(self, exchange: Exchange) -> None:
        # Imported cassettes join each other only on ids one of them created (groups.py).
        item = footprint(exchange, self._custom, self._time_fields)
        self.add_footprint(self._groups.scoped(item, exchange))

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
        if self._times is not None:
            self._times.update(item.times)
        ids = self._ids
        producers: dict[int, None] = {}
        for value in item.uses:
            entry = ids.get(value)
            if entry is None:
                if _facts(value) & _STRIPE_ID:
                    ids.set(value, _UNPRODUCED)
                    self._unproduced += 1
                    if len(self._examples) < 10:
                        self._examples.append(value)
            elif entry <= _LISTED:
                # Learnt from a list: the id map knows it once that list has its answer.
                producers[_LISTED - entry] = None
            elif entry >= 0 and value in item.cursors:
                # A page from an id another journey made: after that journey named it.
                producers[entry] = None
        if producers:
            self._after.append(position, sorted(producers))
        role = item.role
        made: set[int] = set()
        for value in item.joins:
            owner = ids.get(value)
            if owner is None or owner < 0:
                ids.set(value, position)
                collection = collection_of(value) if role & WRITE else ""
                if collection:
                    made.add(self._collections.setdefault(collection, len(self._collections)))
            else:
                self._union(position, owner)
        if made:
            self._makes.append(position, sorted(made))
        if self._start is None:
            self._start = item.started
        for value in item.refers:
            if ids.get(value) is None:
                ids.set(value, _KNOWN)
        self._custom.update(item.creates)
        if item.refers:
            self._refers.append(position, [self._catalogue_index(v) for v in item.refers])
        acts = [self._catalogue_index(v) for v in item.joins if _facts(v) & _CATALOGUE]
        if acts:
            self._acts.append(position, acts)
        if role & READ_BARRIER:
            if item.window is not None:
                self._hold_page(position, item)
            for value in item.listed:
                if ids.get(value) is None:
                    ids.set(value, _LISTED - position)
                    if not _facts(value) & _STRIPE_ID:
                        self._custom.add(value)
        self._roles.append(role)
        access = Access(item.resource, item.reads, item.effect)
        index = self._accesses.setdefault(access, len(self._accesses))
        self._access_index.append(index)

    def _hold_page(self, position: int, item: Footprint) -> None:
        """A page of a longer list shows which objects came first: fence the writes that
        made its items off from those that made objects before and after them (and the
        one that made its cursor, on its own); when some item was made by no write seen so
        far (an event, which no answer names), hold every earlier write it can see in
        recorded order."""
        assert item.window is not None
        start = self._start if self._start is not None else item.started
        points: dict[str, list[int]] = {}
        made: dict[str, list[int]] = {}
        unknown = False
        members = [*item.window, *((cursor, None) for cursor in item.cursors)]
        for value, created in members:
            entry = self._ids.get(value)
            collection = collection_of(value) or item.resource
            if entry is not None and entry >= 0 and self._roles[entry] & WRITE:
                if value in item.cursors:
                    points.setdefault(collection, []).extend((entry, entry + 1))
                else:
                    made.setdefault(collection, []).append(entry)
            elif created is None or created >= start - PREEXISTING_MARGIN:
                unknown = True
                break
        if unknown:
            for collection in item.reads:
                self._chained[collection] = max(self._chained.get(collection, 0), position)
            self._windows[position] = Window(len(item.window), 0, position, True)
            return
        for collection, makers in made.items():
            points.setdefault(collection, []).extend((min(makers), max(makers) + 1))
        every = [p for found in points.values() for p in found]
        for collection, found in points.items():
            self._fences.setdefault(collection, Fences()).points.extend(found)
        if every:
            self._windows[position] = Window(len(item.window), min(every), max(every), False)

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
        for fences in self._fences.values():
            fences.points = array("I", sorted(set(fences.points)))
        fenced = {self._collections[c]: c for c in self._fences if c in self._collections}
        makers: dict[str, array[int]] = {c: array("I") for c in self._fences}
        if fenced:
            for position, collections in self._makes.items():
                for index in collections:
                    if index in fenced:
                        makers[fenced[index]].append(position)
        return Plan(
            seqs=self._seqs if self._seqs is not None else range(self._count),
            journey_of=journey_of,
            roles=self._roles,
            access_index=self._access_index,
            accesses=list(self._accesses),
            sizes=sizes,
            catalogue=list(self._catalogue),
            refers=self._refers,
            acts=self._acts,
            after=self._after,
            fences=self._fences,
            makers=makers,
            chained=self._chained,
            windows=self._windows,
            unproduced=self._unproduced,
            unproduced_examples=list(self._examples),
            times=frozenset(self._times) if self._times is not None else None,
        )


def plan_journeys(exchanges: Iterable[Exchange], known_ids: Iterable[str] = ()) -> Plan:
    """Plan exchanges given in recorded order. `known_ids` (a seed id map) exist already."""
    planner = Planner(known_ids)
    for exchange in exchanges:
        planner.add(exchange)
    return planner.plan()


def plan_apart(
    path: str | os.PathLike[str],
    known_ids: Iterable[str] = (),
    time_fields: frozenset[str] | None = None,
) -> Plan:
    """plan_recording in a process of its own (forked), for a replay about to run.

    Planning a million exchanges parses every line once more and keeps a table of every
    id: tens of MB that Python does not give back to the system in full once freed.
    Planned apart, all of it goes when the child exits; only the plan (a few bytes per
    exchange) comes back.
    """
    planning = PlanInProgress(path, known_ids, time_fields)
    try:
        return planning.wait()
    finally:
        planning.close()


class PlanInProgress:
    """A plan being made in a forked process (see plan_apart) while the replay goes on:
    how many exchanges the planner has read so far, and the plan once it is made.

    A replay sends the head of the recording while it plans (docs/replay.md, "Sending
    while planning"), and only exchanges the planner has read: each of those is a valid
    line with a seq of its own, so a recording that is bad further on stops the replay
    before it sends anything the planner would have refused.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        known_ids: Iterable[str] = (),
        time_fields: frozenset[str] | None = None,
    ) -> None:
        self.path = path
        self._plan: Plan | None = None
        self._error: BaseException | None = None
        if "fork" not in multiprocessing.get_all_start_methods():
            # Planned here and now: the head is empty and the replay is planned first.
            try:
                self._plan = plan_recording(path, known_ids, time_fields=time_fields)
            except Exception as exc:  # kept for wait(), as a forked planner's would be
                self._error = exc
            self._read: Any = None
            return
        context = multiprocessing.get_context("fork")
        self._read = context.RawValue("q", 0)
        self._answer, child_end = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_plan_and_send,
            args=(path, list(known_ids), time_fields, child_end, self._read),
            name="shadow-planner",
            daemon=True,
        )
        self._process.start()
        child_end.close()

    @property
    def read(self) -> int:
        """How many exchanges, from the first, the planner has read and accepted."""
        if self._read is None:
            return self._plan.exchanges if self._plan is not None else 0
        return int(self._read.value)

    def wait(self) -> Plan:
        """The plan, once made (blocks); raises what planning raised (RecordingError)."""
        if self._plan is None and self._error is None:
            try:
                kind, value = self._answer.recv()
            except EOFError:  # it died (or was stopped: close) before it could answer
                kind, value = "ended", None
            self._process.join()
            self._answer.close()
            if kind == "plan":
                self._plan = value
            elif kind == "error":
                self._error = value
            else:
                self._error = InfrastructureError(
                    f"{self.path}: the planning process ended without a plan "
                    f"(exit code {self._process.exitcode}); run the replay again"
                )
        if self._error is not None:
            raise self._error
        assert self._plan is not None
        return self._plan

    def close(self) -> None:
        """Stop the planning process if it is still running (the replay was stopped)."""
        if self._read is None:
            return
        if self._process.is_alive():
            self._process.terminate()  # a wait() in another thread then ends with EOFError
        self._process.join()


def _plan_and_send(
    path: str,
    known_ids: list[str],
    time_fields: frozenset[str] | None,
    answer: Any,
    read: Any,
) -> None:
    """The planning process: plan `path`, counting into `read` the exchanges accepted,
    and send the plan (or the error that stopped it) through `answer`."""

    def accepted(count: int) -> None:
        read.value = count

    try:
        plan = plan_recording(path, known_ids, accepted, time_fields=time_fields)
        message: tuple[str, Any] = ("plan", plan)
    except Exception as exc:  # sent to the replay, which raises it there
        message = ("error", exc)
    try:
        answer.send(message)
    except Exception as exc:  # an error that cannot be pickled: its message goes instead
        answer.send(("error", InfrastructureError(f"{path}: planning failed: {exc}")))
    answer.close()


def plan_recording(
    path: str | os.PathLike[str],
    known_ids: Iterable[str] = (),
    accepted: Callable[[int], None] | None = None,
    *,
    time_fields: frozenset[str] | None = None,
) -> Plan:
    """Plan a recording file in one streaming pass; `accepted(n)` is told after each
    exchange how many the planner has taken so far. With `time_fields` (a scenario's),
    the plan holds the absolute times requests hold by them (Plan.times)."""
    planner = Planner(known_ids, time_fields)
    with RecordingReader(path) as reader:
        for position, exchange in enumerate(reader):
            try:
                planner.add(exchange)
            except ValueError as exc:
                raise RecordingError(str(path), position + 2, str(exc)) from None
            if accepted is not None:
                accepted(position + 1)
    return planner.plan()
