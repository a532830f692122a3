"""Normalisation on plain data: each rule on a hand-made answer, then properties."""

from __future__ import annotations

import json
import random
import string
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.compare.normalize import (
    ById,
    IdNamer,
    normalize_response,
    normalize_tree,
    parse_body,
    to_jsonable,
)
from harness.compare.profile import MASK, STRIPE_PROFILE, stripe_profile
from harness.compare.timemap import Moment
from harness.model import Response

T0 = 1_760_000_000.0


def answer(body: Any, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Response:
    text = body if isinstance(body, str) else json.dumps(body)
    return Response(status, headers or [("Content-Type", "application/json")], text)


# --- ids --------------------------------------------------------------------------------


def test_an_id_becomes_its_recorded_counterpart_on_each_side() -> None:
    baseline = {"id": "cus_Baseline000001", "object": "customer"}
    candidate = {"id": "cus_Candidate00001", "object": "customer"}
    nb = normalize_tree(baseline, T0, {"cus_Baseline000001": "cus_Recorded000001"})
    nc = normalize_tree(candidate, T0, {"cus_Candidate00001": "cus_Recorded000001"})
    assert nb == nc == {"id": "cus_Recorded000001", "object": "customer"}


def test_a_reference_to_the_same_object_compares_equal() -> None:
    charge_b = {"id": "ch_Bbbbbbbbbb0001", "object": "charge", "customer": "cus_Bbbbbbbbbb0001"}
    charge_c = {"id": "ch_Cccccccccc0001", "object": "charge", "customer": "cus_Cccccccccc0001"}
    nb = normalize_tree(charge_b, T0, {"cus_Bbbbbbbbbb0001": "cus_R000000001"})
    nc = normalize_tree(charge_c, T0, {"cus_Cccccccccc0001": "cus_R000000001"})
    assert nb["customer"] == nc["customer"] == "cus_R000000001"
    # The charge itself has no counterpart: a placeholder, the same on both sides.
    assert nb["id"] == nc["id"] == "<ch_1>"


def test_a_reference_to_another_object_differs() -> None:
    mapping = {"cus_Aaaaaaaaaa0001": "cus_R1", "cus_Aaaaaaaaaa0002": "cus_R2"}
    nb = normalize_tree({"customer": "cus_Aaaaaaaaaa0001"}, T0, mapping)
    nc = normalize_tree({"customer": "cus_Aaaaaaaaaa0002"}, T0, mapping)
    assert nb != nc


def test_placeholders_are_numbered_by_prefix_and_first_appearance() -> None:
    body = {
        "a": "pm_Xxxxxxxxxx0001",
        "b": "pm_Yyyyyyyyyy0002",
        "c": "pm_Xxxxxxxxxx0001",
        "d": "cus_Zzzzzzzzzz0003",
    }
    assert normalize_tree(body, T0, {}) == {
        "a": "<pm_1>",
        "b": "<pm_2>",
        "c": "<pm_1>",
        "d": "<cus_1>",
    }


def test_ids_inside_text_are_named_too() -> None:
    body = {"description": "Refund of ch_Abcdefgh1234 for cus_Abcdefgh1234"}
    named = normalize_tree(body, T0, {"cus_Abcdefgh1234": "cus_Recorded01"})
    assert named == {"description": "Refund of <ch_1> for cus_Recorded01"}


def test_words_shaped_like_ids_are_left_alone() -> None:
    body = {"status": "in_progress", "capability": "card_payments", "id": "plan_gold"}
    assert normalize_tree(body, T0, {}) == body


def test_a_user_chosen_id_is_mapped_when_the_id_map_knows_it() -> None:
    assert normalize_tree({"plan": "gold"}, T0, {"gold": "gold-recorded"}) == {
        "plan": "gold-recorded"
    }


def test_request_ids_are_never_object_ids() -> None:
    namer = IdNamer({})
    assert normalize_tree({"note": "see req_Abcdefgh12345"}, T0, {}, name=namer) == {
        "note": "see req_Abcdefgh12345"
    }


# --- timestamps -------------------------------------------------------------------------


def test_timestamps_become_offsets_from_their_own_request() -> None:
    profile = stripe_profile(timestamp_tolerance=2)
    nb = normalize_tree({"created": int(T0) + 1}, T0, {}, profile)
    nc = normalize_tree({"created": int(T0) + 101}, T0 + 100.5, {}, profile)
    assert isinstance(nb["created"], Moment)
    assert nb == nc


def test_timestamps_further_apart_than_the_tolerance_differ() -> None:
    profile = stripe_profile(timestamp_tolerance=2)
    nb = normalize_tree({"trial_end": int(T0) + 86_400}, T0, {}, profile)
    nc = normalize_tree({"trial_end": int(T0) + 2 * 86_400}, T0, {}, profile)
    assert nb != nc
    assert to_jsonable(nb) == {"trial_end": "<request+1d>"}


def test_any_numeric_at_field_is_a_timestamp_but_small_numbers_are_not() -> None:
    tree = normalize_tree(
        {"status_transitions": {"paid_at": int(T0)}, "start": 0, "refunded_at": None}, T0, {}
    )
    assert isinstance(tree["status_transitions"]["paid_at"], Moment)
    assert tree["start"] == 0
    assert tree["refunded_at"] is None


def test_the_scenario_adds_timestamp_fields() -> None:
    profile = stripe_profile(timestamps=["renews"])
    assert isinstance(normalize_tree({"renews": int(T0)}, T0, {}, profile)["renews"], Moment)


# --- masks ------------------------------------------------------------------------------


def test_volatile_fields_are_masked_but_a_missing_value_stays_null() -> None:
    body = {
        "client_secret": "pi_Abcdefgh1234_secret_Zz",
        "receipt_url": "https://pay.stripe.com/receipts/x",
        "fingerprint": "Xyz123",
        "hosted_invoice_url": None,
        "amount": 100,
    }
    assert normalize_tree(body, T0, {}) == {
        "client_secret": MASK,
        "receipt_url": MASK,
        "fingerprint": MASK,
        "hosted_invoice_url": None,
        "amount": 100,
    }


def test_fee_is_masked_only_inside_a_balance_transaction() -> None:
    txn = normalize_tree({"object": "balance_transaction", "fee": 59, "net": 941}, T0, {})
    other = normalize_tree({"object": "application_fee_refund", "fee": 59}, T0, {})
    assert txn["fee"] == MASK and txn["net"] == MASK
    assert other["fee"] == 59


def test_the_scenario_adds_masked_fields() -> None:
    assert normalize_tree({"nonce": "abc"}, T0, {}, stripe_profile(mask=["nonce"])) == {
        "nonce": MASK
    }


# --- lists ------------------------------------------------------------------------------


def test_lists_of_objects_with_ids_are_aligned_by_id() -> None:
    mapping = {f"card_Aaaaaaaaaa000{i}": f"card_R{i}" for i in range(3)}
    items = [{"id": f"card_Aaaaaaaaaa000{i}", "last4": str(4240 + i)} for i in range(3)]
    forward = normalize_tree({"data": items}, T0, mapping)
    backward = normalize_tree({"data": list(reversed(items))}, T0, mapping)
    assert isinstance(forward["data"], ById)
    assert forward == backward


def test_new_objects_listed_in_another_order_get_the_same_placeholders() -> None:
    # localstripe lists an invoice's lines in store order, which differs between two
    # targets when journeys run in parallel; line ids are new on each target.
    pro = {"id": "il_Aaaaaaaa0001", "amount": 2900, "description": "Pro"}
    seats = {"id": "il_Aaaaaaaa0002", "amount": 1200, "invoice_item": "ii_Aaaaaaaa0003"}
    pro_c = {**pro, "id": "il_Cccccccc0001"}
    seats_c = {**seats, "id": "il_Cccccccc0002", "invoice_item": "ii_Cccccccc0003"}
    baseline = normalize_tree({"lines": {"data": [pro, seats]}}, T0, {})
    candidate = normalize_tree({"lines": {"data": [seats_c, pro_c]}}, T0, {})
    assert baseline == candidate
    by_amount = {line["amount"]: line for line in candidate["lines"]["data"].values()}
    assert by_amount[1200]["invoice_item"] == "<ii_1>"


def test_lists_without_ids_stay_positional() -> None:
    tree = normalize_tree({"payment_method_types": ["card", "link"]}, T0, {})
    assert tree["payment_method_types"] == ["card", "link"]
    assert normalize_tree({"x": ["link", "card"]}, T0, {}) != normalize_tree(
        {"x": ["card", "link"]}, T0, {}
    )


def _invoice(identity: str, charge: str, customer: str) -> dict[str, Any]:
    return {"id": identity, "object": "invoice", "charge": charge, "customer": customer}


def test_an_item_only_one_page_holds_does_not_rename_the_unknown_ids_of_the_others() -> None:
    # Two unchanged twins' `GET /v1/invoices?limit=3`: the window's edge fell elsewhere
    # (compare.windows), so each page holds one invoice the other does not, ahead of the
    # shared ones. The invoices' charges were never in the recording: no id map knows
    # them, and numbered across the page they would shift by one in every later item.
    baseline = [
        _invoice("in_Bbbbbbbbbb0001", "ch_Bbbbbbbbbb0001", "cus_Bbbbbbbbbb0001"),
        _invoice("in_Bbbbbbbbbb0009", "ch_Bbbbbbbbbb0009", "cus_Bbbbbbbbbb0009"),
        _invoice("in_Bbbbbbbbbb0002", "ch_Bbbbbbbbbb0002", "cus_Bbbbbbbbbb0001"),
    ]
    candidate = [
        _invoice("in_Cccccccccc0001", "ch_Cccccccccc0001", "cus_Cccccccccc0001"),
        _invoice("in_Cccccccccc0002", "ch_Cccccccccc0002", "cus_Cccccccccc0001"),
        _invoice("in_Cccccccccc0008", "ch_Cccccccccc0008", "cus_Cccccccccc0008"),
    ]
    known_b = {"in_Bbbbbbbbbb0001": "in_R1", "in_Bbbbbbbbbb0002": "in_R2"}
    known_b["in_Bbbbbbbbbb0009"] = "in_R9"
    known_c = {"in_Cccccccccc0001": "in_R1", "in_Cccccccccc0002": "in_R2"}
    known_c["in_Cccccccccc0008"] = "in_R8"
    ours = normalize_tree({"object": "list", "data": baseline}, T0, known_b)["data"]
    theirs = normalize_tree({"object": "list", "data": candidate}, T0, known_c)["data"]
    assert ours["in_R1"] == theirs["in_R1"]
    assert ours["in_R2"] == theirs["in_R2"]
    assert ours["in_R2"]["charge"] == "<ch_1 of in_R2>"
    # Both invoices of one unknown customer still say so, on both sides.
    assert ours["in_R2"]["customer"] == ours["in_R1"]["customer"] == "<cus_1 of in_R1>"
    assert ours["in_R9"]["customer"] != ours["in_R1"]["customer"]


def test_a_list_with_a_repeated_id_stays_positional() -> None:
    items = [{"id": "card_Aaaaaaaaaa0001"}, {"id": "card_Aaaaaaaaaa0001"}]
    assert isinstance(normalize_tree({"data": items}, T0, {})["data"], list)


# --- whole responses --------------------------------------------------------------------


def test_an_error_is_compared_on_type_code_decline_code_and_param_only() -> None:
    error_b = {
        "error": {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "generic_decline",
            "message": "Your card was declined.",
            "doc_url": "https://stripe.com/docs/a",
            "request_log_url": "https://dashboard.stripe.com/logs/req_1",
        }
    }
    error_c = {
        "error": {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "generic_decline",
            "message": "Declined!",
        }
    }
    nb = normalize_response(answer(error_b, 402), T0, {})
    nc = normalize_response(answer(error_c, 402), T0, {})
    assert nb == nc
    assert nb.body == {
        "error": {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "generic_decline",
            "param": None,
        }
    }
    assert nb.is_error


def test_a_non_json_body_is_compared_as_text() -> None:
    normalized = normalize_response(
        answer("Not Found", 404, [("Content-Type", "text/plain")]), T0, {}
    )
    assert normalized.is_json is False
    assert normalized.body == "Not Found"
    assert parse_body("{not json") == ("{not json", False)


def test_only_the_chosen_headers_are_kept_lowercased() -> None:
    headers = [
        ("Content-Type", "application/json;  Charset=UTF-8"),
        ("Request-Id", "req_1"),
        ("Date", "Mon, 01 Jan 2026 00:00:00 GMT"),
        ("Stripe-Version", "2026-10-28.endive"),
    ]
    default = normalize_response(answer({}, headers=headers), T0, {})
    assert default.headers == {"content-type": "application/json; charset=utf-8"}
    chosen = normalize_response(
        answer({}, headers=headers), T0, {}, stripe_profile(headers=["Stripe-Version"])
    )
    assert chosen.headers == {"stripe-version": "2026-10-28.endive"}


# --- properties -------------------------------------------------------------------------

_ALNUM = string.ascii_letters + string.digits
_prefixes = st.sampled_from(["cus", "pi", "ch", "pm", "sub", "in", "txn"])
_generated_id = st.builds(
    lambda prefix, tail: f"{prefix}_{tail}1",  # the digit makes it look generated
    _prefixes,
    st.text(_ALNUM, min_size=10, max_size=14),
)
_keys = st.sampled_from(
    ["amount", "currency", "customer", "status", "metadata", "name", "note", "source"]
)
_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-1000, 1000),
    st.sampled_from(["usd", "succeeded", "in_progress"]),
    _generated_id,
)


