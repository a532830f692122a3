"""The cause of a difference: which field of which Stripe object changed, and how.

The same field of the same object is seen through many endpoints and paths (a
subscription's `plan` in `POST /v1/subscriptions $.plan`, `GET /v1/customers
$.data[].subscriptions.data[].plan`, ...), and it is one change in the API. So a cause is
(object type, field path inside that object, kind), the object type being the `object`
field of the innermost object that holds the differing field. A field of an error
answer, of an answer that is no Stripe object, or of a list's wrapper keeps the
(endpoint, path, kind) signature. When a list's items cannot be paired, everything that
differs inside them is one cause, `event list items differ` (kind `unpaired`), never one
per field (docs/compare.md, "Causes").

`locate_cause` finds a difference's object, field and excerpt in the two normalised
trees; `cause_of` turns a difference (and, for callers that know it, the object type
holding the field) into its Cause: the key compare groups by, a stable id and the words a
report shows.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.compare.normalize import ById, to_jsonable
from harness.model import Difference

# The cause kind of a cascade: list items that are not the same object on both sides.
UNPAIRED = "unpaired"
# The cause kind of a field removed beside one added with the same value in one object.
RENAMED = "renamed"
RENAME_ARROW = " → "
CAUSE_KINDS: tuple[str, ...] = (
    "status",
    "error",
    "removed",
    "type",
    "value",
    "added",
    UNPAIRED,
    RENAMED,
)

# Wrappers, not objects: a field of a list (`has_more`, `url`) is the endpoint's.
WRAPPER_OBJECTS = frozenset({"list", "search_result"})

_KIND_WORDS = {
    "status": "status changed",
    "error": "error changed",
    "removed": "removed",
    "added": "added",
    "type": "type changed",
    "value": "value changed",
    UNPAIRED: "list items differ",
    RENAMED: "renamed",
}

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_\-]+$")

# How much of an object an excerpt shows: the field's neighbours on each side, how deep
# nested values are shown, and how long a text.
_NEIGHBOURS = 1
_EXCERPT_DEPTH = 2
_TEXT = 80
_ITEMS = 3


@dataclass(frozen=True, slots=True)
class Cause:
    """One change in the API, whatever the endpoints and paths it shows through.

    `object` is the Stripe object type holding the field, and `field` the path inside it
    (`plan`, `parent.subscription_details.metadata`, `tax_rates[]`); without an object,
    `endpoint` and `field` are the difference's endpoint template and JSON path.
    """

    kind: str
    object: str | None
    field: str
    endpoint: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        """What groups differences: (`object subscription`, `plan`, `removed`), or
        (endpoint, path, kind) for a difference of no object."""
        if self.object is None:
            return (self.endpoint or "", self.field, self.kind)
        return (f"object {self.object}", self.field, self.kind)

    @property
    def id(self) -> str:
        """A short hash of the key, the same in every run. A cause of no object keeps the
        id its (endpoint, path, kind) signature always had."""
        first, second, third = self.key
        return hashlib.sha256(f"{first}\n{second}\n{third}".encode()).hexdigest()[:10]

    @property
    def display(self) -> str:
        """`subscription.plan removed`, `event list items differ`,
        `POST /v1/charges $ status changed`."""
        words = _KIND_WORDS.get(self.kind, self.kind)
        if self.object is None:
            return f"{self.endpoint} {self.field} {words}"
        if self.kind == UNPAIRED:
            return f"{self.object} {words}"
        if self.kind == RENAMED:
            old, _, new = self.field.partition(RENAME_ARROW)
            return f"{self.object}.{old} renamed to {new}"
        return f"{self.object}.{self.field} {words}"

    def to_json(self) -> dict[str, Any]:
        return {"object": self.object, "field": self.field, "kind": self.kind}


def cause_of(
    difference: Difference, object_type: str | None = None, field: str | None = None
) -> Cause:
    """The cause of a difference. `object_type` (and `field`, the path inside that
    object; the difference's path without `$.` when left out) say which object holds the
    field, for callers that know it; otherwise the difference's own `owner` and `field`,
    as `locate_cause` set them when it was diffed, are used."""
    if object_type is None:
        object_type, field = difference.owner, difference.field
        if object_type is not None and difference.cause_kind is not None:
            return Cause(difference.cause_kind, object_type, field or "")
    if object_type is None or object_type in WRAPPER_OBJECTS:
        return Cause(difference.kind, None, difference.path, difference.endpoint)
    if field is None:
        field = difference.path.removeprefix("$").removeprefix(".")
    return Cause(difference.kind, object_type, field)


@dataclass(frozen=True, slots=True)
class Located:
    """Where a difference sits: the object type holding it (None: no object), the field's
    path inside it, an excerpt of that object on each side, and `unpaired` as its cause
    kind when it is inside list items that could not be paired (the field is empty)."""

    owner: str | None
    field: str | None
    excerpt: dict[str, Any] | None
    cause_kind: str | None = None


def _object_type(node: Any) -> str | None:
    if isinstance(node, dict) and not isinstance(node, ById):
        value = node.get("object")
        if isinstance(value, str) and value not in WRAPPER_OBJECTS:
            return value
    return None


def _about(item: dict[str, Any]) -> Any:
    """The object an event (or any item with `data.object`) is about."""
    data = item.get("data")
    inner = data.get("object") if isinstance(data, dict) else None
    return inner.get("id") if isinstance(inner, dict) else None


def _same_object(baseline: Any, candidate: Any, guessed: bool) -> bool:
    """Whether two paired list items are one object. Items paired by a recorded id are,
    unless their type differs; items paired by a guess (a placeholder id, a position)
    must also be of one `type` (an event's) and about one object."""
    if not (isinstance(baseline, dict) and isinstance(candidate, dict)):
        return True
    if baseline.get("object") != candidate.get("object"):
        return False
    if not guessed:
        return True
    return baseline.get("type") == candidate.get("type") and _about(baseline) == _about(candidate)


def _is_list(node: Any) -> bool:
    return isinstance(node, ById | list)


def _render(steps: Sequence[Any], through_list: Sequence[bool]) -> str:
    """A path inside an object, `[]` for any list step: `items.data[].price`."""
    out: list[str] = []
    for step, listed in zip(steps, through_list, strict=True):
        if listed:
            out.append("[]")
        elif isinstance(step, str) and _PLAIN_KEY.match(step):
            out.append(f".{step}")
        else:
            out.append(f"[{step!r}]".replace("'", '"'))
    return "".join(out).removeprefix(".")


def _brief(value: Any, depth: int) -> Any:
    """A value cut to a size a reader takes in: nested objects as their id and type,
    long texts and lists shortened."""
    kind = type(value)
    if kind is int or kind is float or kind is bool or value is None:
        return value  # what to_jsonable gives a number, a boolean, a null
    if isinstance(value, str):
        return value if len(value) <= _TEXT else value[:_TEXT] + "…"
    if isinstance(value, ById):
        value = list(value.values())
    if isinstance(value, dict):
        if depth <= 0:
            named = {k: _brief(value[k], 0) for k in ("id", "object") if k in value}
            return named or "{…}"
        return {key: _brief(item, depth - 1) for key, item in sorted(value.items())}
    if isinstance(value, list):
        if depth <= 0:
            return f"[… {len(value)} items]"
        shown = [_brief(item, depth - 1) for item in value[:_ITEMS]]
        if len(value) > _ITEMS:
            shown.append(f"… {len(value) - _ITEMS} more")
        return shown
    return to_jsonable(value)


def _excerpt_of(node: Any, key: Any, depth: int) -> Any:
    """An object around one of its fields: its id and type, the field and its
    neighbours in key order. None when the side has no such object."""
    if not isinstance(node, dict) or isinstance(node, ById):
        return None
    # A parsed answer's keys are texts: they sort as they are.
    keys = sorted(node.keys() | {key} if isinstance(key, str) else node.keys())
    shown = {k for k in ("id", "object", "type") if k in node}
    if key in node or isinstance(key, str):
        at = keys.index(key)
        shown.update(keys[max(0, at - _NEIGHBOURS) : at + _NEIGHBOURS + 1])
    return {k: _brief(node[k], depth) for k in sorted(shown) if k in node}


def _excerpt(nodes: Sequence[Any], key: Any, depth: int = _EXCERPT_DEPTH) -> dict[str, Any]:
    return {
        "baseline": _excerpt_of(nodes[0], key, depth),
        "candidate": _excerpt_of(nodes[1], key, depth),
    }


def locate_cause(baseline: Any, candidate: Any, steps: Sequence[Any], kind: str) -> Located:
    """The object holding the field at `steps` (deepdiff's path steps into the two
    normalised trees) and the field's path inside it.

    The holder is the innermost Stripe object on the path, on the side that has the
    field (the baseline's for `removed`, the candidate's for `added`). The outermost list
    item on the path that is not the same object on both sides (`_same_object`), or a
    whole item one side lacks, makes the difference part of that item's cascade.
    """
    holder = 1 if kind == "added" else 0
    levels: list[list[Any]] = [[baseline, candidate]]
    for step in steps:
        levels.append([_child(node, step) for node in levels[-1]])
    owner: str | None = None
    owner_depth = 0
    for depth in range(len(steps) + 1):
        nodes = levels[depth]
        in_list = depth > 0 and any(_is_list(p) for p in levels[depth - 1])
        if in_list:
            parent = next(p for p in levels[depth - 1] if _is_list(p))
            step = steps[depth - 1]
            guessed = not isinstance(parent, ById) or (isinstance(step, str) and step[:1] == "<")
            whole = depth == len(steps) and kind in ("removed", "added")
            item_type = _object_type(nodes[holder]) or _object_type(nodes[1 - holder])
            if item_type is not None and (whole or not _same_object(nodes[0], nodes[1], guessed)):
                # An event's `data` as the type and id of the object it is about.
                return Located(item_type, "", _excerpt(nodes, "data", depth=1), UNPAIRED)
        if depth == len(steps):
            break
        found = _object_type(nodes[holder]) or _object_type(nodes[1 - holder])
        if found is not None:
            owner, owner_depth = found, depth
    if owner is None or not steps:
        return Located(None, None, None)
    inside = steps[owner_depth:]
    listed = [any(_is_list(n) for n in levels[d]) for d in range(owner_depth, len(steps))]
    field = _render(inside, listed)
    return Located(owner, field, _excerpt(levels[owner_depth], steps[owner_depth]))


def _child(node: Any, step: Any) -> Any:
    try:
        return node[step]
    except (KeyError, IndexError, TypeError):
        return None


def _distinctive(value: Any) -> bool:
    """A value that says which field it came from: not null, a flag, 0, or empty. Two
    fields both `0` or both `null` are no evidence of a rename."""
    return not (value is None or isinstance(value, bool) or value in (0, "", [], {}))


def _parent(path: str) -> str | None:
    head, dot, name = path.rpartition(".")
    return head if dot and _PLAIN_KEY.match(name) else None


def _instance(difference: Difference, side: str) -> Any:
    excerpt = difference.excerpt or {}
    shown = excerpt.get(side)
    return shown.get("id") if isinstance(shown, dict) else None


def pair_renames(differences: list[Difference]) -> None:
    """Mark a field removed and a field added beside it, in the same object, with the
    same distinctive value as one rename (cause kind `renamed`, field `old → new`), in
    place: a field renamed is one change, not a removal and an addition."""
    removed: dict[tuple[str, str | None, Any], list[Difference]] = {}
    for difference in differences:
        parent = _parent(difference.path)
        if difference.kind == "removed" and difference.cause_kind is None and parent:
            key = (parent, difference.owner, _instance(difference, "baseline"))
            removed.setdefault(key, []).append(difference)
    if not removed:
        return
    for added in differences:
        parent = _parent(added.path)
        if added.kind != "added" or added.cause_kind is not None or added.owner is None:
            continue
        if not parent or not _distinctive(added.candidate):
            continue
        candidates = removed.get((parent, added.owner, _instance(added, "candidate")), [])
        match = next(
            (r for r in candidates if r.cause_kind is None and r.baseline == added.candidate),
            None,
        )
        if match is None or match.field is None or added.field is None:
            continue
        field = f"{match.field}{RENAME_ARROW}{added.path.rpartition('.')[2]}"
        for half in (match, added):
            half.cause_kind, half.field = RENAMED, field
