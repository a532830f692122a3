"""The differences between two normalised answers, as the project's own Difference rows.

`==` on the normalised trees first (about 25 µs for a charge); when they differ, the
harness's own walk over the two trees (plain data: mappings, texts, numbers, Moments)
finds what deepdiff would, at a fraction of its cost. deepdiff runs only where two lists
differ, which it aligns item by item. A status change is one difference whatever the
bodies: a 402 body next to a 200 body is one cause, not twenty.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from harness.compare.cause import locate_cause, pair_renames
from harness.compare.normalize import ById, Normalized, to_jsonable
from harness.compare.timemap import Moment
from harness.model import Difference

# deepdiff report type → our kind of difference.
_REPORT_KINDS = {
    "values_changed": "value",
    "type_changes": "type",
    "dictionary_item_added": "added",
    "iterable_item_added": "added",
    "dictionary_item_removed": "removed",
    "iterable_item_removed": "removed",
}

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_\-]+$")

# Longest text shown as a value of a non-JSON body.
_TEXT_LIMIT = 200


@functools.cache
def _deepdiff() -> tuple[Any, Any]:
    """deepdiff's DeepDiff and an operator that lets it compare times as Moments (anchors
    and tolerance), not field by field. Imported when two answers first differ: a
    compare whose answers all match never loads it (a fifth of its start-up)."""
    from deepdiff import DeepDiff
    from deepdiff.operator import BaseOperator

    class MomentOperator(BaseOperator):  # type: ignore[misc]
        def give_up_diffing(self, level: Any, diff_instance: Any) -> bool:
            if level.t1 != level.t2:
                diff_instance.custom_report_result("values_changed", level)
            return True

    return DeepDiff, MomentOperator(types=[Moment])


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | Moment) and not isinstance(value, bool)


def _pruned(
    t1: Any, t2: Any, steps: tuple[Any, ...] = (), reordered: list[list[Any]] | None = None
) -> tuple[Any, Any]:
    """Both trees without the entries they share, and with an empty list facing a list
    keyed by id made an empty keyed list (so a first item reads as `added`, not as a
    change of type).

    Dropping equal entries (a C-speed `==` each) before deepdiff spares it walking the
    unchanged bulk of an answer, which is most of its cost; paths stay the same because
    only mapping keys are dropped. With `reordered`, a list of objects without ids that
    holds the same items in another order is dropped too, and the steps to it noted there.
    """
    if isinstance(t1, ById) and t2 == []:
        t2 = ById()
    elif isinstance(t2, ById) and t1 == []:
        t1 = ById()
    if isinstance(t1, dict) and isinstance(t2, dict):
        r1, r2 = type(t1)(), type(t2)()
        for key, value in t1.items():
            if key not in t2:
                r1[key] = value
            elif value != t2[key]:
                pruned = _pruned(value, t2[key], (*steps, key), reordered)
                if pruned == _REORDERED:
                    continue  # the same items in another order: dropped as an equal entry is
                r1[key], r2[key] = pruned
        for key, value in t2.items():
            if key not in t1:
                r2[key] = value
        return r1, r2
    if isinstance(t1, list) and isinstance(t2, list) and len(t1) == len(t2):
        if reordered is not None and _same_items(t1, t2):
            reordered.append(list(steps))
            return _REORDERED
        pairs = [
            _pruned(a, b, (*steps, index), reordered)
            for index, (a, b) in enumerate(zip(t1, t2, strict=True))
        ]
        return [a for a, _ in pairs], [b for _, b in pairs]
    return t1, t2


# What _pruned gives two lists it noted as reordered (two unequal lists of one length
# never prune to two empty ones: no item of a list is dropped).
_REORDERED: tuple[list[Any], list[Any]] = ([], [])


def _same_items(t1: Any, t2: Any) -> bool:
    """Whether two unequal lists of objects without ids (plain dicts; a list keyed by id
    is compared by id already) hold the same items in another order: each item equal
    (`==`, times within the tolerance) to the first unused item of the other."""
    if type(t1) is not list or type(t2) is not list or len(t1) != len(t2) or not t1:
        return False
    if t1 == t2 or any(type(item) is not dict for item in (*t1, *t2)):
        return False
    unused = list(range(len(t2)))
    for item in t1:
        match = next((index for index in unused if t2[index] == item), None)
        if match is None:
            return False
        unused.remove(match)
    return True


REORDERED_NOISE = (
    "the same items in another order: a list of objects without ids follows the order of "
    "other objects (an invoice's total_tax_amounts follow its lines), which a target may "
    "give objects made in the same second either way"
)


def json_path(steps: list[Any], t1: Any, t2: Any) -> str:
    """`$.data[].amount` from deepdiff's steps, `[]` through lists keyed by id."""
    out = ["$"]
    nodes: list[Any] = [t1, t2]
    for step in steps:
        parent = next((n for n in nodes if isinstance(n, dict | list)), None)
        if isinstance(parent, ById):
            out.append("[]")
        elif isinstance(parent, list) or isinstance(step, int):
            out.append(f"[{step}]")
        elif isinstance(step, str) and _PLAIN_KEY.match(step):
            out.append(f".{step}")
        else:
            out.append(f"[{step!r}]".replace("'", '"'))
        nodes = [_child(n, step) for n in nodes]
    return "".join(out)


