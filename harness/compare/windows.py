"""A page of a longer list is a window over it, and where objects were made in the same
second, which ones fall inside depends on how the target breaks the tie.

`GET /v1/invoices?limit=5` says `has_more: true`: it shows the five newest invoices.
Stripe's lists are sorted by `created`, a time in whole seconds. localstripe keeps the
objects of one second oldest first, so a page that cuts through a second holds other
objects depending on where the second ticked on each target: two unchanged twins then
list four shared invoices and one other each. Those are no difference of the setups:
both made every one of these objects (both id maps know them), only the window's edge
fell elsewhere. Compare counts them as noise, with this reason, and only when all of a
page's unpaired items are such (docs/compare.md, "Pages of longer lists"). An object one
side never made, or one made well before the edge, stays a difference.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from harness.compare.cause import UNPAIRED
from harness.compare.normalize import ById, Normalized
from harness.compare.timemap import Moment, Window
from harness.model import Difference, DifferenceKind

WINDOW_NOISE = (
    "a page of a longer list: objects made within the time tolerance of the pages' oldest "
    "items fall inside or outside it by the order the target gives objects made in the "
    "same second; both sides made them"
)
# The path of a top-level page's items, as diff writes it for list items paired by id.
_PAGE_ITEMS = "$.data[]"


def _page(body: Any) -> ById | None:
    """The items of a page of a longer list (`has_more: true`), keyed by normalised id."""
    items = _listed(body)
    return items if items and body.get("has_more") is True else None


def _created(item: Any) -> Moment | None:
    value = item.get("created") if isinstance(item, dict) else None
    return value if isinstance(value, Moment) else None


def _oldest(page: ById) -> Moment | None:
    moments = [moment for moment in map(_created, page.values()) if moment is not None]
    return min(moments, key=lambda moment: moment.value) if moments else None


def _at_the_edges(shown: Any, page: ById, own: Moment | None, others: Moment | None) -> bool:
    """Whether the item a difference shows (on the side of `page`, whose oldest item was
    made at `own`; the other page's at `others`) is an object both id maps know (its id
    the recorded one, not a placeholder) made as late as the oldest item of either page,
    within the tolerance: one the other side's window may have left out for a tie, as
    its own window took it in."""
    identity = shown.get("id") if isinstance(shown, dict) else None
    if not isinstance(identity, str) or identity.startswith("<"):
        return False
    created = _created(page.get(identity))  # the difference shows it rendered as JSON
    if created is None or own is None or others is None:
        return False
    # Its own page's edge is on its own clock; the other's is compared as every time of
    # two sides is, from the request's start (timemap.Moment).
    return created.value - own.value <= created.tolerance and created == others


def explain_page_windows(
    differences: list[Difference], baseline: Normalized, candidate: Normalized
) -> None:
    """Mark as noise (in place) the unpaired items of a page of a longer list that only
    the window's edge tells apart: both pages say `has_more`, hold as many items, and
    every item one holds and the other does not is known to both sides and was made
    within the tolerance of both pages' oldest items. Anything else about the page
    leaves every difference as it is."""
    unpaired = [d for d in differences if d.cause_kind == UNPAIRED and d.path == _PAGE_ITEMS]
    if not unpaired:
        return
    ours, theirs = _page(baseline.body), _page(candidate.body)
    if ours is None or theirs is None or len(ours) != len(theirs):
        return
    our_edge, their_edge = _oldest(ours), _oldest(theirs)
    for difference in unpaired:
        if difference.kind == DifferenceKind.REMOVED:
            explained = _at_the_edges(difference.baseline, ours, our_edge, their_edge)
        elif difference.kind == DifferenceKind.ADDED:
            explained = _at_the_edges(difference.candidate, theirs, their_edge, our_edge)
        else:
            explained = False  # a field of a paired item: the items are the same object
        if not explained:
            return
    for difference in unpaired:
        difference.outcome = "noise"
        difference.reason = WINDOW_NOISE


# --- lists filtered by creation time -------------------------------------------------------

FILTER_NOISE = (
    "a list filtered by creation time: an object both sides made within the time tolerance "
    "of the filter's bound falls inside or outside it by the pace of the replay (objects "
    "made seconds apart when recorded may be made in one second when replayed)"
)
# `created[gt]=…` and its kin, in a query or a form, brackets percent-encoded or not.
_CREATED_BOUND = re.compile(r"(?:^|&)created(?:\[|%5B)(gt|gte|lt|lte)(?:\]|%5D)=(\d{9,11})(?=&|$)")
_KEEPS: dict[str, Callable[[float, int], bool]] = {
    "gt": lambda created, bound: created > bound,
    "gte": lambda created, bound: created >= bound,
    "lt": lambda created, bound: created < bound,
    "lte": lambda created, bound: created <= bound,
}

# A list request's `created` range filter: (operator, bound) pairs.
Bounds = list[tuple[str, int]]


def created_bounds(query: str) -> Bounds:
    """What a list request's `created` range filter says (nothing: no such filter)."""
    if "created" not in query:
        return []
    return [(operator, int(bound)) for operator, bound in _CREATED_BOUND.findall(query)]


