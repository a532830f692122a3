"""A page of a longer list whose edge cut through objects made in the same second: its
items that only the edge tells apart are noise, anything more stays a difference."""

from __future__ import annotations

from typing import Any

import pytest

from harness.compare.diff import diff_responses
from harness.compare.normalize import ById, Normalized
from harness.compare.timemap import Moment
from harness.compare.windows import WINDOW_NOISE, explain_page_windows

ENDPOINT = "GET /v1/invoices"
START = 1_796_662_400.0


def invoice(identity: str, created: float, amount: int = 900) -> dict[str, Any]:
    return {
        "id": identity,
        "object": "invoice",
        "amount_due": amount,
        "created": Moment(created, (START, START + 1), tolerance=5.0),
    }


def page(*items: dict[str, Any], has_more: bool = True) -> Normalized:
    body = {"object": "list", "has_more": has_more, "data": ById((i["id"], i) for i in items)}
    return Normalized(200, body, True, {})


def explained(baseline: Normalized, candidate: Normalized, own: bool = True) -> list[str]:
    differences = diff_responses(ENDPOINT, baseline, candidate, own)
    explain_page_windows(differences, baseline, candidate)
    assert differences
    return [d.outcome for d in differences]


# Two unchanged twins, as seen in a replay of the demo: on one the newest second held four
# invoices and the page reached one of the second before; on the other it held five.
ONE = page(
    invoice("in_A", START + 56, 3200),
    invoice("in_B", START + 56),
    invoice("in_C", START + 56),
    invoice("in_D", START + 56),
    invoice("in_E", START + 55),
)
TWO = page(
    invoice("in_A", START + 56, 3200),
    invoice("in_F", START + 56),
    invoice("in_B", START + 56),
    invoice("in_C", START + 56),
    invoice("in_D", START + 56),
)


@pytest.mark.parametrize("own", [True, False])
def test_items_only_the_edge_of_the_window_tells_apart_are_noise(own: bool) -> None:
    differences = diff_responses(ENDPOINT, ONE, TWO, own)
    explain_page_windows(differences, ONE, TWO)
    assert {(d.path, d.kind) for d in differences} == {
        ("$.data[]", "added"),
        ("$.data[]", "removed"),
    }
    assert all(d.outcome == "noise" and d.reason == WINDOW_NOISE for d in differences)


def test_a_whole_list_is_no_window() -> None:
    ours, theirs = (page(*p.body["data"].values(), has_more=False) for p in (ONE, TWO))
    assert explained(ours, theirs) == ["difference", "difference"]


def test_an_object_one_side_never_made_is_a_difference() -> None:
    # A placeholder: no id map knows the candidate's object, so it may not exist there.
    theirs = page(
        *[i for i in TWO.body["data"].values() if i["id"] != "in_F"], invoice("<in_1>", START + 56)
    )
    assert set(explained(ONE, theirs)) == {"difference"}


def test_an_item_far_from_the_edge_is_a_difference() -> None:
    # The candidate lacks an invoice of the newest second and shows one of a minute
    # before: no tie explains that.
    theirs = page(
        invoice("in_A", START + 56, 3200),
        invoice("in_B", START + 56),
        invoice("in_C", START + 56),
        invoice("in_E", START + 55),
        invoice("in_G", START - 10),
    )
    assert set(explained(ONE, theirs)) == {"difference"}


def test_pages_of_other_sizes_or_a_changed_field_stay_differences() -> None:
    shorter = page(*list(TWO.body["data"].values())[:4])
    assert set(explained(ONE, shorter)) == {"difference"}
    changed = page(*[invoice(i["id"], i["created"].value, 1) for i in TWO.body["data"].values()])
    outcomes = explained(ONE, changed)
    assert "difference" in outcomes  # in_A's amount changed: a field of a paired item
