"""Turn one response into the form two targets' answers are compared in (pure).

A raw diff of two Stripe answers is all noise: ids, timestamps, secrets, URLs. Here every
id becomes its recorded counterpart (or a stable placeholder `<cus_1>`), every timestamp
an `Offset` from its own request's start, every volatile field `<masked>`, lists of
objects with ids a `ById` mapping, errors their (type, code, decline_code, param), and
only the profile's headers survive. Two answers that mean the same normalise to `==`
trees, which is the fast path compare takes for most exchanges.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.compare.profile import (
    EARLIEST_TIMESTAMP,
    EMULATOR_FIXED_HEADERS,
    EMULATOR_FIXED_TIMES,
    ERROR_FIELDS,
    FIXED_BY_EMULATOR,
    MASK,
    STRIPE_PROFILE,
    TIMESTAMP_SUFFIX,
    Profile,
)
from harness.model import Response
from harness.stripe import ID_PATTERN, NON_OBJECT_PREFIXES, id_prefix
from harness.untrusted import JSONProblem, load_json


@dataclass(frozen=True, slots=True)
class Offset:
    """A Unix timestamp as seconds after its own request started; equal within tolerance.

    Equality is tolerant (and so not transitive) and every Offset hashes alike, which
    keeps `==` on whole trees and deepdiff both honest about it.
    """

    seconds: float
    tolerance: float = 0.0

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Offset):
            return NotImplemented
        return abs(self.seconds - other.seconds) <= max(self.tolerance, other.tolerance)

    def __hash__(self) -> int:
        return hash(Offset)

    def __str__(self) -> str:
        return f"<request{round(self.seconds):+d}s>"


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

    def __init__(self, counterparts: Mapping[str, str]) -> None:
        self.counterparts = counterparts
        self._placeholders: dict[str, str] = {}
        self._counts: Counter[str] = Counter()

    def __call__(self, value: str) -> str:
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

    return ID_PATTERN.sub(replace, text)


class _Normalizer:
    """One walk over one answer; the profile's sets are held locally because this loop
    runs for every field of every exchange."""

    def __init__(self, started: float, name: IdNamer, profile: Profile) -> None:
        self.started = started
        self.name = name
        self.masked = profile.masked
        self.masked_by_object = profile.masked_by_object
        self.timestamps = profile.timestamps
        self.tolerance = profile.timestamp_tolerance

    def value(self, node: Any) -> Any:
        kind = type(node)
        if kind is dict:
            return self.mapping(node)
        if kind is list:
            return self.sequence(node)
        if kind is str:
            return _name_ids_in_text(node, self.name)
        return node

    def mapping(self, node: dict[str, Any]) -> dict[str, Any]:
        object_type = node.get("object")
        by_object = self.masked_by_object.get(object_type) if type(object_type) is str else None
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
                and (key in self.timestamps or key.endswith(TIMESTAMP_SUFFIX))
            ):
                if item in EMULATOR_FIXED_TIMES:
                    out[key] = FIXED_BY_EMULATOR
                else:
                    out[key] = Offset(item - self.started, self.tolerance)
            elif kind is dict:
                out[key] = self.mapping(item)
            elif kind is list:
                out[key] = self.sequence(item)
            elif kind is str:
                out[key] = _name_ids_in_text(item, self.name)
            else:
                out[key] = item
        return out

    def sequence(self, node: list[Any]) -> list[Any] | ById:
        if not node or not all(type(item) is dict and type(item.get("id")) is str for item in node):
            return [self.value(item) for item in node]
        counterparts = self.name.counterparts
        if not all(item["id"] in counterparts for item in node):
            # New objects get placeholders in order of appearance, and targets list
            # objects created at once in store order (invoice lines, say): order the
            # items by what they say first, so the same objects get the same names.
            node = sorted(node, key=lambda item: self.content_key(item, counterparts))
        items = [self.mapping(item) for item in node]
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
) -> Any:
    """A parsed JSON body with ids named, timestamps as offsets, volatile fields masked
    and lists of objects keyed by id."""
    return _Normalizer(started, name or IdNamer(counterparts), profile).value(tree)


def _error_only(tree: Any) -> Any:
    """Keep what identifies an error; the message and links change between releases."""
    if isinstance(tree, dict) and isinstance(tree.get("error"), dict):
        error = tree["error"]
        return {"error": {key: error.get(key) for key in ERROR_FIELDS}}
    return tree


class NotComparable(ValueError):
    """An answer compare does not walk: JSON past a limit of harness.untrusted (nested
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
) -> Normalized:
    """One response in comparable form; `started` is its own request's start time."""
    name = IdNamer(counterparts)
    tree, is_json = parse_body(response.text)
    if is_json:
        if response.status >= 400:
            tree = _error_only(tree)
        body = normalize_tree(tree, started, counterparts, profile, name=name)
    else:
        body = _name_ids_in_text(tree, name)
    headers = {}
    for wanted in profile.headers:
        value = response.header(wanted)
        if value is not None:
            value = " ".join(value.lower().split())
            fixed = (wanted, value) in EMULATOR_FIXED_HEADERS
            headers[wanted] = FIXED_BY_EMULATOR if fixed else value
    return Normalized(response.status, body, is_json, headers)


def to_jsonable(value: Any) -> Any:
    """A normalised value as plain JSON, for outcomes and reports."""
    if isinstance(value, Offset):
        return str(value)
    if isinstance(value, ById):
        return [to_jsonable(item) for item in value.values()]
    if isinstance(value, dict):
        return {key: to_jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_jsonable(item) for item in value]
    return value
