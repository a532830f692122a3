"""Upgrade-aware expectations (`expect_upgrade: true`): a difference between answers made
under two API versions that the catalogue diff explains (a field removed, added, moved
or retyped, an enum's values changed) is expected, with the change and Stripe's
changelog page as its reason. One the catalogue does not explain stays a difference
(pure; docs/catalogue.md).
"""

from __future__ import annotations

import re
from typing import Any

from harness.compare.normalize import Normalized
from harness.model import Difference
from harness.stripe.catalogue.changes import ADDED, REMOVED, RETYPED, VALUES, field_change

EXPECTED = "expected"

# A difference kind → the effects of a change that explain it.
_EXPLAINED_BY = {
    "removed": (REMOVED,),
    "added": (ADDED,),
    "type": (RETYPED, REMOVED, ADDED),
    "value": (VALUES, RETYPED),
}

_STEP = re.compile(r'\.([A-Za-z0-9_\-]+)|\[\]|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]')


def _steps(path: str) -> list[str | int | None] | None:
    """`$.data[].items[0].price` → ["data", None, "items", 0, "price"] (None: any item of
    a list keyed by id); None for a path that is not a body path."""
    if not path.startswith("$"):
        return None
    steps: list[str | int | None] = []
    position = 1
    while position < len(path):
        match = _STEP.match(path, position)
        if match is None:
            return None
        name, index, quoted = match.groups()
        if name is not None:
            steps.append(name)
        elif index is not None:
            steps.append(int(index))
        elif quoted is not None:
            steps.append(quoted)
        else:
            steps.append(None)
        position = match.end()
    return steps


def locate(tree: Any, path: str) -> tuple[str, tuple[str, ...]] | None:
    """The object a difference sits in and the field's path inside it: `$.lines.data[].
    period.end` in an invoice → ("line_item", ("period", "end")). None when the path
    leaves the tree or crosses no object."""
    steps = _steps(path)
    if steps is None:
        return None
    node = tree
    found: tuple[str, tuple[str, ...]] | None = None
    inside: list[str] = []
    object_type: str | None = None
    for position, step in enumerate(steps):
        if isinstance(node, dict) and isinstance(node.get("object"), str):
            object_type, inside = node["object"], []
        if isinstance(step, str):
            inside.append(step)
            if object_type is not None:
                found = (object_type, tuple(inside))
            node = node.get(step) if isinstance(node, dict) else None
        elif isinstance(node, dict):  # a list keyed by id: the item that has the rest
            following = steps[position + 1] if position + 1 < len(steps) else None
            items = list(node.values())
            node = next((i for i in items if isinstance(i, dict) and following in i), None)
            if node is None and items:
                node = items[0]
        elif isinstance(node, list):
            node = node[step] if isinstance(step, int) and step < len(node) else None
        else:
            node = None
        if node is None and position + 1 < len(steps):
            return None
    return found


def explain_upgrade(
    differences: list[Difference],
    baseline: Normalized,
    candidate: Normalized,
    from_version: str,
    to_version: str,
) -> None:
    """Mark each difference the catalogue diff between the two versions explains as
    expected, with the change as its reason (in place)."""
    for difference in differences:
        wanted = _EXPLAINED_BY.get(difference.kind)
        if wanted is None:
            continue
        tree = candidate.body if difference.kind == "added" else baseline.body
        located = locate(tree, difference.path)
        if located is None:
            continue
        change = field_change(located[0], located[1], from_version, to_version)
        if change is None or change.effect not in wanted:
            continue
        if change.effect == VALUES and not (
            difference.baseline in change.old_values and difference.candidate in change.new_values
        ):
            continue  # the enum changed, but not from one of these values to the other
        difference.outcome = EXPECTED
        difference.reason = change.reason()
