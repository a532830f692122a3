"""Turn one response into the form two targets' answers are compared in (pure).

A raw diff of two Stripe answers is all noise: ids, timestamps, secrets, URLs. Here every
id becomes its recorded counterpart (or a stable placeholder `<cus_1>`), every timestamp
a `Moment` counted from the anchors of its own side (harness.compare.timemap), every
volatile field `<masked>`, lists of objects with ids a `ById` mapping, errors their
(type, code, decline_code, param), and only the profile's headers survive. Two answers
that mean the same normalise to `==` trees, which is the fast path compare takes for
most exchanges.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.compare.profile import (
    EARLIEST_TIMESTAMP,
    ERROR_FIELDS,
    FIXED_BY_EMULATOR,
    MASK,
    STRIPE_PROFILE,
    TIMESTAMP_SUFFIX,
    Profile,
)
from harness.compare.timemap import Moment, TimeMap, Window, pack
from harness.formats.untrusted import JSONProblem, load_json
from harness.model import Response
from harness.stripe import GENERATED_ID, ID_PATTERN, NON_OBJECT_PREFIXES, id_prefix, is_id_shaped
from harness.stripe.catalogue import Catalogue, ObjectType
from harness.stripe.times import ANCHOR_RANKS, UNRANKED


class ById(dict[str, Any]):
    """A list of objects keyed by their normalised ids, so it is compared by id, not by
    position; a JSON path through it is written `[]`."""


@dataclass(frozen=True, slots=True)
class Normalized:
    """One response ready to be compared: status, body tree (or text), chosen headers."""

    status: int
    body: Any
    is_json: bool
    headers: Mapping[str, str]

    @property
    def is_error(self) -> bool:
        return self.status >= 400


# What KnownIds holds for a text no id map knows (ids never hold a NUL).
NO_COUNTERPART = "\0"
# Texts a KnownIds remembers, and texts it remembers as inert, before it starts afresh.
_KNOWN_KEPT = 1 << 16


class KnownIds(dict[str, str]):
    """One side's text → its recorded counterpart, or NO_COUNTERPART: a dict whose misses
    ask `look_up` (the side's id maps) once, so the fused walk looks a text up at C speed
    the second time. It also remembers which texts holding a `_` are inert (`inert`).
    The id maps do not change while a side is compared, so neither does what it holds."""

    __slots__ = ("inert", "look_up", "unchanged")

    def __init__(self, look_up: Callable[[str], str | None]) -> None:
        super().__init__()
        self.look_up = look_up
        # By the id of an id pattern (an answer's API version's; a pattern of a few
        # hundred prefixes takes microseconds to hash): the pattern, and its texts with a
        # `_` → inert or not.
        self.inert: dict[int, tuple[re.Pattern[str], dict[str, bool]]] = {}
        # By the ids of the other side's KnownIds and of both patterns: _Unchanged.
        self.unchanged: dict[tuple[int, int, int], _Unchanged] = {}

    def __missing__(self, text: str) -> str:
        found = self.look_up(text)
        if found is None:
            found = NO_COUNTERPART
        if len(self) >= _KNOWN_KEPT:
            self.clear()
        self[text] = found
        return found


def known_ids(counterparts: Mapping[str, str]) -> KnownIds:
    """The KnownIds of a side's counterparts: their own (harness.compare.pipeline's
    Counterparts keep one for the whole side), or a new one over a plain mapping."""
    known = getattr(counterparts, "known", None)
    return known if isinstance(known, KnownIds) else KnownIds(counterparts.get)


def _inert(text: str, known: KnownIds, pattern: re.Pattern[str]) -> bool:
    """Whether naming `text` (a text holding a `_`) on this side leaves it as it is and
    names no id, in a field of any kind: no id map knows it whole, it is no generated id
    (an expandable reference's test), and every id the pattern finds in it is one
    _name_ids_in_text leaves alone. Such a text teaches the time map nothing."""
    kept = known.inert.get(id(pattern))
    if kept is None:
        kept = known.inert[id(pattern)] = (pattern, {})  # holding it keeps its id unused
    table = kept[1]
    found = table.get(text)
    if found is None:
        found = known[text] is NO_COUNTERPART and GENERATED_ID.fullmatch(text) is None
        if found:
            for match in pattern.finditer(text):
                inside = match.group(0)
                if id_prefix(inside) not in NON_OBJECT_PREFIXES and (
                    known[inside] is not NO_COUNTERPART or _looks_generated(inside)
                ):
                    found = False
                    break
        if len(table) >= _KNOWN_KEPT:
            table.clear()
        table[text] = found
    return found


class _Unchanged(dict[str, bool]):
    """Text → whether it is the same on two sides once named, because naming leaves it
    as it is on both and it teaches neither time map anything: no id map of either side
    knows it whole, and it holds no `_` or is _inert on both. Kept for one pair of sides
    and patterns (their KnownIds do not change while they are compared, so neither does
    this), so the fused walk decides an equal text the run has seen at C speed."""

    __slots__ = ("known", "other_known", "other_pattern", "pattern")

    def __init__(
        self,
        known: KnownIds,
        other_known: KnownIds,
        pattern: re.Pattern[str],
        other_pattern: re.Pattern[str],
    ) -> None:
        super().__init__()
        self.known, self.other_known = known, other_known
        self.pattern, self.other_pattern = pattern, other_pattern

    def __missing__(self, text: str) -> bool:
        known, other_known = self.known, self.other_known
        found = (
            known[text] is NO_COUNTERPART
            and other_known[text] is NO_COUNTERPART
            and (
                "_" not in text
                or (
                    _inert(text, known, self.pattern)
                    and _inert(text, other_known, self.other_pattern)
                )
            )
        )
        if len(self) >= _KNOWN_KEPT:
            self.clear()
        self[text] = found
        return found


def _unchanged(
    known: KnownIds,
    other_known: KnownIds,
    pattern: re.Pattern[str],
    other_pattern: re.Pattern[str],
) -> _Unchanged:
    """The _Unchanged of two sides' KnownIds and patterns, kept by the first side's (it
    holds the other KnownIds and the patterns, so their ids are not reused while it is
    kept)."""
    key = (id(other_known), id(pattern), id(other_pattern))
    found = known.unchanged.get(key)
    if found is None:
        if len(known.unchanged) >= _PROFILES_KEPT:
            known.unchanged.clear()
        found = known.unchanged[key] = _Unchanged(known, other_known, pattern, other_pattern)
    return found


class IdNamer:
    """Names ids for comparison: the recorded counterpart when both sides know one, else
    a placeholder by prefix and order of first appearance within one response.

    Inside an item of a list whose own id both sides know (`within`), a placeholder is
    numbered within that item and says so: `<ch_1 of in_Recorded>`. Two pages of a longer
    list can hold one other item each (compare.windows) or list the same items in
    another order; numbered across the answer, the unknown ids of every later item would
    shift by one, and each shared item would differ in each of them. An id seen in
    an earlier item keeps the name it got there, so items that share an unknown object
    still say so."""

    def __init__(
        self,
        counterparts: Mapping[str, str],
        times: TimeMap | None = None,
        request: Window = (0.0, 0.0),
        pattern: re.Pattern[str] = ID_PATTERN,
    ) -> None:
        self.counterparts = counterparts
        self.known = known_ids(counterparts)  # the same, looked up at C speed
        self.times = times
        self.request = pack(request)  # as the time map keeps it
        self.pattern = pattern  # the ids of the answer's API version (its catalogue's prefixes)
        self._placeholders: dict[str, str] = {}
        self._counts: dict[str, int] = {}  # placeholders given, by prefix (and scope)
        self._scope = ""  # the recorded id of the list item being named, or ""

    def __call__(self, value: str) -> str:
        if self.times is not None:
            self.times.name(value, self.request)  # the first answer naming an object
        recorded = self.known[value]
        if recorded is not NO_COUNTERPART:
            return recorded
        placeholder = self._placeholders.get(value)
        if placeholder is None:
            prefix, scope = id_prefix(value), self._scope
            if scope:
                counted = f"{prefix} of {scope}"
                count = self._counts[counted] = self._counts.get(counted, 0) + 1
                placeholder = f"<{prefix}_{count} of {scope}>"
            else:
                count = self._counts[prefix] = self._counts.get(prefix, 0) + 1
                placeholder = f"<{prefix}_{count}>"
            self._placeholders[value] = placeholder
        return placeholder

    def within(self, recorded: str) -> str:
        """Number new placeholders within the list item whose recorded id is given;
        returns the scope to restore (`within(previous)`) when the item is done."""
        previous, self._scope = self._scope, recorded
        return previous


def _looks_generated(value: str) -> bool:
    """`in_progress` and `card_payments` fit the id pattern; a generated id has a digit or
    a capital after its prefix (Stripe's and localstripe's are random base62)."""
    tail = value[len(id_prefix(value)) + 1 :]
    return any(c.isdigit() or c.isupper() for c in tail)


def _name_ids_in_text(text: str, name: IdNamer) -> str:
    known = name.known
    recorded = known[text]
    if recorded is not NO_COUNTERPART:
        if name.times is not None:
            name.times.name(text, name.request)
        return recorded
    if "_" not in text or _inert(text, known, name.pattern):
        return text

    def replace(match: re.Match[str]) -> str:
        found = match.group(0)
        if id_prefix(found) in NON_OBJECT_PREFIXES or (
            known[found] is NO_COUNTERPART and not _looks_generated(found)
        ):
            return found
        return name(found)

    return name.pattern.sub(replace, text)


def _name_reference(text: str, name: IdNamer) -> str:
    """A field the catalogue says holds an id (an expandable reference): named as an id
    even when no table knows its prefix, or when its random part is all lowercase."""
    if name.known[text] is NO_COUNTERPART and (
        GENERATED_ID.fullmatch(text) is not None or is_id_shaped(text)
    ):
        return name(text)
    return _name_ids_in_text(text, name)


# The times of an object that later times are counted from, with their rank, innermost
# object first: ("billing_cycle_anchor", 1, (1795464128.0, 1795464128.0)). "birth" (the
# request that first named the object on this side) ranks below every field.
_Anchors = tuple[tuple[str, int, Window], ...]
# Looked up one by one, in this order, when an object has any: cheaper than a set made
# of its keys.
_ANCHOR_NAMES = frozenset(ANCHOR_RANKS)
_ANCHOR_ITEMS = tuple(ANCHOR_RANKS.items())
_BIRTH = "birth"
# An object's anchors, its fields' kinds, and the catalogue's type of it.
_Context = tuple[_Anchors, "_KeyKinds", "ObjectType | None"]
# How a field's value is normalised (_Normalizer.field_kind).
_PLAIN, _MASKED, _TIME, _CONTAINER, _TEXT, _REFERENCE = range(6)


# What a field's name says of how its value is normalised, in an object with given
# masked fields and catalogue type: masked, a time when it holds a number from 1973 on,
# an id when it holds a text (_KeyKinds).
_KEY_MASKED, _KEY_TIME, _KEY_REFERENCE = 1, 2, 4


class _KeyKinds(dict[str, int]):
    """Field name → its _KEY_ flags, for the objects of one profile, masked fields and
    catalogue type; each name worked out the first time it is asked for. The profile's
    names decide for the fields the catalogue does not know (localstripe's extras,
    versions it does not cover)."""

    def __init__(
        self, profile: Profile, by_object: frozenset[str] | None, described: ObjectType | None
    ) -> None:
        super().__init__()
        self.profile, self.by_object, self.described = profile, by_object, described
        self.children = _Children(profile.catalogue, described)

    def __missing__(self, key: str) -> int:
        profile, described = self.profile, self.described
        flags = 0
        if key in profile.masked or (self.by_object is not None and key in self.by_object):
            flags |= _KEY_MASKED
        if key in profile.declared_timestamps or (
            key in described.timestamps
            if described is not None and key in described.fields
            else key in profile.timestamps or key.endswith(TIMESTAMP_SUFFIX)
        ):
            flags |= _KEY_TIME
        if described is not None and key in described.references:
            flags |= _KEY_REFERENCE
        self[key] = flags
        return flags


class _Children(dict[str, "ObjectType | None"]):
    """Field name → the catalogue's type of the object it holds, when the catalogue says,
    for the objects of one catalogue type (an embedded object that names no type of its
    own is normalised as that one); each name worked out once."""

    def __init__(self, catalogue: Catalogue | None, described: ObjectType | None) -> None:
        super().__init__()
        self.catalogue, self.described = catalogue, described

    def __missing__(self, key: str) -> ObjectType | None:
        found = None
        if self.described is not None and self.catalogue is not None:
            inner = self.described.children.get(key)
            found = self.catalogue.object_type(inner) if inner is not None else None
        self[key] = found
        return found


# (profile, masked fields, catalogue type) by their ids → their table; the entry holds
# them, so an id is not reused while it is here.
_KEY_KINDS: dict[tuple[int, int, int], _KeyKinds] = {}
_KEY_KINDS_KEPT = 4096

# What _Normalizer.context decides from an object's type alone: its fields' kinds and its
# catalogue type, by the type the object names (a text) or, for one that names none, by
# the id of the catalogue type it is embedded as (an int; the catalogue keeps its types).
_TypeContexts = dict[str | int, tuple[_KeyKinds, "ObjectType | None"]]
# Per profile, by its id; the entry holds the profile, so the id is not reused.
_TYPE_CONTEXTS: dict[int, tuple[Profile, _TypeContexts]] = {}
_PROFILES_KEPT = 64


def _type_contexts(profile: Profile) -> _TypeContexts:
    found = _TYPE_CONTEXTS.get(id(profile))
    if found is None:
        if len(_TYPE_CONTEXTS) >= _PROFILES_KEPT:
            _TYPE_CONTEXTS.clear()
        found = _TYPE_CONTEXTS[id(profile)] = (profile, {})
    return found[1]


def _key_kinds(
    profile: Profile, by_object: frozenset[str] | None, described: ObjectType | None
) -> _KeyKinds:
    found = _KEY_KINDS.get((id(profile), id(by_object), id(described)))
    if found is None:
        if len(_KEY_KINDS) >= _KEY_KINDS_KEPT:
            _KEY_KINDS.clear()
        found = _KeyKinds(profile, by_object, described)
        _KEY_KINDS[(id(profile), id(by_object), id(described))] = found
    return found


class _Normalizer:
    """One walk over one answer; the profile's sets are held locally because this loop
    runs for every field of every exchange."""

    def __init__(
        self,
        request: Window,
        name: IdNamer | None,
        profile: Profile,
        times: TimeMap | None = None,
        packed: int | None = None,
        naming: tuple[Mapping[str, str], re.Pattern[str]] | None = None,
    ) -> None:
        """`name` None: an IdNamer of `naming` (counterparts, id pattern) is made when
        first asked for (the fused walk names few texts itself)."""
        self.request = request
        self.packed = pack(request) if packed is None else packed  # `request` packed
        self._name = name
        self._naming = naming
        self._scope = ""  # IdNamer.within: the list item being named, kept until a namer is made
        self.profile = profile
        self.masked = profile.masked
        self.masked_by_object = profile.masked_by_object
        self.timestamps = profile.timestamps
        self.tolerance = profile.timestamp_tolerance
        self.times = times
        self.catalogue = profile.catalogue
        self.fixed_times = profile.fixed_times
        self.type_contexts = _type_contexts(profile)

    @property
    def name(self) -> IdNamer:
        name = self._name
        if name is None:
            assert self._naming is not None
            counterparts, pattern = self._naming
            name = self._name = IdNamer(counterparts, self.times, self.request, pattern)
            name.within(self._scope)
        return name

    def within(self, recorded: str) -> str:
        """IdNamer.within, without making the namer before a text needs naming."""
        previous, self._scope = self._scope, recorded
        if self._name is not None:
            self._name.within(recorded)
        return previous

    @property
    def naming(self) -> tuple[Mapping[str, str], re.Pattern[str]]:
        """(counterparts, id pattern): what this answer's ids are named by."""
        if self._naming is not None:
            return self._naming
        assert self._name is not None
        return self._name.counterparts, self._name.pattern

    def value(self, node: Any, anchors: _Anchors = (), described: ObjectType | None = None) -> Any:
        kind = type(node)
        if kind is dict:
            return self.mapping(node, anchors, described)
        if kind is list:
            return self.sequence(node, anchors, described)
        if kind is str:
            return _name_ids_in_text(node, self.name)
        return node

    def anchors_of(self, node: dict[str, Any], outer: _Anchors) -> _Anchors:
        """The anchors a time inside `node` may be counted from: its own anchor fields and
        birth, then those of the objects around it that it does not have itself."""
        own: list[tuple[str, int, Window]] = []
        identity = node.get("id")
        if self.times is not None and type(identity) is str and identity:
            own.append((_BIRTH, -1, self.times.born(identity, self.packed)))
        if not node.keys().isdisjoint(_ANCHOR_NAMES):  # most objects inside others have none
            for name, rank in _ANCHOR_ITEMS:
                item = node.get(name)
                if (type(item) is int or type(item) is float) and item >= EARLIEST_TIMESTAMP:
                    own.append((name, rank, (float(item), float(item))))
        if not own:
            return outer
        if not outer:
            return tuple(own)
        names = {name for name, _, _ in own}
        return (*own, *(entry for entry in outer if entry[0] not in names))

    def moment(self, key: str, item: float, anchors: _Anchors) -> Moment:
        rank = ANCHOR_RANKS.get(key, UNRANKED)
        counted_from = (
            tuple((name, window) for name, other_rank, window in anchors if other_rank < rank)
            if anchors
            else ()
        )
        shown = self.times.first_shown(item, self.packed) if self.times is not None else None
        origin = self.times.origin_of(item) if self.times is not None else None
        return Moment(item, self.request, shown, origin, counted_from, self.tolerance)

    def context(
        self, node: dict[str, Any], outer: _Anchors, described: ObjectType | None
    ) -> _Context:
        """What decides how each field of `node` is normalised: its anchors, the table of
        its fields' kinds (by the fields masked for its object type and the catalogue's
        type of it), and that type (`described`: the type of an embedded object that
        names none itself)."""
        kinds, described = self.kinds_of(node, described)
        return self.anchors_of(node, outer), kinds, described

    def kinds_of(
        self, node: dict[str, Any], described: ObjectType | None
    ) -> tuple[_KeyKinds, ObjectType | None]:
        """The table of `node`'s fields' kinds and the catalogue's type of it (context)."""
        object_type = node.get("object")
        # Worked out once per type and profile: a run has a few dozen types.
        key = object_type if type(object_type) is str else id(described)
        found = self.type_contexts.get(key)
        if found is None:
            by_object = None
            if type(object_type) is str:
                by_object = self.masked_by_object.get(object_type)
                if self.catalogue is not None:
                    described = self.catalogue.object_type(object_type)
            found = self.type_contexts[key] = (
                _key_kinds(self.profile, by_object, described),
                described,
            )
        return found

    def field_kind(self, key: str, item: Any, kinds: _KeyKinds) -> int:
        """How the field `key` holding `item` is normalised: _PLAIN, _MASKED, _TIME,
        _CONTAINER, _TEXT or _REFERENCE, by what `kinds` (its object's) says of the key
        and by the value's type."""
        if item is None:
            return _PLAIN
        flags = kinds[key]
        if flags & _KEY_MASKED:
            return _MASKED
        kind = type(item)
        if kind is int or kind is float:
            return _TIME if flags & _KEY_TIME and item >= EARLIEST_TIMESTAMP else _PLAIN
        if kind is dict or kind is list:
            return _CONTAINER
        if kind is str:
            return _REFERENCE if flags & _KEY_REFERENCE else _TEXT
        return _PLAIN

    def time(self, key: str, item: float, anchors: _Anchors) -> Any:
        return FIXED_BY_EMULATOR if item in self.fixed_times else self.moment(key, item, anchors)

    def mapping(
        self, node: dict[str, Any], outer: _Anchors = (), described: ObjectType | None = None
    ) -> dict[str, Any]:
        """`described`: the catalogue's type of an embedded object that names none itself."""
        anchors, kinds, _ = self.context(node, outer, described)
        name = self.name
        out: dict[str, Any] = {}
        # Sorted keys: placeholders are numbered in an order the server's key order
        # does not change. Each field as field_kind says, written out here: this loop
        # runs for every field of every answer that differs.
        for key in sorted(node):
            item = node[key]
            if item is None:
                out[key] = None
                continue
            flags = kinds[key]
            kind = type(item)
            if flags & _KEY_MASKED:
                out[key] = MASK
            elif kind is str:
                if flags & _KEY_REFERENCE:
                    out[key] = _name_reference(item, name)
                else:
                    out[key] = _name_ids_in_text(item, name)
            elif kind is int or kind is float:
                if flags & _KEY_TIME and item >= EARLIEST_TIMESTAMP:
                    out[key] = self.time(key, item, anchors)
                else:
                    out[key] = item
            elif kind is dict:
                out[key] = self.mapping(item, anchors, kinds.children[key])
            elif kind is list:
                out[key] = self.sequence(item, anchors, kinds.children[key])
            else:
                out[key] = item
        return out

    def sequence(
        self, node: list[Any], anchors: _Anchors = (), described: ObjectType | None = None
    ) -> list[Any] | ById:
        if not node or not all(type(item) is dict and type(item.get("id")) is str for item in node):
            return [self.value(item, anchors, described) for item in node]
        counterparts = self.name.counterparts
        if not all(item["id"] in counterparts for item in node):
            # New objects get placeholders in order of appearance, and targets list
            # objects created at once in store order (invoice lines, say): order the
            # items by what they say first, so the same objects get the same names.
            node = sorted(node, key=lambda item: self.content_key(item, counterparts))
        known = self.name.known
        items = []
        for item in node:
            recorded = known[item["id"]]
            if recorded is NO_COUNTERPART:
                items.append(self.mapping(item, anchors, described))
            else:
                outer = self.within(recorded)
                items.append(self.mapping(item, anchors, described))
                self.within(outer)
        keyed = ById((item["id"], item) for item in items)
        return keyed if len(keyed) == len(items) else items

    def content_key(self, item: dict[str, Any], counterparts: Mapping[str, str]) -> tuple[int, str]:
        """Known objects by their recorded id, new ones by their content without ids,
        times and masked fields."""
        recorded = counterparts.get(item["id"])
        if recorded is not None:
            return (0, recorded)
        return (1, repr(self.shape(item)))

    def shape(self, node: Any) -> Any:
        kind = type(node)
        if kind is dict:
            return [
                (key, self.shape(value))
                for key, value in sorted(node.items())
                if key not in self.masked
                and key not in self.timestamps
                and not key.endswith(TIMESTAMP_SUFFIX)
            ]
        if kind is list:
            return [self.shape(value) for value in node]
        if kind is str and "_" in node:
            return ID_PATTERN.sub(lambda m: id_prefix(m.group(0)), node)
        return node


def normalize_tree(
    tree: Any,
    started: float,
    counterparts: Mapping[str, str],
    profile: Profile = STRIPE_PROFILE,
    *,
    name: IdNamer | None = None,
    times: TimeMap | None = None,
    finished: float | None = None,
) -> Any:
    """A parsed JSON body with ids named, timestamps as Moments of this side (learnt into
    `times`, the side's time map, when given), volatile fields masked and lists of objects
    keyed by id. `started` and `finished` are its request's (`finished` defaults to the
    start: a request of no length). `profile` is the one of the API version the answer
    was made under (Profile.for_version: its catalogue's timestamps, references and id
    prefixes, an emulator's fixed values)."""
    request = (started, started if finished is None else finished)
    packed = None
    if name is None:
        name = IdNamer(counterparts, times, request, _pattern(profile.catalogue))
        packed = name.request  # the same window, packed once
    return _Normalizer(request, name, profile, times, packed).value(tree)


def _pattern(catalogue: Catalogue | None) -> re.Pattern[str]:
    return catalogue.id_pattern if catalogue is not None else ID_PATTERN


def _error_only(tree: Any) -> Any:
    """Keep what identifies an error; the message and links change between releases."""
    if isinstance(tree, dict) and isinstance(tree.get("error"), dict):
        error = tree["error"]
        return {"error": {key: error.get(key) for key in ERROR_FIELDS}}
    return tree


class NotComparable(ValueError):
    """An answer compare does not walk: JSON past a limit of harness.formats.untrusted (nested
    too deep, a lone surrogate, NaN). It becomes the exchange's outcome, an error."""


def parse_body(text: str) -> tuple[Any, bool]:
    """(tree, True) for a JSON object or array, else (text, False); NotComparable for
    JSON past a limit."""
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            return load_json(text), True
        except JSONProblem as exc:
            if exc.limit:
                raise NotComparable(f"answer could not be compared: {exc.problem}") from None
    return text, False


def _headers(response: Response, profile: Profile) -> dict[str, str]:
    """The profile's headers of an answer, as compared."""
    headers = {}
    for wanted in profile.headers:
        value = response.header(wanted)
        if value is not None:
            value = " ".join(value.lower().split())
            fixed = (wanted, value) in profile.fixed_headers
            headers[wanted] = FIXED_BY_EMULATOR if fixed else value
    return headers


def normalize_response(
    response: Response,
    started: float,
    counterparts: Mapping[str, str],
    profile: Profile = STRIPE_PROFILE,
    times: TimeMap | None = None,
    finished: float | None = None,
    parsed: tuple[Any, bool] | None = None,
) -> Normalized:
    """One response in comparable form; `started` and `finished` are its own request's
    start and end (the answer was made in between), `times` its side's time map (learnt
    from the answers compared before it), `profile` its API version's; `parsed` its body
    as parse_body read it, when it was read already."""
    if finished is None:
        finished = started
    tree, is_json = parse_body(response.text) if parsed is None else parsed
    if is_json:
        if response.status >= 400:
            tree = _error_only(tree)
        body = normalize_tree(tree, started, counterparts, profile, times=times, finished=finished)
    else:
        name = IdNamer(counterparts, times, (started, finished), _pattern(profile.catalogue))
        body = _name_ids_in_text(tree, name)
    return Normalized(response.status, body, is_json, _headers(response, profile))


@dataclass(slots=True)
class Answer:
    """One side's answer to an exchange, with what normalising it needs."""

    response: Response
    started: float
    finished: float
    counterparts: Mapping[str, str]
    profile: Profile
    times: TimeMap | None

    def normalizer(self) -> _Normalizer:
        """A _Normalizer of this answer whose IdNamer is made when first asked for."""
        naming = (self.counterparts, _pattern(self.profile.catalogue))
        return _Normalizer(
            (self.started, self.finished), None, self.profile, self.times, None, naming
        )

    def normalize(self, parsed: tuple[Any, bool] | None = None) -> Normalized:
        return normalize_response(
            self.response,
            self.started,
            self.counterparts,
            self.profile,
            self.times,
            self.finished,
            parsed,
        )


def proven_same(baseline: Answer, other: Answer) -> tuple[bool, tuple[Any, bool], tuple[Any, bool]]:
    """(True, …) when the two answers normalise to equal Normalized values, proven in one
    walk over both raw trees that builds neither normalised tree: the fast path for the
    answers that match, most of a run. (False, …) means not proven (they may still be
    equal: lists in another order, new objects in a list, an error answer), and the
    caller normalises both. Either way the time maps learn what normalising would teach
    them (every lesson is "the first wins" for one request, so learning it twice is
    learning it once). The parsed bodies come back for the caller to reuse; NotComparable
    as parse_body raises it."""
    parsed_base = parse_body(baseline.response.text)
    parsed_other = parse_body(other.response.text)
    (tree, is_json), (other_tree, other_json) = parsed_base, parsed_other
    status = baseline.response.status
    if (
        status != other.response.status
        or is_json != other_json
        or (is_json and status >= 400)
        or _headers(baseline.response, baseline.profile) != _headers(other.response, other.profile)
    ):
        return False, parsed_base, parsed_other
    mine, theirs = baseline.normalizer(), other.normalizer()
    if not is_json:
        same = _name_ids_in_text(tree, mine.name) == _name_ids_in_text(other_tree, theirs.name)
    else:
        same = _FusedWalk(mine, theirs).values(tree, other_tree, (), (), None, None)
    return same, parsed_base, parsed_other


# An object's anchors (_Normalizer.anchors_of), worked out only when a time inside it
# needs more than its own request to be decided: most never do. A list, not a class (one
# is made for most objects walked): [normalizer, node, the outer anchors, the anchors
# once worked out or None]. The object's birth is learnt when it is walked
# (_FusedWalk.mappings); within one answer the time map gives the same birth then or
# later (the first request to name an object wins).
_LazyAnchors = list[Any]


def _resolved(anchors: _Anchors | _LazyAnchors) -> _Anchors:
    if type(anchors) is tuple:
        return anchors
    lazy: list[Any] = anchors  # type: ignore[assignment]
    found: _Anchors | None = lazy[3]
    if found is None:
        found = lazy[3] = lazy[0].anchors_of(lazy[1], _resolved(lazy[2]))
    return found


_SomeAnchors = _Anchors | _LazyAnchors


class _Learnt:
    """What one side's time map learns from one answer: the objects it names
    (`times.name`) and the times it shows (`times.first_shown`), each taught once
    (within one answer the first request is the same, so teaching it again would teach
    nothing). _FusedWalk tests `named` and `shown` itself: these run for most fields."""

    __slots__ = ("named", "packed", "shown", "times")

    def __init__(self, times: TimeMap, packed: int) -> None:
        self.times, self.packed = times, packed
        self.named: set[str] = set()
        self.shown: set[float] = set()


class _FusedWalk:
    """Two normalisers walking two raw trees in step, each field normalised as
    _Normalizer.mapping would and compared at once; the first difference, or anything
    normalising decides over a whole list, ends the walk unproven. Texts are looked up
    in each side's KnownIds, and texts that naming leaves alone and that teach nothing
    (_inert) are remembered per side, so a text the run has seen costs a dict lookup."""

    __slots__ = ("known", "learnt", "mine", "other_known", "other_learnt", "theirs", "unchanged")

    def __init__(self, mine: _Normalizer, theirs: _Normalizer) -> None:
        self.mine, self.theirs = mine, theirs
        self.learnt = _Learnt(mine.times, mine.packed) if mine.times is not None else None
        self.other_learnt = (
            _Learnt(theirs.times, theirs.packed) if theirs.times is not None else None
        )
        (counterparts, pattern), (other_counterparts, other_pattern) = mine.naming, theirs.naming
        self.known, self.other_known = known_ids(counterparts), known_ids(other_counterparts)
        self.unchanged = _unchanged(self.known, self.other_known, pattern, other_pattern)

    def values(
        self,
        one: Any,
        other: Any,
        anchors: _SomeAnchors,
        other_anchors: _SomeAnchors,
        described: ObjectType | None,
        other_described: ObjectType | None,
    ) -> bool:
        kind = type(one)
        if kind is not type(other):
            return False
        if kind is dict:
            return self.mappings(one, other, anchors, other_anchors, described, other_described)
        if kind is list:
            return self.sequences(one, other, anchors, other_anchors, described, other_described)
        if kind is str:
            return self.texts(one, other)
        return bool(one == other)

    def texts(self, one: str, other: str) -> bool:
        """Whether two texts name alike (_name_ids_in_text), the time maps learning what
        naming them teaches. Two equal texts naming leaves alone on both sides, and two
        texts each a whole id the id maps know, are decided without a pattern."""
        if one == other and self.unchanged[one]:
            return True
        recorded, other_recorded = self.known[one], self.other_known[other]
        if recorded is not NO_COUNTERPART and other_recorded is not NO_COUNTERPART:
            learnt = self.learnt  # _Learnt.name, written out: an id in most answers
            if learnt is not None and one not in learnt.named:
                learnt.named.add(one)
                learnt.times.name(one, learnt.packed)
            learnt = self.other_learnt
            if learnt is not None and other not in learnt.named:
                learnt.named.add(other)
                learnt.times.name(other, learnt.packed)
            return recorded == other_recorded
        return _name_ids_in_text(one, self.mine.name) == _name_ids_in_text(other, self.theirs.name)

    def mappings(
        self,
        one: dict[str, Any],
        other: dict[str, Any],
        outer: _SomeAnchors,
        other_outer: _SomeAnchors,
        described: ObjectType | None,
        other_described: ObjectType | None,
    ) -> bool:
        if one.keys() != other.keys():
            return False
        mine, theirs = self.mine, self.theirs
        object_type = one.get("object")
        found = mine.type_contexts.get(
            object_type if type(object_type) is str else id(described)
        ) or mine.kinds_of(one, described)
        kinds, described = found
        object_type = other.get("object")
        found = theirs.type_contexts.get(
            object_type if type(object_type) is str else id(other_described)
        ) or theirs.kinds_of(other, other_described)
        other_kinds, other_described = found
        # What anchors_of would give each object, worked out when first needed; its
        # birth (the request that first named it) is learnt now, as anchors_of learns it.
        anchors: _SomeAnchors = outer
        identity = one.get("id")
        if type(identity) is str and identity:
            learnt = self.learnt
            if learnt is not None and identity not in learnt.named:
                learnt.named.add(identity)
                learnt.times.name(identity, learnt.packed)
            anchors = [mine, one, outer, None]
        elif not one.keys().isdisjoint(_ANCHOR_NAMES):
            anchors = [mine, one, outer, None]
        other_anchors: _SomeAnchors = other_outer
        identity = other.get("id")
        if type(identity) is str and identity:
            learnt = self.other_learnt
            if learnt is not None and identity not in learnt.named:
                learnt.named.add(identity)
                learnt.times.name(identity, learnt.packed)
            other_anchors = [theirs, other, other_outer, None]
        elif not other.keys().isdisjoint(_ANCHOR_NAMES):
            other_anchors = [theirs, other, other_outer, None]
        unchanged = self.unchanged
        # In the first answer's key order, not sorted as mapping() walks: placeholders
        # are numbered alike on both sides either way, so their equality is the same.
        if kinds is other_kinds:
            # Fields normalised alike on both sides (told by the same masked fields and
            # catalogue type): a field's flags are the same, so only the values' types
            # decide how each is normalised, as field_kind says, written out here.
            for key, item in one.items():
                other_item = other[key]
                kind = type(item)
                if kind is not type(other_item):
                    if not self.field(
                        key, item, other_item, kinds, other_kinds, anchors, other_anchors
                    ):
                        return False
                elif kind is str:
                    # Equal texts naming leaves alone on both sides are equal, whatever the
                    # field: a masked one, a reference, a text.
                    if item == other_item and unchanged[item]:
                        continue
                    flags = kinds[key]
                    if flags & _KEY_MASKED:
                        continue
                    if flags & _KEY_REFERENCE:
                        if not self.references(item, other_item):
                            return False
                    elif not self.texts(item, other_item):
                        return False
                elif kind is int or kind is float:
                    flags = kinds[key]
                    if flags & _KEY_MASKED:
                        continue
                    if flags & _KEY_TIME:
                        late = item >= EARLIEST_TIMESTAMP
                        if late is not (other_item >= EARLIEST_TIMESTAMP):
                            return False  # a time on one side, a number on the other
                        if late:
                            if not self.times(key, item, other_item, anchors, other_anchors):
                                return False
                            continue
                    if item != other_item:
                        return False
                elif kind is dict or kind is list:
                    if not item and not other_item:
                        continue  # {} or [] on both sides: nothing to name, time or learn
                    if kinds[key] & _KEY_MASKED:
                        continue
                    embedded = kinds.children[key]
                    if kind is dict:
                        if not self.mappings(
                            item, other_item, anchors, other_anchors, embedded, embedded
                        ):
                            return False
                    elif not self.sequences(
                        item, other_item, anchors, other_anchors, embedded, embedded
                    ):
                        return False
                elif item != other_item and not kinds[key] & _KEY_MASKED:
                    return False  # two booleans (two nulls are equal)
            return True
        for key, item in one.items():
            if not self.field(key, item, other[key], kinds, other_kinds, anchors, other_anchors):
                return False
        return True

    def field(
        self,
        key: str,
        item: Any,
        other_item: Any,
        kinds: _KeyKinds,
        other_kinds: _KeyKinds,
        anchors: _SomeAnchors,
        other_anchors: _SomeAnchors,
    ) -> bool:
        """Whether one field normalises alike on both sides, each as field_kind says."""
        how = self.mine.field_kind(key, item, kinds)
        if how != self.theirs.field_kind(key, other_item, other_kinds):
            return False
        if how == _PLAIN:
            return bool(item == other_item)
        if how == _TEXT:
            return self.texts(item, other_item)
        if how == _CONTAINER:
            if not item and not other_item and type(item) is type(other_item):
                return True  # {} or [] on both sides: nothing to name, time or learn
            return self.values(
                item,
                other_item,
                anchors,
                other_anchors,
                kinds.children[key],
                other_kinds.children[key],
            )
        if how == _TIME:
            return self.times(key, item, other_item, anchors, other_anchors)
        if how == _REFERENCE:
            return self.references(item, other_item)
        return True  # _MASKED on both sides

    def references(self, one: str, other: str) -> bool:
        """Whether two expandable references name alike (_name_reference): as texts
        when each is a whole id the id maps know (naming them so is naming them as
        texts), else as _name_reference names them."""
        if self.known[one] is not NO_COUNTERPART and self.other_known[other] is not NO_COUNTERPART:
            return self.texts(one, other)
        return _name_reference(one, self.mine.name) == _name_reference(other, self.theirs.name)

    def times(
        self,
        key: str,
        item: float,
        other_item: float,
        anchors: _SomeAnchors,
        other_anchors: _SomeAnchors,
    ) -> bool:
        """Whether two times normalise to equal Moments. Most lie as far from their own
        request's start on both sides, the first test of Moment.__eq__: that one is made
        here, without making the Moments, and the time maps learn what making them
        teaches (moment(): the request that first showed each time)."""
        mine, theirs = self.mine, self.theirs
        if item not in mine.fixed_times and other_item not in theirs.fixed_times:
            tolerance = max(mine.tolerance, theirs.tolerance)
            if abs((item - other_item) - (mine.request[0] - theirs.request[0])) <= tolerance:
                learnt = self.learnt  # _Learnt.show, written out
                if learnt is not None and item not in learnt.shown:
                    learnt.shown.add(item)
                    learnt.times.first_shown(item, learnt.packed)
                learnt = self.other_learnt
                if learnt is not None and other_item not in learnt.shown:
                    learnt.shown.add(other_item)
                    learnt.times.first_shown(other_item, learnt.packed)
                return True
        return bool(
            mine.time(key, item, _resolved(anchors))
            == theirs.time(key, other_item, _resolved(other_anchors))
        )

    def sequences(
        self,
        one: list[Any],
        other: list[Any],
        anchors: _SomeAnchors,
        other_anchors: _SomeAnchors,
        described: ObjectType | None,
        other_described: ObjectType | None,
    ) -> bool:
        if len(one) != len(other):
            return False
        objects = _known_objects(one, self.known)
        if objects != _known_objects(other, self.other_known):
            return False
        if objects is None:
            return False  # new objects: normalising orders them by content first
        if not objects:  # anything but objects with ids: item by item, as sequence() does
            values = self.values
            for item, other_item in zip(one, other, strict=True):
                if not values(item, other_item, anchors, other_anchors, described, other_described):
                    return False
            return True
        # Objects the id maps know keep their order (sequence() keys them by id), and
        # are compared item by item, each naming within itself as sequence() does.
        mappings, known, other_known = self.mappings, self.known, self.other_known
        mine, theirs = self.mine, self.theirs
        for item, other_item in zip(one, other, strict=True):
            outer = mine.within(known[item["id"]])
            other_outer = theirs.within(other_known[other_item["id"]])
            same = mappings(item, other_item, anchors, other_anchors, described, other_described)
            mine.within(outer)
            theirs.within(other_outer)
            if not same:
                return False
        return True


def _known_objects(items: list[Any], known: KnownIds) -> bool | None:
    """False for a list that is not all objects with ids, True for one whose objects the
    id map all knows, None for objects some of which it does not."""
    if not items:
        return False
    every_known = True
    for item in items:
        if type(item) is not dict:
            return False
        identity = item.get("id")
        if type(identity) is not str:
            return False
        if every_known and known[identity] is NO_COUNTERPART:
            every_known = False
    return True if every_known else None


# Values to_jsonable gives back as they are, by exact type (most leaves of a tree).
_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})


def to_jsonable(value: Any) -> Any:
    """A normalised value as plain JSON, for outcomes and reports."""
    if type(value) in _PLAIN_TYPES:
        return value
    if isinstance(value, Moment):
        return str(value)
    if isinstance(value, ById):
        return [to_jsonable(item) for item in value.values()]
    if isinstance(value, dict):
        return {key: to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_jsonable(item) for item in value]
    return value
