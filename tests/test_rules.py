"""The compare rules: validation messages, globs, and what each rule does to a difference."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.compare.classify import Classifier
from harness.compare.rules import (
    load_rules_file,
    merge_configs,
    parse_compare_config,
    resolve_config,
)
from harness.errors import ScenarioError
from harness.model import Difference
from harness.stripe.globs import glob_match

EP = "GET /v1/customers/{customer}"


def classify(config: dict, *differences: Difference):
    return Classifier(parse_compare_config(config, "s.yaml")).outcome(
        3, "cand", 7, EP, list(differences)
    )


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"expect": [{"path": "$.a"}]}, "s.yaml: compare.expect[0].reason: field required"),
        (
            {"expect": [{"path": "$.a", "reason": "  "}]},
            "s.yaml: compare.expect[0].reason: must say why",
        ),
        (
            {"expect": [{"reason": "r", "kind": "changed"}]},
            "s.yaml: compare.expect[0].kind: input should be",
        ),
        ({"ignore": [{"endpoint": "*"}]}, "s.yaml: compare.ignore[0]: path: field required"),
        ({"ignore": ["$.a"]}, "s.yaml: compare.ignore[0]: expected a mapping"),
        (
            {"severity": [{"severity": "urgent"}]},
            "s.yaml: compare.severity[0].severity: input should be",
        ),
        ({"noise": {"relative": 120}}, "s.yaml: compare.noise.relative: input should be less than"),
        ({"samples": -1}, "s.yaml: compare.samples: input should be greater than or equal to 0"),
        (
            {"ignroe": []},
            "s.yaml: compare.ignroe: unknown field (expected one of: rules_file, ignore",
        ),
        (
            {"expect": [{"reason": "r", "paht": "$"}]},
            "s.yaml: compare.expect[0].paht: unknown field",
        ),
    ],
)
def test_invalid_sections_are_reported_with_file_and_field(section: dict, message: str) -> None:
    with pytest.raises(ScenarioError) as raised:
        parse_compare_config(section, "s.yaml")
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_a_section_that_is_not_a_mapping() -> None:
    with pytest.raises(ScenarioError, match=r"s\.yaml: compare: expected a mapping"):
        parse_compare_config(["ignore"], "s.yaml")  # type: ignore[arg-type]


def test_defaults() -> None:
    config = parse_compare_config(None, "s.yaml")
    assert config.headers == ["content-type"]
    assert config.samples == 5
    assert config.timestamp_tolerance == 5.0
    assert (config.noise.relative, config.noise.absolute) == (20.0, 0.03)


# --- globs --------------------------------------------------------------------------------


def test_globs_take_brackets_literally_and_star_spans_everything() -> None:
    assert glob_match("$.data[].*", "$.data[].amount")
    assert not glob_match("$.data[].*", "$.data[0].amount")
    assert glob_match("GET /v1/customers*", "GET /v1/customers/{customer}/sources")
    assert glob_match("$.?", "$.a")
    assert not glob_match("$.a", "$.ab")


def test_paths_are_anchored_at_the_root_unless_they_start_with_dollar_star_or_headers() -> None:
    config = parse_compare_config(
        {"ignore": [{"path": "metadata.*"}, {"path": "*.url"}, {"path": "headers.date"}]}, "s.yaml"
    )
    assert [rule.path for rule in config.ignore] == ["$.metadata.*", "*.url", "headers.date"]


# --- what rules do ------------------------------------------------------------------------


def test_default_severities() -> None:
    kinds = ["status", "error", "removed", "type", "value", "added"]
    got = [classify({}, Difference(EP, "$.x", kind)).severity for kind in kinds]
    assert got == ["critical", "critical", "high", "high", "medium", "low"]


def test_an_expected_change_is_shown_as_expected_with_its_reason() -> None:
    outcome = classify(
        {
            "expect": [
                {
                    "endpoint": "GET /v1/customers/*",
                    "path": "$.account_balance",
                    "kind": "removed",
                    "reason": "API 2019-10-17 renamed account_balance to balance",
                }
            ]
        },
        Difference(EP, "$.account_balance", "removed", 0, None),
    )
    assert outcome.kind == "expected"
    assert outcome.severity is None
    assert outcome.differences[0].reason == "API 2019-10-17 renamed account_balance to balance"


def test_an_expect_rule_for_another_kind_does_not_match() -> None:
    outcome = classify(
        {"expect": [{"path": "$.balance", "kind": "added", "reason": "renamed"}]},
        Difference(EP, "$.balance", "type", 0, "0"),
    )
    assert outcome.kind == "difference"
    assert outcome.severity == "high"


def test_an_ignored_path_is_noise_with_the_rule_named_never_dropped() -> None:
    outcome = classify(
        {"ignore": [{"path": "$.metadata.*", "reason": "set by a cron job"}]},
        Difference(EP, "$.metadata.synced", "value", "1", "2"),
    )
    assert outcome.kind == "noise"
    assert outcome.differences[0].outcome == "noise"
    assert outcome.differences[0].reason == "ignored by compare.ignore[0]: set by a cron job"


def test_ignore_does_not_hide_a_status_change_but_expect_can_explain_it() -> None:
    status = Difference(EP, "$", "error", 200, 402)
    assert classify({"ignore": [{"path": "*"}]}, status).kind == "difference"
    expected = classify(
        {"expect": [{"kind": "error", "reason": "the new account declines"}]}, status
    )
    assert expected.kind == "expected"


def test_a_severity_override_changes_the_outcome_severity() -> None:
    outcome = classify(
        {
            "severity": [
                {"path": "$.amount", "severity": "critical"},
                {"kind": "value", "severity": "low"},
            ]
        },
        Difference(EP, "$.amount", "value", 100, 200),
        Difference(EP, "$.description", "value", "a", "b"),
    )
    assert [d.severity for d in outcome.differences] == ["critical", "low"]
    assert outcome.severity == "critical"


def test_an_outcome_takes_the_highest_severity_of_its_real_differences() -> None:
    outcome = classify(
        {"expect": [{"path": "$.gone", "reason": "removed in basil"}]},
        Difference(EP, "$.gone", "removed"),
        Difference(EP, "$.note", "value", "a", "b"),
        Difference(EP, "$.extra", "added"),
    )
    assert outcome.kind == "difference"
    assert outcome.severity == "medium"


def test_no_differences_is_a_match_and_an_error_is_an_error() -> None:
    classifier = Classifier(parse_compare_config({}, "s.yaml"))
    assert classifier.outcome(1, "c", 1, EP, []).kind == "match"
    failed = classifier.outcome(1, "c", 1, EP, [], "connection refused")
    assert (failed.kind, failed.error, failed.severity) == ("error", "connection refused", None)


# --- rules files --------------------------------------------------------------------------


def test_a_rules_file_has_the_section_fields_at_the_top(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("expect:\n  - path: $.balance\n    reason: renamed\nsamples: 2\n")
    config = load_rules_file(path)
    assert config.expect[0].reason == "renamed"
    assert config.samples == 2


def test_a_rules_file_error_names_the_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("expect:\n  - path: $.balance\n")
    with pytest.raises(ScenarioError, match=r"rules.yaml: expect\[0\].reason: field required$"):
        load_rules_file(path)
    path.write_text("expect: [\n  - oops\n")
    with pytest.raises(ScenarioError, match=r"rules.yaml:\d+: "):
        load_rules_file(path)
    with pytest.raises(ScenarioError, match="no such rules file"):
        load_rules_file(tmp_path / "missing.yaml")


def test_merging_adds_rules_and_overrides_only_the_settings_given() -> None:
    base = parse_compare_config(
        {"expect": [{"path": "$.a", "reason": "x"}], "samples": 3, "timestamp_tolerance": 9}, "s"
    )
    extra = parse_compare_config(
        {"expect": [{"path": "$.b", "reason": "y"}], "samples": 1}, "r", prefix=""
    )
    merged = merge_configs(base, extra)
    assert [rule.path for rule in merged.expect] == ["$.a", "$.b"]
    assert merged.samples == 1
    assert merged.timestamp_tolerance == 9


def test_rules_file_in_a_scenario_is_relative_to_the_scenario(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "upgrade.yaml").write_text("ignore:\n  - path: $.livemode\n")
    extra = tmp_path / "more.yaml"
    extra.write_text("ignore:\n  - path: $.object\n")
    config = resolve_config(
        {"rules_file": "rules/upgrade.yaml", "ignore": [{"path": "$.url"}]},
        tmp_path / "scenario.yaml",
        extra,
    )
    assert [rule.path for rule in config.ignore] == ["$.url", "$.livemode", "$.object"]
