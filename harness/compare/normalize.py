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
from collections import Counter
from collections.abc import Mapping
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
from harness.stripe import GENERATED_ID, ID_PATTERN, NON_OBJECT_PREFIXES, id_prefix
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


class IdNamer:
    """Names ids for comparison: the recorded counterpart when both sides know one, else
    a placeholder by prefix and order of first appearance within one response."""

    def __init__(
        self,
        counterparts: Mapping[str, str],
        times: TimeMap | None = None,
        request: Window = (0.0, 0.0),
        pattern: re.Pattern[str] = ID_PATTERN,
    ) -> None:
        self.counterparts = counterparts
        self.times = times
        self.request = pack(request)  # as the time map keeps it
        self.pattern = pattern  # the ids of the answer's API version (its catalogue's prefixes)
        self._placeholders: dict[str, str] = {}
        self._counts: Counter[str] = Counter()

    def __call__(self, value: str) -> str:
        if self.times is not None:
            self.times.name(value, self.request)  # the first answer naming an object
        recorded = self.counterparts.get(value)
        if recorded is not None:
            return recorded
        placeholder = self._placeholders.get(value)
        if placeholder is None:
            prefix = id_prefix(value)
            self._counts[prefix] += 1
            placeholder = f"<{prefix}_{self._counts[prefix]}>"
            self._placeholders[value] = placeholder
        return placeholder


def _looks_generated(value: str) -> bool:
    """`in_progress` and `card_payments` fit the id pattern; a generated id has a digit or
    a capital after its prefix (Stripe's and localstripe's are random base62)."""
    tail = value[len(id_prefix(value)) + 1 :]
    return any(c.isdigit() or c.isupper() for c in tail)


def _name_ids_in_text(text: str, name: IdNamer) -> str:
    recorded = name.counterparts.get(text)
    if recorded is not None:
        if name.times is not None:
            name.times.name(text, name.request)
        return recorded
    if "_" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        found = match.group(0)
        if id_prefix(found) in NON_OBJECT_PREFIXES or (
            found not in name.counterparts and not _looks_generated(found)
        ):
            return found
        return name(found)

    return name.pattern.sub(replace, text)


def _name_reference(text: str, name: IdNamer) -> str:
    """A field the catalogue says holds an id (an expandable reference): named as an id
    even when no table knows its prefix."""
    if name.counterparts.get(text) is None and GENERATED_ID.fullmatch(text):
        return name(text)
    return _name_ids_in_text(text, name)


# The times of an object that later times are counted from, with their rank, innermost
# object first: ("billing_cycle_anchor", 1, (1795464128.0, 1795464128.0)). "birth" (the
# request that first named the object on this side) ranks below every field.
_Anchors = tuple[tuple[str, int, Window], ...]
_ANCHOR_FIELDS = frozenset(ANCHOR_RANKS)
_BIRTH = "birth"


class _Normalizer:
    """One walk over one answer; the profile's sets are held locally because this loop
    runs for every field of every exchange."""

    def __init__(
        self,
        request: Window,
        name: IdNamer,
        profile: Profile,
        times: TimeMap | None = None,
    ) -> None:
        self.request = request
        self.packed = pack(request)
        self.name = name
        self.masked = profile.masked
        self.masked_by_object = profile.masked_by_object
        self.timestamps = profile.timestamps
        self.declared = profile.declared_timestamps
        self.tolerance = profile.timestamp_tolerance
        self.times = times
        self.catalogue = profile.catalogue
        self.fixed_times = profile.fixed_times

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
        for name in node.keys() & _ANCHOR_FIELDS:
            item = node[name]
            if (type(item) is int or type(item) is float) and item >= EARLIEST_TIMESTAMP:
                own.append((name, ANCHOR_RANKS[name], (float(item), float(item))))
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

    def mapping(
        self, node: dict[str, Any], outer: _Anchors = (), described: ObjectType | None = None
    ) -> dict[str, Any]:
        """`described`: the catalogue's type of an embedded object that names none itself."""
        anchors = self.anchors_of(node, outer)
        object_type = node.get("object")
        by_object = None
        catalogue = self.catalogue
        if type(object_type) is str:
            by_object = self.masked_by_object.get(object_type)
            if catalogue is not None:
                described = catalogue.object_type(object_type)
        # The catalogue of the answer's API version decides for the fields it knows; the
        # profile's names for the rest (localstripe's extras, versions it does not cover).
        known = stamps = references = children = None
        if described is not None:
            known, stamps = described.fields, described.timestamps
            references, children = described.references, described.children
        masked = self.masked
        out: dict[str, Any] = {}
        # Sorted keys: placeholders are numbered in an order the server's key order
        # does not change.
        for key in sorted(node):
            item = node[key]
            kind = type(item)
            if item is not None and (key in masked or (by_object is not None and key in by_object)):
                out[key] = MASK
            elif (
                (kind is int or kind is float)
                and item >= EARLIEST_TIMESTAMP
                and (
                    key in self.declared
                    # the catalogue decides for the fields it knows, the names for the rest
                    or (
                        key in stamps
                        if known is not None and stamps is not None and key in known
                        else key in self.timestamps or key.endswith(TIMESTAMP_SUFFIX)
                    )
                )
            ):
                if item in self.fixed_times:
                    out[key] = FIXED_BY_EMULATOR
                else:
                    out[key] = self.moment(key, item, anchors)
            elif kind is dict or kind is list:
                inner = children.get(key) if children is not None else None
                embedded = None
                if inner is not None and catalogue is not None:
                    embedded = catalogue.object_type(inner)
                if kind is dict:
                    out[key] = self.mapping(item, anchors, embedded)
                else:
                    out[key] = self.sequence(item, anchors, embedded)
            elif kind is str:
                if references is not None and key in references:
                    out[key] = _name_reference(item, self.name)
                else:
                    out[key] = _name_ids_in_text(item, self.name)
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
        items = [self.mapping(item, anchors, described) for item in node]
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
    if name is None:
        name = IdNamer(counterparts, times, request, _pattern(profile.catalogue))
    return _Normalizer(request, name, profile, times).value(tree)


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


def normalize_response(
    response: Response,
    started: float,
    counterparts: Mapping[str, str],
    profile: Profile = STRIPE_PROFILE,
    times: TimeMap | None = None,
    finished: float | None = None,
) -> Normalized:
    """One response in comparable form; `started` and `finished` are its own request's
    start and end (the answer was made in between), `times` its side's time map (learnt
    from the answers compared before it), `profile` its API version's."""
    if finished is None:
        finished = started
    name = IdNamer(counterparts, times, (started, finished), _pattern(profile.catalogue))
    tree, is_json = parse_body(response.text)
    if is_json:
        if response.status >= 400:
            tree = _error_only(tree)
        body = normalize_tree(
            tree,
            started,
            counterparts,
            profile,
            name=name,
            times=times,
            finished=finished,
        )
    else:
        body = _name_ids_in_text(tree, name)
    headers = {}
    for wanted in profile.headers:
        value = response.header(wanted)
        if value is not None:
            value = " ".join(value.lower().split())
            fixed = (wanted, value) in profile.fixed_headers
            headers[wanted] = FIXED_BY_EMULATOR if fixed else value
    return Normalized(response.status, body, is_json, headers)


def to_jsonable(value: Any) -> Any:
    """A normalised value as plain JSON, for outcomes and reports."""
    if isinstance(value, Moment):
        return str(value)
    if isinstance(value, ById):
        return [to_jsonable(item) for item in value.values()]
    if isinstance(value, dict):
        return {key: to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_jsonable(item) for item in value]
    return value