def _objects(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.dictionaries(_keys, children, max_size=4),
            st.lists(
                st.fixed_dictionaries({"id": _generated_id, "amount": st.integers(0, 99)}),
                max_size=3,
                unique_by=lambda item: item["id"],
            ),
        ),
        max_leaves=12,
    )


def _ids_in(tree: Any) -> list[str]:
    if isinstance(tree, dict):
        return [i for value in tree.values() for i in _ids_in(value)]
    if isinstance(tree, list):
        return [i for value in tree for i in _ids_in(value)]
    return [tree] if isinstance(tree, str) and tree[-1:] == "1" and "_" in tree else []


def _rename(tree: Any, renames: dict[str, str]) -> Any:
    if isinstance(tree, dict):
        return {key: _rename(value, renames) for key, value in tree.items()}
    if isinstance(tree, list):
        return [_rename(value, renames) for value in tree]
    return renames.get(tree, tree) if isinstance(tree, str) else tree


def _fresh_ids(ids: list[str], seed: int) -> dict[str, str]:
    rng = random.Random(seed)
    return {
        i: i.split("_")[0] + "_" + "".join(rng.choice(_ALNUM) for _ in range(12)) + "9"
        for i in set(ids)
    }


@given(_objects(_leaves), st.integers())
@settings(max_examples=150)
def test_consistently_renamed_ids_normalise_alike_without_an_id_map(tree: Any, seed: int) -> None:
    renames = _fresh_ids(_ids_in(tree), seed)
    assert normalize_tree(_rename(tree, renames), T0, {}) == normalize_tree(tree, T0, {})


