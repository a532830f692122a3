"""Causes: the object type and field a difference sits in, cascades of items that cannot
be paired, and rules, groups, the gate and old summaries acting on causes (plain data)."""

from __future__ import annotations

import copy
from typing import Any

from harness.compare.cause import UNPAIRED, cause_of
from harness.compare.classify import Classifier
from harness.compare.diff import diff_responses, diff_trees
from harness.compare.group import group_differences, group_id
from harness.compare.normalize import Normalized, normalize_tree
from harness.compare.rules import parse_compare_config
from harness.formats.summary import as_current
from harness.gate import GateConfig, apply_gate
from harness.model import Difference, Outcome

SUBSCRIPTION = {
    "id": "sub_Recorded00000001",
    "object": "subscription",
    "plan": {"id": "gold", "object": "plan", "amount": 1500},
    "quantity": 1,
    "items": {
        "object": "list",
        "data": [{"id": "si_Recorded000000001", "object": "subscription_item", "price": "gold"}],
        "has_more": False,
    },
}
KNOWN = {
    "sub_Recorded00000001": "sub_Recorded00000001",
    "si_Recorded000000001": "si_Recorded000000001",
}


def diff(endpoint: str, baseline: Any, candidate: Any) -> list[Difference]:
    return diff_trees(
        endpoint, normalize_tree(baseline, 0.0, KNOWN), normalize_tree(candidate, 0.0, KNOWN)
    )


def causes(differences: list[Difference]) -> list[str]:
    return sorted(cause_of(d).display for d in differences)


def test_a_field_is_its_innermost_objects_whatever_the_endpoint_and_path() -> None:
    changed = copy.deepcopy(SUBSCRIPTION)
    del changed["plan"]
    changed["items"]["data"][0]["price"] = "silver"
    direct = diff("POST /v1/subscriptions", SUBSCRIPTION, changed)
    listed = diff(
        "GET /v1/customers",
        {
            "object": "list",
            "data": [
                {
                    "id": "cus_1",
                    "object": "customer",
                    "subscriptions": {"object": "list", "data": [SUBSCRIPTION]},
                }
            ],
            "has_more": False,
        },
        {
            "object": "list",
            "data": [
                {
                    "id": "cus_1",
                    "object": "customer",
                    "subscriptions": {"object": "list", "data": [changed]},
                }
            ],
            "has_more": True,
        },
    )
    assert causes(direct) == ["subscription.plan removed", "subscription_item.price value changed"]
    # A list's own fields are its endpoint's: `has_more` is no object's.
    assert causes(listed) == [
        "GET /v1/customers $.has_more value changed",
        "subscription.plan removed",
        "subscription_item.price value changed",
    ]
    plan = {cause_of(d).id for d in direct + listed if d.field == "plan"}
    assert len(plan) == 1
    removed = next(d for d in direct if d.field == "plan")
    # The excerpt is the subscription around `plan`, not the whole answer.
    assert removed.excerpt == {
        "baseline": {
            "id": "sub_Recorded00000001",
            "object": "subscription",
            "plan": {"amount": 1500, "id": "gold", "object": "plan"},
            "quantity": 1,
        },
        "candidate": {"id": "sub_Recorded00000001", "object": "subscription", "quantity": 1},
    }


def test_an_error_answer_and_a_status_keep_the_endpoint_signature() -> None:
    ok = Normalized(200, {"id": "ch_1", "object": "charge"}, True, {})
    declined = Normalized(402, {"error": {"code": "card_declined"}}, True, {})
    other = Normalized(402, {"error": {"code": "expired_card"}}, True, {})
    status = diff_responses("POST /v1/charges", ok, declined)
    error = diff_responses("POST /v1/charges", declined, other)
    assert [(cause_of(d).display, cause_of(d).id) for d in status] == [
        ("POST /v1/charges $ error changed", group_id("POST /v1/charges", "$", "error"))
    ]
    assert causes(error) == ["POST /v1/charges $.error.code error changed"]


def event(number: int, kind: str, about: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"evt_1Nb{number}xYz4AbCdEfGh",
        "object": "event",
        "type": kind,
        "data": {"object": about},
        "request": {"id": None},
    }


