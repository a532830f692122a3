"""A page of a longer list whose edge cut through objects made in the same second, and a
list filtered by creation time whose bound did: the items that only the edge tells apart
are noise, anything more stays a difference."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import stripe

from harness.compare.diff import diff_responses
from harness.compare.normalize import ById, Normalized
from harness.compare.timemap import Moment
from harness.compare.windows import (
    FILTER_NOISE,
    WINDOW_NOISE,
    at_filter_edges,
    created_bounds,
    explain_filter_edges,
    explain_page_windows,
)
from harness.run import replay_and_compare
from harness.scenario import load_scenario
from scenarios.demo.make_recording import record_driver

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


# --- lists filtered by creation time -------------------------------------------------------

BOUND = 1_796_662_410  # each side's filter's bound: created[gt]
FIRST, SECOND = "ch_Recorded000001", "ch_Recorded000002"


def charges(*made: tuple[str, float]) -> Normalized:
    """A list of charges, each (recorded id, created on the side that lists it)."""
    items = (
        {"id": i, "object": "charge", "created": Moment(c, (c, c + 0.02), tolerance=5.0)}
        for i, c in made
    )
    return Normalized(200, {"object": "list", "data": ById((i["id"], i) for i in items)}, True, {})


def filtered(
    baseline: Normalized,
    candidate: Normalized,
    born: float | None,
    bounds: list[tuple[str, int]] | None = None,
) -> list[str]:
    """The outcomes of `candidate` against `baseline` when each side made every object at
    `born` (None: never) and filtered by `bounds` (default created[gt]=BOUND)."""

    def birth(recorded: str) -> tuple[float, float] | None:
        return None if born is None else (born, born + 0.02)

    filters = [("gt", BOUND)] if bounds is None else bounds
    edges = at_filter_edges(baseline, candidate, (filters, filters), (birth, birth), 5.0)
    differences = diff_responses("GET /v1/charges", baseline, candidate)
    explain_filter_edges(differences, edges)
    assert differences
    return [d.outcome for d in differences]


def test_an_object_made_at_the_filters_bound_on_the_side_that_left_it_out_is_noise() -> None:
    """Recorded 2.5 s apart, replayed in one second: `created[gt]=<the first's created>`
    left the second charge out of the target's list."""
    both = charges((FIRST, BOUND + 5), (SECOND, BOUND + 7))
    first = charges((FIRST, BOUND + 5))
    assert filtered(both, first, BOUND + 0.4) == ["noise"]
    assert filtered(first, both, BOUND + 0.4) == ["noise"]  # and the other way


def test_an_object_far_from_the_bound_unknown_or_never_made_stays_a_difference() -> None:
    both = charges((FIRST, BOUND + 5), (SECOND, BOUND + 7))
    first = charges((FIRST, BOUND + 5))
    assert filtered(both, first, BOUND - 60) == ["difference"]  # made long before
    assert filtered(both, first, None) == ["difference"]  # the target never made it
    assert filtered(both, first, BOUND + 0.4, []) == ["difference"]  # no created filter
    placeholder = charges((FIRST, BOUND + 5), ("<ch_1>", BOUND + 7))
    assert filtered(placeholder, first, BOUND + 0.4) == ["difference"]


def test_an_object_listed_against_its_own_sides_filter_stays_a_difference() -> None:
    """A target that reads `created[gt]` as `gte` lists the object made at the bound
    itself: a behaviour of the setup, not the pace."""
    at_the_bound = charges((FIRST, BOUND + 5), (SECOND, BOUND))
    assert filtered(charges((FIRST, BOUND + 5)), at_the_bound, BOUND + 0.4) == ["difference"]
    assert filtered(at_the_bound, charges((FIRST, BOUND + 5)), BOUND + 0.4) == ["difference"]
    kept = [("gte", BOUND)]
    assert filtered(charges((FIRST, BOUND + 5)), at_the_bound, BOUND + 0.4, kept) == ["noise"]


def test_created_bounds_are_read_from_a_query_whatever_its_brackets() -> None:
    assert created_bounds("customer=cus_X&created%5Bgt%5D=1796688124&limit=3") == [
        ("gt", 1796688124)
    ]
    assert created_bounds("created[lte]=1796688124&created[gte]=1796688000") == [
        ("lte", 1796688124),
        ("gte", 1796688000),
    ]
    assert created_bounds("created=1796688124&limit=3") == []
    assert created_bounds("metadata%5Bcreated%5D%5Bgt%5D=1796688124") == []


def _backend(api_base: str, api_key: str) -> int:
    """A backend that charges a customer twice, seconds apart, then lists the charges made
    after the first (as one that polls for new charges does)."""
    s = stripe.StripeClient(api_key, base_addresses={"api": api_base}).v1
    card = {"number": "4242424242424242", "exp_month": 4, "exp_year": 2036, "cvc": "271"}
    customer = s.customers.create({"source": s.tokens.create({"card": card}).id})
    first = s.charges.create({"amount": 1000, "currency": "usd", "customer": customer.id})
    time.sleep(2.5)  # the backend's own pace: its next order comes a little later
    s.charges.create({"amount": 2000, "currency": "usd", "customer": customer.id})
    s.charges.list({"customer": customer.id, "created": {"gt": first.created}})
    return 5


@pytest.mark.e2e
def test_a_list_filtered_from_an_objects_creation_replayed_faster_shows_no_difference(
    tmp_path: Path,
) -> None:
    """Replayed at full speed, both charges are made in one second, and the target's list
    leaves the second out: noise, with its reason. (In about one replay in twenty a
    second ticks between them, and both lists hold it: a match.)"""
    recording = tmp_path / "polling.jsonl"
    record_driver(recording, _backend, "polling")
    scenario = tmp_path / "polling.yaml"
    scenario.write_text(
        f"name: polling\nrecording: {recording}\nbaseline: recording\n"
        "targets:\n  - {name: target, launch: localstripe}\n"
    )
    result, summary = replay_and_compare(load_scenario(scenario), out=tmp_path / "run")
    target = summary["candidates"]["target"]
    assert target["outcomes"]["difference"] == target["outcomes"]["error"] == 0, target["groups"]
    outcomes = [json.loads(line) for line in (result.run_dir / "outcomes.jsonl").open()]
    listed = [o for o in outcomes if o["endpoint"] == "GET /v1/charges"]
    assert len(listed) == 1 and listed[0]["kind"] in ("match", "noise")
    if listed[0]["kind"] == "noise":
        assert {d["reason"] for d in listed[0]["differences"]} == {FILTER_NOISE}