@given(_objects(_leaves), st.integers())
@settings(max_examples=150)
def test_renamed_ids_normalise_to_their_counterparts_through_the_id_maps(
    tree: Any, seed: int
) -> None:
    renames = _fresh_ids(_ids_in(tree), seed)
    baseline_side = {i: i for i in renames}
    candidate_side = {new: old for old, new in renames.items()}
    assert normalize_tree(_rename(tree, renames), T0, candidate_side) == normalize_tree(
        tree, T0, baseline_side
    )


@given(_objects(_leaves), st.randoms(use_true_random=False))
@settings(max_examples=150)
def test_order_of_keys_and_of_objects_with_ids_does_not_matter(
    tree: Any, rng: random.Random
) -> None:
    def shuffle(node: Any) -> Any:
        if isinstance(node, dict):
            items = [(k, shuffle(v)) for k, v in node.items()]
            rng.shuffle(items)
            return dict(items)
        if isinstance(node, list):
            items = [shuffle(v) for v in node]
            if all(isinstance(v, dict) and "id" in v for v in items):
                rng.shuffle(items)
            return items
        return node

    counterparts = {i: i for i in _ids_in(tree)}  # known ids: placeholders' order is moot
    assert normalize_tree(shuffle(tree), T0, counterparts) == normalize_tree(tree, T0, counterparts)