def _child(node: Any, step: Any) -> Any:
    try:
        return node[step]
    except (KeyError, IndexError, TypeError):
        return None


def _child_at(node: Any, steps: list[Any]) -> Any:
    for step in steps:
        node = _child(node, step)
    return node


def _kind(report: str, old: Any, new: Any) -> str | None:
    kind = _REPORT_KINDS.get(report)
    if kind == "type":
        if old is None or new is None:
            return "value"  # null ↔ a value: Stripe's way of saying "not set", not a type
        if _is_number(old) and _is_number(new):
            return "value" if old != new else None
        if isinstance(old, ById | list) and isinstance(new, ById | list):
            # Same list, items now with / without ids: the shape of the items changed.
            return "type"
    return kind


# (deepdiff's report type, the path's steps, the baseline's value, the candidate's): one
# difference as deepdiff's tree view reports it, None standing for a side without it.
Report = tuple[str, list[Any], Any, Any]


def deepdiff_reports(t1: Any, t2: Any) -> list[Report]:
    """What deepdiff finds between two normalised trees, its report types in the order of
    _REPORT_KINDS and each type's in deepdiff's order."""
    deep_diff, moments = _deepdiff()
    result = deep_diff(t1, t2, view="tree", threshold_to_diff_deeper=0, custom_operators=[moments])
    reports: list[Report] = []
    for report in _REPORT_KINDS:
        for level in result.get(report, ()):
            old = None if report.endswith("_added") else level.t1
            new = None if report.endswith("_removed") else level.t2
            reports.append((report, level.path(output_format="list"), old, new))
    return reports


class _ListsDiffer(Exception):
    """Two lists differ: aligning their items is deepdiff's work."""


# The types of normalised trees the own walk compares as deepdiff's _diff does: values
# with `!=` (str, bool and numbers alike when both sides have the same type).
_SCALARS = frozenset({str, int, float, bool, type(None)})


def own_reports(t1: Any, t2: Any) -> list[Report] | None:
    """What deepdiff would find between two normalised trees, found by the harness's own
    walk: the same reports in the same order (tests/test_fastpath.py holds it to
    deepdiff's), or None when two lists differ somewhere (deepdiff_reports then)."""
    found: dict[str, list[Report]] = {report: [] for report in _REPORT_KINDS}
    try:
        _walk(t1, t2, [], found)
    except _ListsDiffer:
        return None
    return [report for reports in found.values() for report in reports]


def _walk(t1: Any, t2: Any, steps: list[Any], found: dict[str, list[Report]]) -> None:
    """deepdiff's _diff for the types of normalised trees: Moments by their operator
    (harness.timemap's equality), another type a type change, mappings key by key (keys
    added in the candidate's order, removed in the baseline's, then the common ones in
    the candidate's, leaving out keys starting `__` as deepdiff does), values by `!=`."""
    kind = type(t1)
    if kind is Moment and type(t2) is Moment:
        if t1 != t2:
            found["values_changed"].append(("values_changed", steps, t1, t2))
        return
    if t1 is t2:
        return
    if kind is not type(t2):
        found["type_changes"].append(("type_changes", steps, t1, t2))
        return
    if kind in _SCALARS:
        if t1 != t2:
            found["values_changed"].append(("values_changed", steps, t1, t2))
        return
    if kind is not dict and kind is not ById:
        raise _ListsDiffer  # lists, even `==` ones: deepdiff tells 0 from False in them
    keys1 = [key for key in t1 if not (type(key) is str and key.startswith("__"))]
    keys2 = [key for key in t2 if not (type(key) is str and key.startswith("__"))]
    set1, set2 = set(keys1), set(keys2)
    added = found["dictionary_item_added"]
    for key in keys2:
        if key not in set1:
            added.append(("dictionary_item_added", [*steps, key], None, t2[key]))
    removed = found["dictionary_item_removed"]
    for key in keys1:
        if key not in set2:
            removed.append(("dictionary_item_removed", [*steps, key], t1[key], None))
    for key in keys2:
        if key in set1:
            _walk(t1[key], t2[key], [*steps, key], found)


