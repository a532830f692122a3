"""Diffs of normalised answers on hand-made pairs: kinds, paths, values, status rules."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from harness.compare.diff import REORDERED_NOISE, diff_responses, diff_trees, json_path
from harness.compare.normalize import ById, normalize_response, normalize_tree
from harness.model import Difference, Response

T0 = 1_760_000_000.0
EP = "GET /v1/customers/{customer}"


def norm(body: Any, status: int = 200, started: float = T0, content_type: str = "application/json"):
    text = body if isinstance(body, str) else json.dumps(body)
    return normalize_response(Response(status, [("Content-Type", content_type)], text), started, {})


def rows(differences: list[Difference]) -> list[tuple[str, str, Any, Any]]:
    return [(d.path, d.kind, d.baseline, d.candidate) for d in differences]


def test_equal_answers_have_no_differences() -> None:
    body = {"id": "cus_Abcdefgh1234", "object": "customer", "balance": 0}
    assert diff_responses(EP, norm(body), norm(body)) == []


def test_a_removed_field() -> None:
    found = diff_responses(EP, norm({"balance": 0, "email": "a@b.c"}), norm({"balance": 0}))
    assert rows(found) == [("$.email", "removed", "a@b.c", None)]
    assert found[0].endpoint == EP


def test_an_added_field() -> None:
    assert rows(diff_responses(EP, norm({"a": 1}), norm({"a": 1, "tax": {"rate": 5}}))) == [
        ("$.tax", "added", None, {"rate": 5})
    ]


def test_a_changed_type() -> None:
    assert rows(diff_responses(EP, norm({"amount": 100}), norm({"amount": "100"}))) == [
        ("$.amount", "type", 100, "100")
    ]


def test_a_changed_value_deep_down() -> None:
    baseline = {"invoice_settings": {"footer": {"text": "thanks"}}}
    candidate = {"invoice_settings": {"footer": {"text": "thank you"}}}
    assert rows(diff_responses(EP, norm(baseline), norm(candidate))) == [
        ("$.invoice_settings.footer.text", "value", "thanks", "thank you")
    ]


def test_null_versus_a_value_is_a_value_change_not_a_type_change() -> None:
    found = diff_responses(EP, norm({"default_source": None}), norm({"default_source": "abc"}))
    assert rows(found) == [("$.default_source", "value", None, "abc")]


def test_an_integer_equal_to_a_float_is_no_difference() -> None:
    assert diff_responses(EP, norm({"percent_off": 25}), norm({"percent_off": 25.0})) == []
    assert rows(diff_responses(EP, norm({"percent_off": 25}), norm({"percent_off": 25.5}))) == [
        ("$.percent_off", "value", 25, 25.5)
    ]


def test_a_path_through_a_list_aligned_by_id_is_written_with_brackets() -> None:
    baseline = {
        "data": [
            {"id": "card_Aaaaaaaa0001", "last4": "4242"},
            {"id": "card_Aaaaaaaa0002", "last4": "1881"},
        ]
    }
    candidate = {
        "data": [
            {"id": "card_Aaaaaaaa0002", "last4": "1881"},
            {"id": "card_Aaaaaaaa0001", "last4": "0000"},
        ]
    }
    mapping = {"card_Aaaaaaaa0001": "card_R1", "card_Aaaaaaaa0002": "card_R2"}
    found = diff_trees(
        EP, normalize_tree(baseline, T0, mapping), normalize_tree(candidate, T0, mapping)
    )
    assert rows(found) == [("$.data[].last4", "value", "4242", "0000")]


def test_an_object_missing_from_an_aligned_list_is_removed_at_the_list() -> None:
    mapping = {"card_Aaaaaaaa0001": "card_R1", "card_Aaaaaaaa0002": "card_R2"}
    baseline = normalize_tree(
        {"data": [{"id": "card_Aaaaaaaa0001"}, {"id": "card_Aaaaaaaa0002"}]}, T0, mapping
    )
    candidate = normalize_tree({"data": [{"id": "card_Aaaaaaaa0001"}]}, T0, mapping)
    assert rows(diff_trees(EP, baseline, candidate)) == [
        ("$.data[]", "removed", {"id": "card_R2"}, None)
    ]


def test_an_empty_list_gaining_its_first_object_is_an_addition_not_a_type_change() -> None:
    baseline = normalize_tree({"data": []}, T0, {})
    candidate = normalize_tree({"data": [{"id": "card_Aaaaaaaa0001", "last4": "4242"}]}, T0, {})
    assert isinstance(candidate["data"], ById)
    assert rows(diff_trees(EP, baseline, candidate)) == [
        ("$.data[]", "added", None, {"id": "<card_1>", "last4": "4242"})
    ]


def test_positional_lists_keep_their_positions_in_the_path() -> None:
    found = diff_trees(EP, {"types": ["card", "link"]}, {"types": ["card", "sepa_debit", "link"]})
    assert rows(found) == [("$.types[1]", "added", None, "sepa_debit")]
    found = diff_trees(EP, {"types": ["card", "link"]}, {"types": ["card", "sepa"]})
    assert rows(found) == [("$.types[1]", "value", "link", "sepa")]


def test_keys_that_are_not_plain_names_are_quoted() -> None:
    found = diff_trees(EP, {"metadata": {"order.id": "1"}}, {"metadata": {"order.id": "2"}})
    assert rows(found) == [('$.metadata["order.id"]', "value", "1", "2")]


def test_timestamps_within_tolerance_are_equal_and_beyond_it_differ() -> None:
    near = diff_responses(
        EP, norm({"created": int(T0)}), norm({"created": int(T0) + 3}, started=T0 + 1)
    )
    assert near == []
    far = diff_responses(EP, norm({"created": int(T0)}), norm({"created": int(T0) + 60}))
    assert rows(far) == [("$.created", "value", "<request+0s>", "<request+1m>")]


def test_a_success_that_became_an_error_is_one_critical_cause_whatever_the_bodies() -> None:
    declined = {"error": {"type": "card_error", "code": "card_declined"}}
    found = diff_responses(
        EP, norm({"id": "pi_Abcdefgh1234", "status": "succeeded"}), norm(declined, 402)
    )
    assert rows(found) == [("$", "error", 200, 402)]
    assert rows(diff_responses(EP, norm(declined, 402), norm({"ok": True}))) == [
        ("$", "error", 402, 200)
    ]


def test_a_status_change_within_success_or_within_errors_is_a_status_difference() -> None:
    assert rows(diff_responses(EP, norm({"a": 1}), norm({"a": 1}, 201))) == [
        ("$", "status", 200, 201)
    ]
    error = {"error": {"type": "invalid_request_error"}}
    assert rows(diff_responses(EP, norm(error, 400), norm(error, 404))) == [
        ("$", "status", 400, 404)
    ]


def test_between_two_errors_a_changed_code_is_an_error_difference() -> None:
    baseline = norm({"error": {"type": "card_error", "code": "card_declined", "message": "a"}}, 402)
    candidate = norm({"error": {"type": "card_error", "code": "expired_card", "message": "b"}}, 402)
    assert rows(diff_responses(EP, baseline, candidate)) == [
        ("$.error.code", "error", "card_declined", "expired_card")
    ]


def test_text_bodies_are_compared_as_text() -> None:
    same = diff_responses(
        EP,
        norm("Not Found", 404, content_type="text/plain"),
        norm("Not Found", 404, content_type="text/plain"),
    )
    assert same == []
    other = diff_responses(
        EP,
        norm("Not Found", 404, content_type="text/plain"),
        norm("Gone away", 404, content_type="text/plain"),
    )
    assert [(d.path, d.kind) for d in other] == [("$", "value")]


def test_json_against_text_is_a_type_difference() -> None:
    found = diff_responses(EP, norm({"a": 1}), norm("a=1"))
    assert [(d.path, d.kind, d.candidate) for d in found] == [("$", "type", "a=1")]


def test_a_compared_header_that_changes_is_a_difference() -> None:
    found = diff_responses(EP, norm({}), norm({}, content_type="text/html"))
    assert rows(found) == [("headers.content-type", "value", "application/json", "text/html")]


def test_json_path_of_the_root() -> None:
    assert json_path([], {}, {}) == "$"


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from(["a", "b", "in_progress"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from("abcd"), children, max_size=3)
    ),
    max_leaves=10,
)


@given(_json)
def test_a_tree_never_differs_from_itself(tree: Any) -> None:
    normalized = normalize_tree(tree, T0, {})
    assert diff_trees(EP, normalized, normalized) == []


@given(_json, _json)
def test_two_trees_differ_exactly_when_they_are_unequal(a: Any, b: Any) -> None:
    na, nb = normalize_tree({"x": a}, T0, {}), normalize_tree({"x": b}, T0, {})
    found = diff_trees(EP, na, nb)
    if na == nb:
        assert found == []
    else:
        assert found
        assert all(d.path.startswith("$.x") for d in found)


def _tax(amount: int) -> dict[str, Any]:
    return {"amount": amount, "inclusive": False, "tax_rate": "txr_Vat20percent"}


def test_objects_without_ids_in_another_order_are_noise_with_the_reason() -> None:
    """An invoice's total_tax_amounts follow its lines, which localstripe orders by their
    creation second: two unchanged targets list the same amounts in another order."""
    invoice = {"id": "in_Abcdefgh1234", "object": "invoice", "total": 3000}
    ours = normalize_tree(
        {**invoice, "total_tax_amounts": [_tax(900), _tax(60), _tax(-600)]}, T0, {}
    )
    theirs = normalize_tree(
        {**invoice, "total_tax_amounts": [_tax(900), _tax(-600), _tax(60)]}, T0, {}
    )
    (found,) = diff_trees("POST /v1/invoices", ours, theirs)
    assert (found.path, found.kind, found.outcome) == ("$.total_tax_amounts", "value", "noise")
    assert found.reason == REORDERED_NOISE
    assert (found.owner, found.field) == ("invoice", "total_tax_amounts")
    assert [tax["amount"] for tax in found.candidate] == [900, -600, 60]

    # A list that differs in more than its order is compared by position: real.
    changed = normalize_tree(
        {**invoice, "total_tax_amounts": [_tax(900), _tax(-600), _tax(61)]}, T0, {}
    )
    assert [(d.path, d.outcome) for d in diff_trees("POST /v1/invoices", ours, changed)] == [
        ("$.total_tax_amounts[1].amount", "difference"),
        ("$.total_tax_amounts[2].amount", "difference"),
    ]


def test_plain_values_in_another_order_stay_a_difference() -> None:
    found = diff_trees(EP, {"types": ["card", "link"]}, {"types": ["link", "card"]})
    assert {(d.path, d.outcome) for d in found} == {
        ("$.types[0]", "difference"),
        ("$.types[1]", "difference"),
    }


_items = st.lists(
    st.fixed_dictionaries({"amount": st.integers(-3, 3), "inclusive": st.booleans()}),
    min_size=2,
    max_size=6,
)


@given(_items, st.randoms(use_true_random=False), st.sampled_from(["list", "nested"]))
def test_a_reordered_list_of_objects_without_ids_is_only_noise(
    items: list[dict[str, Any]], shuffler: Any, where: str
) -> None:
    shuffled = list(items)
    shuffler.shuffle(shuffled)

    def tree(taxes: list[dict[str, Any]]) -> Any:
        invoice = {"object": "invoice", "id": "in_Abcdefgh1234", "total_tax_amounts": taxes}
        return {"lines": [{"data": invoice}]} if where == "nested" else invoice

    ours, theirs = normalize_tree(tree(items), T0, {}), normalize_tree(tree(shuffled), T0, {})
    found = diff_trees(EP, ours, theirs)
    if items == shuffled:
        assert found == []
    else:
        assert [(d.kind, d.outcome, d.reason) for d in found] == [
            ("value", "noise", REORDERED_NOISE)
        ]

    # One amount more: never noise.
    grown = normalize_tree(tree([*shuffled[:-1], {**shuffled[-1], "amount": 4}]), T0, {})
    assert any(d.outcome == "difference" for d in diff_trees(EP, ours, grown))