@given(
    st.dictionaries(
        st.sampled_from(["created", "canceled_at", "period_end", "expires_at"]),
        st.integers(0, 10_000_000),
        min_size=1,
    ),
    st.floats(-1e6, 1e6),
)
def test_shifting_a_request_and_its_timestamps_together_changes_nothing(
    offsets: dict[str, int], shift: float
) -> None:
    tree = {key: int(T0) + value for key, value in offsets.items()}
    moved = {key: value + int(shift) for key, value in tree.items()}
    assert normalize_tree(moved, T0 + int(shift), {}) == normalize_tree(tree, T0, {})


@given(_objects(_leaves))
def test_normalised_trees_are_plain_json_after_to_jsonable(tree: Any) -> None:
    plain = to_jsonable(normalize_tree(tree, T0, {}))
    assert json.loads(json.dumps(plain)) == plain


@given(
    st.lists(
        st.tuples(_generated_id, _generated_id), min_size=1, max_size=5, unique_by=lambda p: p[0]
    ),
    st.randoms(use_true_random=False),
)
def test_new_objects_with_distinct_content_align_whatever_their_order(
    pairs: list[tuple[str, str]], rng: random.Random
) -> None:
    items = [{"id": oid, "amount": n, "source": ref} for n, (oid, ref) in enumerate(pairs)]
    shuffled = list(items)
    rng.shuffle(shuffled)
    renamed = _rename(shuffled, _fresh_ids(_ids_in(items), rng.randint(0, 10**6)))
    assert normalize_tree({"data": renamed}, T0, {}) == normalize_tree({"data": items}, T0, {})


