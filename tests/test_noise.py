"""Diffy's noise rule on hand-made pairs: baseline, candidate and secondary answers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness.compare.classify import Classifier, NoiseCounts
from harness.compare.diff import diff_responses
from harness.compare.noise import FieldCounts, is_real_difference, judge_noise
from harness.compare.normalize import normalize_response
from harness.compare.rules import parse_compare_config
from harness.model import Difference, Response

T0 = 1_760_000_000.0
EP = "POST /v1/customers"


def answer(body: dict[str, Any]) -> Response:
    return Response(200, [("Content-Type", "application/json")], json.dumps(body))


def differences(baseline: dict[str, Any], other: dict[str, Any]) -> list[Difference]:
    return diff_responses(
        EP,
        normalize_response(answer(baseline), T0, {}),
        normalize_response(answer(other), T0, {}),
    )


def counts_of(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> FieldCounts:
    counts = FieldCounts()
    for baseline, other in pairs:
        counts.add(EP, differences(baseline, other))
    return counts


# --- Diffy's filter on rates --------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "noise", "real"),
    [
        (50.0, 50.0, False),  # the same rate: noise
        (50.0, 45.0, False),  # 5 / 95 = 5.3 % relative: under 20 %
        (50.0, 30.0, True),  # 20 / 80 = 25 % relative, 20 points absolute
        (100.0, 0.0, True),  # the secondary never differs
        (10.0, 40.0, False),  # the candidate differs less often than the secondary
        (0.02, 0.0, False),  # 100 % relative but only 0.02 % of exchanges: under 0.03
        (0.05, 0.0, True),
    ],
)
def test_diffy_filter_on_rates(raw: float, noise: float, real: bool) -> None:
    assert is_real_difference(raw, noise, relative=20.0, absolute=0.03) is real


def test_thresholds_are_settable() -> None:
    assert is_real_difference(50.0, 45.0, relative=20.0, absolute=0.03) is False
    assert is_real_difference(50.0, 45.0, relative=5.0, absolute=0.03) is True
    assert is_real_difference(50.0, 30.0, relative=20.0, absolute=25.0) is False


# --- counting fields ----------------------------------------------------------------------


def test_field_counts_count_exchanges_not_occurrences() -> None:
    counts = FieldCounts()
    counts.add(EP, [Difference(EP, "$.a", "value"), Difference(EP, "$.a", "type")])
    counts.add(EP, [])
    counts.add(EP, [Difference(EP, "$.b", "removed")])
    counts.add(EP, [Difference(EP, "$.a", "value")])
    assert counts.totals[EP] == 4
    assert counts.rate(EP, "$.a") == 50.0
    assert counts.rate(EP, "$.b") == 25.0
    assert counts.rate("GET /v1/other", "$.a") == 0.0


# --- judging one difference ---------------------------------------------------------------


def _random_looking(i: int) -> dict[str, Any]:
    # A field the target itself sets anew on every answer (a nonce, a shuffled order).
    return {"name": "Jenny", "nonce": f"n{i}"}


def test_a_field_that_also_differs_between_baseline_and_secondary_is_noise() -> None:
    baseline = [_random_looking(i) for i in range(10)]
    secondary = [_random_looking(i + 100) for i in range(10)]
    candidate = [_random_looking(i + 200) for i in range(10)]
    raw = counts_of(list(zip(baseline, candidate, strict=True)))
    noise = counts_of(list(zip(baseline, secondary, strict=True)))
    found = differences(baseline[0], candidate[0])
    assert [(d.path, d.kind) for d in found] == [("$.nonce", "value")]
    verdict = judge_noise(found[0], raw, noise, 20.0, 0.03)
    assert verdict.noise
    assert (verdict.candidate_rate, verdict.secondary_rate) == (100.0, 100.0)


def test_a_field_the_secondary_never_changes_is_a_real_difference() -> None:
    baseline = [{"name": "Jenny", "balance": 0} for _ in range(10)]
    candidate = [{"name": "Jenny", "balance": 10} for _ in range(10)]
    raw = counts_of(list(zip(baseline, candidate, strict=True)))
    noise = counts_of([(b, b) for b in baseline])
    found = differences(baseline[0], candidate[0])
    assert judge_noise(found[0], raw, noise, 20.0, 0.03).noise is False


def test_a_field_that_changes_far_more_often_on_the_candidate_is_real() -> None:
    # Baseline and secondary disagree on `tier` once in ten; the candidate always does.
    baseline = [{"tier": "a"} for _ in range(10)]
    secondary = [{"tier": "b"}] + [{"tier": "a"} for _ in range(9)]
    candidate = [{"tier": "c"} for _ in range(10)]
    raw = counts_of(list(zip(baseline, candidate, strict=True)))
    noise = counts_of(list(zip(baseline, secondary, strict=True)))
    verdict = judge_noise(differences(baseline[0], candidate[0])[0], raw, noise, 20.0, 0.03)
    assert verdict.noise is False
    assert (verdict.candidate_rate, verdict.secondary_rate) == (100.0, 10.0)


def test_a_status_change_is_never_noise() -> None:
    raw = FieldCounts()
    noise = FieldCounts()
    status = Difference(EP, "$", "status", 200, 201)
    for counts in (raw, noise):
        counts.add(EP, [status])
    assert judge_noise(status, raw, noise, 20.0, 0.03).noise is False


def test_the_classifier_reports_noise_with_its_rates_and_never_drops_it() -> None:
    baseline = [_random_looking(i) for i in range(4)]
    secondary = [_random_looking(i + 100) for i in range(4)]
    candidate = [{**_random_looking(i + 200), "name": "Jenny R."} for i in range(4)]
    raw = counts_of(list(zip(baseline, candidate, strict=True)))
    noise = counts_of(list(zip(baseline, secondary, strict=True)))
    classifier = Classifier(parse_compare_config({}, "test"), NoiseCounts(raw, noise))
    outcome = classifier.outcome(0, "candidate", 1, EP, differences(baseline[0], candidate[0]))
    assert outcome.kind == "difference"
    assert outcome.severity == "medium"
    by_path = {d.path: d for d in outcome.differences}
    assert by_path["$.nonce"].outcome == "noise"
    assert "secondary" in (by_path["$.nonce"].reason or "")
    assert by_path["$.name"].outcome == "difference"
    verdict = classifier.verdict(Difference(EP, "$.nonce", "value"))
    assert (verdict.candidate_rate, verdict.secondary_rate) == (100.0, 100.0)


def test_without_a_secondary_nothing_is_noise_by_rate() -> None:
    classifier = Classifier(parse_compare_config({}, "test"))
    outcome = classifier.outcome(0, "candidate", 1, EP, differences({"nonce": "1"}, {"nonce": "2"}))
    assert outcome.kind == "difference"