def diff_trees(endpoint: str, baseline: Any, candidate: Any, own: bool = True) -> list[Difference]:
    """Every field that differs between two normalised trees: the own walk's reports
    (deepdiff's where lists differ, or always when `own` is off), converted."""
    if baseline == candidate:
        return []
    differences: list[Difference] = []
    reordered: list[list[Any]] = []
    t1, t2 = _pruned(baseline, candidate, (), reordered)
    for steps in reordered:
        located = locate_cause(baseline, candidate, steps, "value")
        differences.append(
            Difference(
                endpoint,
                json_path(steps, baseline, candidate),
                "value",
                to_jsonable(_child_at(baseline, steps)),
                to_jsonable(_child_at(candidate, steps)),
                owner=located.owner,
                field=located.field,
                excerpt=located.excerpt,
                cause_kind=located.cause_kind,
                outcome="noise",
                reason=REORDERED_NOISE,
            )
        )
    reports = own_reports(t1, t2) if own else None
    if reports is None:
        reports = deepdiff_reports(t1, t2)
    for report, steps, old, new in reports:
        kind = _kind(report, old, new)
        if kind is None:
            continue
        located = locate_cause(baseline, candidate, steps, kind)
        differences.append(
            Difference(
                endpoint,
                json_path(steps, t1, t2),
                kind,
                to_jsonable(old),
                to_jsonable(new),
                owner=located.owner,
                field=located.field,
                excerpt=located.excerpt,
                cause_kind=located.cause_kind,
            )
        )
    pair_renames(differences)
    differences.sort(key=lambda d: (d.path, d.kind))
    return differences


def _clip(text: Any) -> Any:
    if isinstance(text, str) and len(text) > _TEXT_LIMIT:
        return text[:_TEXT_LIMIT] + "…"
    return text


def diff_responses(
    endpoint: str, baseline: Normalized, candidate: Normalized, own: bool = True
) -> list[Difference]:
    """The differences between two answers to one request, most fundamental first.

    A status change is reported alone, as `error` when a success became an error or the
    reverse and as `status` otherwise. Between two errors with one status, a changed
    type/code/decline_code/param is an `error` difference at its path.
    """
    if baseline.status != candidate.status:
        kind = "error" if baseline.is_error != candidate.is_error else "status"
        return [Difference(endpoint, "$", kind, baseline.status, candidate.status)]
    differences: list[Difference] = []
    if baseline.is_json and candidate.is_json:
        differences.extend(diff_trees(endpoint, baseline.body, candidate.body, own))
        if baseline.is_error:
            # A field of an error answer is the endpoint's, not an object's.
            for difference in differences:
                difference.owner = difference.field = difference.excerpt = None
                difference.cause_kind = None
                if difference.path.startswith("$.error"):
                    difference.kind = "error"
    elif baseline.is_json != candidate.is_json:
        differences.append(
            Difference(
                endpoint,
                "$",
                "type",
                _clip(to_jsonable(baseline.body)),
                _clip(to_jsonable(candidate.body)),
            )
        )
    elif baseline.body != candidate.body:
        differences.append(
            Difference(endpoint, "$", "value", _clip(baseline.body), _clip(candidate.body))
        )
    for name in sorted(baseline.headers.keys() | candidate.headers.keys()):
        old = baseline.headers.get(name)
        new = candidate.headers.get(name)
        if old != new:
            kind = "added" if old is None else "removed" if new is None else "value"
            differences.append(Difference(endpoint, f"headers.{name}", kind, old, new))
    return differences