# --- what the catalogue of the answer's API version knows ----------------------------------

_DAY = 86_400
BASIL = STRIPE_PROFILE.for_version("2025-03-31.basil")


def test_a_time_known_only_to_the_catalogue_compares_as_a_time() -> None:
    """A coupon's `redeem_by` and a dispute's `evidence_details.due_by` are neither named
    like times nor in harness.stripe's list: by names alone, a replay 40 days after the
    recording differs in both; with the catalogue of the answers' version they are times
    as far from their requests on both sides, so nothing differs."""
    profile = stripe_profile()
    for name in ("redeem_by", "due_by"):
        assert name not in profile.timestamps and not name.endswith("_at")

    def answers(start: float) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {
                    "object": "coupon",
                    "id": "spring",
                    "created": start,
                    "redeem_by": start + 30 * _DAY,
                },
                {
                    "object": "dispute",
                    "id": "dp_Recorded00000001",
                    "created": start,
                    "evidence_details": {"due_by": start + 9 * _DAY, "submission_count": 0},
                },
            ],
        }

    later = T0 + 40 * _DAY
    recorded, replayed = answers(T0), answers(later)
    assert normalize_tree(recorded, T0, {}) != normalize_tree(replayed, later, {})
    assert normalize_tree(recorded, T0, {}, BASIL) == normalize_tree(replayed, later, {}, BASIL)


def test_a_reference_and_an_id_of_prefixes_no_table_lists_are_named_as_ids() -> None:
    """`prv_` (a review) and `fca_` (a Financial Connections account) are in no hand-written
    table: the catalogue knows `charge.review` is a reference and `fca` an id prefix."""
    mapping = {"prv_Baseline000001": "prv_Recorded000001"}

    def charge(review: str, account: str) -> dict[str, Any]:
        return {
            "object": "charge",
            "id": "ch_Recorded00000001",
            "review": review,
            "source": {"object": "financial_connections.account", "id": account},
        }

    baseline = charge("prv_Baseline000001", "fca_Baseline000001")
    candidate = charge("prv_Recorded000001", "fca_Candidate00001")
    without = normalize_tree(baseline, T0, mapping), normalize_tree(candidate, T0, {})
    assert without[0] != without[1]
    nb = normalize_tree(baseline, T0, mapping, BASIL)
    recorded = {"prv_Recorded000001": "prv_Recorded000001"}
    nc = normalize_tree(candidate, T0, recorded, BASIL)
    assert nb == nc
    assert nb["review"] == "prv_Recorded000001" and nb["source"]["id"] == "<fca_1>"