def _listed(body: Any) -> ById | None:
    """A list's items by normalised id (none listed: an empty list, not made a ById)."""
    if not isinstance(body, dict) or body.get("object") not in ("list", "search_result"):
        return None
    items = body.get("data")
    if items == []:
        return ById()
    return items if isinstance(items, ById) else None


def at_filter_edges(
    baseline: Normalized,
    candidate: Normalized,
    bounds: tuple[Bounds, Bounds],
    births: tuple[Callable[[str], Window | None], Callable[[str], Window | None]],
    tolerance: float,
) -> frozenset[str]:
    """The recorded ids of the objects one side lists and the other does not, where the
    side that lists one made it as its own filter asks (its `created`), and the side that
    does not made it within `tolerance` of a bound of its own filter (`bounds`, each
    side's; `births`: each side's request that first named an object, by the recorded
    id). Those the pace put on the other side of the bound; an object listed against its
    own side's filter (a `gt` read as `gte`) is no such object."""
    ours, theirs = _listed(baseline.body), _listed(candidate.body)
    if ours is None or theirs is None or not bounds[0] or not bounds[1]:
        return frozenset()
    found = set()
    for shown, lacking, side in ((ours, theirs, 1), (theirs, ours, 0)):
        for recorded in shown.keys() - lacking.keys():
            if not isinstance(recorded, str) or recorded.startswith("<"):
                continue  # a placeholder: not an object both sides made
            created = _created(shown[recorded])
            if created is None or not all(
                _KEEPS[operator](created.value, bound) for operator, bound in bounds[1 - side]
            ):
                continue
            born = births[side](recorded)
            if born is not None and any(
                born[0] - tolerance <= bound <= born[1] + tolerance for _, bound in bounds[side]
            ):
                found.add(recorded)
    return frozenset(found)


def explain_filter_edges(differences: list[Difference], edges: frozenset[str]) -> None:
    """Mark as noise (in place) the unpaired items of a list filtered by creation time
    when every one of them is at the filter's edge (`at_filter_edges`), and the list's
    `total_count` when it differs by just those items; anything else about the list
    leaves every difference as it is."""
    if not edges:
        return
    unpaired = [d for d in differences if d.cause_kind == UNPAIRED and d.path == _PAGE_ITEMS]
    if not unpaired:
        return
    more = 0  # items the candidate lists and the baseline does not, less the other way
    for difference in unpaired:
        if difference.kind == DifferenceKind.REMOVED:
            shown, more = difference.baseline, more - 1
        elif difference.kind == DifferenceKind.ADDED:
            shown, more = difference.candidate, more + 1
        else:
            return  # a field of a paired item: the items are the same object
        identity = shown.get("id") if isinstance(shown, dict) else None
        if identity not in edges:
            return
    explained = list(unpaired)
    for difference in differences:
        if (
            difference.path == "$.total_count"
            and difference.kind == DifferenceKind.VALUE
            and isinstance(difference.baseline, int)
            and isinstance(difference.candidate, int)
            and difference.candidate - difference.baseline == more
        ):
            explained.append(difference)
    for difference in explained:
        difference.outcome = "noise"
        difference.reason = FILTER_NOISE