def test_list_items_that_cannot_be_paired_are_one_cause() -> None:
    """Events no id map knows are paired by a guess; a guess that paired a charge's event
    with an invoice's makes every field inside them, `null → (absent)` included, one
    cause, not one row each."""
    charge = {"id": "ch_1Nb3xYz4AbCdEfGh", "object": "charge", "amount": 5, "failure_code": None}
    invoice = {"id": "in_1Nb3xYz4AbCdEfGh", "object": "invoice", "amount_paid": 5, "tax": None}
    customer = {"id": "cus_1", "object": "customer", "email": "a@example.com"}
    baseline = {
        "object": "list",
        "data": [event(1, "charge.succeeded", charge), event(2, "customer.created", customer)],
    }
    candidate = {
        "object": "list",
        "data": [event(3, "invoice.paid", invoice), event(4, "customer.created", customer)],
    }
    differences = diff("GET /v1/events", baseline, candidate)
    assert len(differences) > 3  # type, data.object.*, failure_code: null → (absent), ...
    assert set(causes(differences)) == {"event list items differ"}
    assert {cause_of(d).kind for d in differences} == {UNPAIRED}
    # The same customer's event, paired by the same guess, still shows its own field.
    other = copy.deepcopy(candidate)
    other["data"] = [
        event(1, "charge.succeeded", charge),
        event(4, "customer.created", {**customer, "email": "b@example.com"}),
    ]
    assert causes(diff("GET /v1/events", baseline, other)) == ["customer.email value changed"]
    # An item one side lacks is the same cascade.
    fewer = {"object": "list", "data": [event(2, "customer.created", customer)]}
    assert set(causes(diff("GET /v1/events", baseline, fewer))) == {"event list items differ"}


def test_a_caller_that_knows_the_object_names_it() -> None:
    found = Difference("webhook charge.succeeded", "$.amount", "value", 5, 6)
    assert cause_of(found).display == "webhook charge.succeeded $.amount value changed"
    assert cause_of(found, "charge").display == "charge.amount value changed"
    assert (
        cause_of(found, "charge", "amount").id
        == cause_of(
            Difference("POST /v1/charges", "$.amount", "value", owner="charge", field="amount")
        ).id
    )


def outcome(seq: int, journey: int, *differences: Difference) -> Outcome:
    return Outcome(
        seq, "cand", journey, differences[0].endpoint, "difference", "high", list(differences)
    )


def removed(endpoint: str, path: str, severity: str = "high") -> Difference:
    return Difference(
        endpoint, path, "removed", 1, None, severity, owner="subscription", field="plan"
    )


def test_one_group_per_cause_lists_where_it_was_seen() -> None:
    groups = group_differences(
        [
            outcome(1, 1, removed("POST /v1/subscriptions", "$.plan")),
            outcome(2, 1, removed("POST /v1/subscriptions", "$.plan")),
            outcome(
                3, 2, removed("GET /v1/customers", "$.data[].subscriptions.data[].plan", "critical")
            ),
        ]
    )
    assert len(groups) == 1
    data = groups[0].to_json()
    assert (data["cause"], data["count"], data["journeys"], data["severity"]) == (
        "subscription.plan removed",
        3,
        2,
        "critical",
    )
    assert data["endpoints"] == ["GET /v1/customers", "POST /v1/subscriptions"]
    assert [(p["endpoint"], p["count"], p["ids"]) for p in data["locations"]] == [
        ("POST /v1/subscriptions", 2, [group_id("POST /v1/subscriptions", "$.plan", "removed")]),
        (
            "GET /v1/customers",
            1,
            [group_id("GET /v1/customers", "$.data[].subscriptions.data[].plan", "removed")],
        ),
    ]
    assert (data["endpoint"], data["path"]) == ("POST /v1/subscriptions", "$.plan")


