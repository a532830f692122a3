"""Grouping differences by signature and summarising a candidate, on hand-made outcomes."""

from __future__ import annotations

import hashlib

from harness.compare.group import group_differences, group_id
from harness.compare.summary import CandidateSummary, error_message
from harness.model import Difference, Outcome

CONFIRM = "POST /v1/payment_intents/{payment_intent}/confirm"
CUSTOMER = "GET /v1/customers/{customer}"


def outcome(
    seq: int,
    journey: int,
    *differences: Difference,
    kind: str = "difference",
    severity: str | None = "medium",
    endpoint: str = CUSTOMER,
) -> Outcome:
    return Outcome(seq, "cand", journey, endpoint, kind, severity, list(differences))


def d(
    path: str,
    kind: str = "value",
    endpoint: str = CUSTOMER,
    outcome: str = "difference",
    severity: str = "medium",
    baseline: object = 1,
    candidate: object = 2,
) -> Difference:
    return Difference(endpoint, path, kind, baseline, candidate, severity, outcome)


def test_one_group_per_signature_with_counts_journeys_and_samples() -> None:
    outcomes = [
        outcome(10, 1, d("$.email", baseline="a@x", candidate="b@x")),
        outcome(11, 1, d("$.email")),
        outcome(12, 2, d("$.email"), d("$.email", kind="removed", severity="high")),
        outcome(13, 3, d("$.email")),
    ]
    groups = group_differences(outcomes, samples=2)
    by_signature = {(g.path, g.kind): g for g in groups}
    value = by_signature[("$.email", "value")]
    assert (value.count, len(value.journeys), value.samples) == (4, 3, [10, 11])
    assert value.example == {"seq": 10, "baseline": "a@x", "candidate": "b@x"}
    assert by_signature[("$.email", "removed")].count == 1


def test_a_field_differing_in_every_item_counts_the_exchange_once() -> None:
    groups = group_differences([outcome(1, 1, d("$.data[].amount"), d("$.data[].amount"))])
    assert (groups[0].count, groups[0].occurrences, groups[0].samples) == (1, 2, [1])


def test_the_group_id_is_a_stable_hash_of_the_signature() -> None:
    assert group_id(CUSTOMER, "$.email", "value") == group_id(CUSTOMER, "$.email", "value")
    assert group_id(CUSTOMER, "$.email", "value") != group_id(CUSTOMER, "$.email", "removed")
    # The documented definition (docs/summary-format.md): other tools may recompute it.
    signature = "GET /v1/customers/{customer}\n$.email\nvalue"
    expected = hashlib.sha256(signature.encode()).hexdigest()[:10]
    assert group_id("GET /v1/customers/{customer}", "$.email", "value") == expected
    assert len(group_id(CONFIRM, "$", "error")) == 10


def test_groups_are_ordered_real_then_expected_then_noise_severe_and_frequent_first() -> None:
    outcomes = [
        outcome(1, 1, d("$.n", outcome="noise"), d("$.e", outcome="expected")),
        outcome(2, 1, d("$.low", kind="added", severity="low"), d("$.med")),
        outcome(3, 2, d("$.med"), d("$", kind="error", severity="critical", endpoint=CONFIRM)),
    ]
    assert [g.path for g in group_differences(outcomes)] == ["$", "$.med", "$.low", "$.e", "$.n"]


def test_a_group_carries_the_outcome_and_reason_of_its_differences() -> None:
    expected = Difference(
        CUSTOMER, "$.balance", "added", None, 0, "low", "expected", "renamed in 2019"
    )
    group = group_differences([outcome(5, 1, expected, kind="expected", severity=None)])[0]
    data = group.to_json()
    assert (data["outcome"], data["reason"], data["severity"]) == (
        "expected",
        "renamed in 2019",
        "low",
    )
    assert set(data) >= {
        "id",
        "endpoint",
        "path",
        "kind",
        "severity",
        "count",
        "journeys",
        "outcome",
        "samples",
        "example",
    }


def test_a_candidate_summary_counts_outcomes_severities_endpoints_and_errors() -> None:
    summary = CandidateSummary(samples=1)
    summary.add(outcome(1, 1, kind="match", severity=None))
    summary.add(
        outcome(2, 1, d("$", kind="error", endpoint=CONFIRM), severity="critical", endpoint=CONFIRM)
    )
    summary.add(outcome(3, 2, d("$.a", outcome="noise"), kind="noise", severity=None))
    failed = Outcome(
        4, "cand", 2, CUSTOMER, "error", None, [], "skipped: unresolved cus_Abcdefgh1234"
    )
    summary.add(failed)
    summary.add(
        Outcome(5, "cand", 3, CUSTOMER, "error", None, [], "skipped: unresolved cus_Zyxwvuts9876")
    )
    data = summary.to_json()
    assert data["exchanges"] == 5
    assert data["outcomes"] == {"match": 1, "noise": 1, "expected": 0, "difference": 1, "error": 2}
    assert data["severities"] == {"critical": 1, "high": 0, "medium": 0, "low": 0}
    assert data["endpoints"] == {
        CONFIRM: {"difference": 1},
        CUSTOMER: {"match": 1, "noise": 1, "error": 2},
    }
    # One group for both ids; shown with the first one cut to its prefix and last
    # characters, so a reader can find it.
    assert data["errors"] == ["skipped: unresolved cus_…1234"]
    assert data["error_groups"] == [
        {"message": "skipped: unresolved cus_…1234", "count": 2, "samples": [4]}
    ]
    assert [(g["path"], g["outcome"]) for g in data["groups"]] == [
        ("$", "difference"),
        ("$.a", "noise"),
    ]


def test_error_messages_group_without_their_ids() -> None:
    assert error_message("  no such customer: 'cus_Abcdefgh1234'\n") == "no such customer: '<cus>'"