def test_rules_name_a_cause_or_a_place_and_both_keep_working() -> None:
    config = parse_compare_config(
        {
            "expect": [
                {"object": "subscription", "field": "plan", "kind": "removed", "reason": "basil"},
                {"endpoint": "POST /v1/customers", "path": "$.phone", "reason": "crm"},
                {"object": "event", "kind": "unpaired", "reason": "busy account"},
            ],
            "ignore": [{"object": "customer", "field": "metadata.*"}],
        },
        "s.yaml",
    )
    classifier = Classifier(config)
    plan = classifier.classify(removed("GET /v1/customers", "$.data[].subscriptions.data[].plan"))
    phone = classifier.classify(Difference("POST /v1/customers", "$.phone", "removed"))
    events = classifier.classify(
        Difference(
            "GET /v1/events",
            "$.data[].type",
            "value",
            owner="event",
            field="",
            cause_kind="unpaired",
        )
    )
    note = classifier.classify(
        Difference(
            "GET /v1/customers",
            "$.data[].metadata.note",
            "value",
            owner="customer",
            field="metadata.note",
        )
    )
    other = classifier.classify(
        Difference(
            "POST /v1/subscriptions",
            "$.quantity",
            "removed",
            owner="subscription",
            field="quantity",
        )
    )
    assert [d.outcome for d in (plan, phone, events, note, other)] == [
        "expected",
        "expected",
        "expected",
        "noise",
        "difference",
    ]


def version_1_summary(groups: list[tuple[str, str, str]]) -> dict[str, Any]:
    return {
        "version": 1,
        "baseline": "control",
        "candidates": {
            "cand": {
                "exchanges": 10,
                "outcomes": {"match": 9, "noise": 0, "expected": 0, "difference": 1, "error": 0},
                "severities": {"critical": 0, "high": 1, "medium": 0, "low": 0},
                "endpoints": {},
                "groups": [
                    {
                        "id": group_id(e, p, k),
                        "endpoint": e,
                        "path": p,
                        "kind": k,
                        "severity": "high",
                        "outcome": "difference",
                        "count": 1,
                        "samples": [1],
                    }
                    for e, p, k in groups
                ],
            }
        },
    }


def test_a_version_1_baseline_summary_still_knows_the_cause() -> None:
    old = as_current(version_1_summary([("POST /v1/subscriptions", "$.plan", "removed")]))
    assert old["candidates"]["cand"]["groups"][0]["cause"] == (
        "POST /v1/subscriptions $.plan removed"
    )
    groups = group_differences(
        [
            outcome(1, 1, removed("POST /v1/subscriptions", "$.plan")),
            outcome(2, 1, removed("GET /v1/customers", "$.data[].plan")),
        ]
    )
    new = {
        "candidates": {
            "cand": {
                "exchanges": 10,
                "outcomes": {"error": 0},
                "groups": [g.to_json() for g in groups],
            }
        }
    }
    verdict = apply_gate(new, GateConfig(fail_on="high"), old)  # type: ignore[arg-type]
    assert verdict.status == "passed" and len(verdict.candidates[0].known) == 1
    unknown = as_current(version_1_summary([("POST /v1/customers", "$.phone", "removed")]))
    assert apply_gate(new, GateConfig(fail_on="high"), unknown).status == "failed"  # type: ignore[arg-type]


def test_a_field_renamed_in_one_object_is_one_cause() -> None:
    customer = {"id": "cus_1", "object": "customer", "email": "jenny@example.com", "balance": 0}
    renamed = {
        "id": "cus_1",
        "object": "customer",
        "email_address": "jenny@example.com",
        "credit": 0,
    }
    listed = {"object": "list", "data": [customer], "has_more": False}
    listed_renamed = {"object": "list", "data": [renamed], "has_more": False}
    differences = diff("POST /v1/customers", customer, renamed) + diff(
        "GET /v1/customers", listed, listed_renamed
    )
    # The email moved with its value: one rename. `0` says nothing of where it came from,
    # so balance and credit stay a removal and an addition.
    assert set(causes(differences)) == {
        "customer.email renamed to email_address",
        "customer.balance removed",
        "customer.credit added",
    }
    classifier = Classifier(parse_compare_config({}, "s.yaml"))
    for difference in differences:
        classifier.classify(difference)
    groups = group_differences([outcome(1, 1, *differences[:3]), outcome(2, 2, *differences[3:])])
    rename = next(g for g in groups if g.cause.kind == "renamed")
    assert (rename.count, rename.severity, sorted(rename.locations)) == (
        2,
        "high",
        [
            ("GET /v1/customers", "$.data[].email"),
            ("GET /v1/customers", "$.data[].email_address"),
            ("POST /v1/customers", "$.email"),
            ("POST /v1/customers", "$.email_address"),
        ],
    )
