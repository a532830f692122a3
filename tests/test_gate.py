"""The gate: summaries made by hand (docs/summary-format.md) judged by apply_gate, the
scenario's gate: section, and `shadow gate` on a summary file."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from harness.cli import main
from harness.compare.group import group_id
from harness.errors import InputError, ScenarioError
from harness.formats.summary import read_summary_file
from harness.gate import (
    FAILED,
    PASSED,
    UNJUDGED,
    GateConfig,
    apply_gate,
    known_groups,
    override,
    parse_rate,
    verdict_lines,
)
from harness.model import SEVERITIES
from harness.run import gate_config
from harness.scenario import parse_scenario

SHADOW = str(Path(sys.executable).parent / "shadow")
ROOT = Path(__file__).resolve().parent.parent

Row = tuple[str, str, str, str, str, int]  # endpoint, path, kind, severity, outcome, count


def group(endpoint: str, path: str, kind: str, severity: str, outcome: str, count: int) -> dict:
    return {
        "id": group_id(endpoint, path, kind),
        "endpoint": endpoint,
        "path": path,
        "kind": kind,
        "severity": severity,
        "outcome": outcome,
        "count": count,
        "occurrences": count,
        "journeys": count,
        "samples": list(range(count))[:5],
        "example": {"seq": 0, "baseline": 1, "candidate": 2},
        "reason": "a rule says so" if outcome != "difference" else None,
        "noise": None,
        "cause": f"{endpoint} {path} {kind}",
        "object": None,
        "field": path,
        "endpoints": [endpoint],
        "locations": [
            {
                "endpoint": endpoint,
                "path": path,
                "ids": [group_id(endpoint, path, kind)],
                "severity": severity,
                "count": count,
                "journeys": count,
                "samples": list(range(count))[:5],
                "example": None,
            }
        ],
    }


def candidate(rows: list[Row], exchanges: int = 100, errors: int = 0) -> dict[str, Any]:
    """A candidate's summary entry whose counts agree with its groups."""
    groups = [group(*row) for row in rows]
    worst: dict[str, int] = {s: 0 for s in SEVERITIES}
    outcomes = {"match": 0, "noise": 0, "expected": 0, "difference": 0, "error": errors}
    for g in groups:
        outcomes[g["outcome"]] += g["count"]
        if g["outcome"] == "difference":
            worst[g["severity"]] += g["count"]
    outcomes["match"] = exchanges - sum(outcomes.values())
    assert outcomes["match"] >= 0
    return {
        "exchanges": exchanges,
        "outcomes": outcomes,
        "severities": worst,
        "groups": groups,
        "errors": ["connection refused"] if errors else [],
        "error_groups": [],
        "endpoints": {},
    }


def summary(scenario: Path | None = None, **candidates: dict[str, Any]) -> dict[str, Any]:
    run: dict[str, Any] = {"name": "gate-test"}
    if scenario is not None:
        run["scenario"] = {"name": "gate-test", "path": str(scenario)}
    return {
        "version": 1,
        "run": run,
        "baseline": "control",
        "secondary": None,
        "config": {},
        "candidates": candidates,
    }


CHARGES_ERROR: Row = ("GET /v1/charges", "$", "error", "critical", "difference", 1)
PHONE_REMOVED: Row = ("POST /v1/customers", "$.phone", "removed", "high", "difference", 6)
AMOUNT_VALUE: Row = ("POST /v1/plans", "$.amount", "value", "medium", "difference", 2)
BALANCE_ADDED: Row = ("POST /v1/customers", "$.balance", "added", "low", "difference", 6)
CHARGES_EXPECTED: Row = ("POST /v1/payment_intents", "$.charges", "removed", "high", "expected", 8)
URL_NOISE: Row = ("GET /v1/invoices", "$.data[].url", "value", "medium", "noise", 2)
FOUR = [CHARGES_ERROR, PHONE_REMOVED, AMOUNT_VALUE, BALANCE_ADDED]


def ids(verdict_candidate: Any) -> set[str]:
    return {g["id"] for g in verdict_candidate.regressions}


# --- apply_gate ------------------------------------------------------------------------------


def test_a_candidate_without_real_differences_passes_whatever_is_expected_or_noise() -> None:
    verdict = apply_gate(
        summary(twin=candidate([CHARGES_EXPECTED, URL_NOISE])), GateConfig(fail_on="low")
    )
    assert verdict.status == PASSED and verdict.exit_code == 0
    assert verdict.candidates[0].regressions == []


@pytest.mark.parametrize(
    ("fail_on", "counted"),
    [
        ("critical", [CHARGES_ERROR]),
        ("high", [CHARGES_ERROR, PHONE_REMOVED]),
        ("medium", [CHARGES_ERROR, PHONE_REMOVED, AMOUNT_VALUE]),
        ("low", FOUR),
    ],
)
def test_fail_on_counts_the_groups_at_or_above_a_severity(fail_on: str, counted: list[Row]) -> None:
    config = GateConfig(fail_on=fail_on)  # type: ignore[arg-type]
    verdict = apply_gate(summary(changed=candidate([*FOUR, CHARGES_EXPECTED])), config)
    assert ids(verdict.candidates[0]) == {group_id(*row[:3]) for row in counted}
    assert verdict.status == FAILED and verdict.exit_code == 1
    reason = verdict.candidates[0].reasons[0]
    assert reason.startswith(f"{len(counted)} regression")
    assert f"at or above {fail_on} (allowed 0)" in reason
    assert (
        f"[{group_id(*CHARGES_ERROR[:3])}] critical GET /v1/charges $ error (1 exchange)" in reason
    )


def test_max_regressions_allows_that_many_groups() -> None:
    data = summary(changed=candidate(FOUR))
    assert apply_gate(data, GateConfig(max_regressions=3)).status == FAILED
    assert apply_gate(data, GateConfig(max_regressions=4)).status == PASSED


def test_the_verdict_is_the_worst_of_the_candidates() -> None:
    data = summary(twin=candidate([]), changed=candidate([PHONE_REMOVED]))
    verdict = apply_gate(data, GateConfig())
    assert [(c.name, c.status) for c in verdict.candidates] == [
        ("twin", PASSED),
        ("changed", FAILED),
    ]
    assert verdict.status == FAILED
    lines = verdict_lines(verdict, GateConfig())
    assert lines[0].startswith("twin: passed: 0 regressions at or above low (allowed 0)")
    assert lines[1].startswith("changed: failed: 1 regression at or above low (allowed 0): [")
    assert lines[-1] == "gate: failed"


def test_an_endpoint_threshold_judges_its_endpoints_groups_on_their_own() -> None:
    config = GateConfig.model_validate(
        {
            "fail_on": "low",
            "endpoints": [
                # the first match wins: plans are held to critical only
                {"endpoint": "POST /v1/plans", "fail_on": "critical"},
                {"endpoint": "POST /v1/*", "max_regressions": 2},
            ],
        }
    )
    verdict = apply_gate(summary(changed=candidate(FOUR)), config).candidates[0]
    # plans' medium value change is under its endpoint's bar; the two customer groups fit
    # the customers' allowance of two; the charges error falls to the gate's own 0.
    assert ids(verdict) == {
        group_id(*row[:3]) for row in (CHARGES_ERROR, PHONE_REMOVED, BALANCE_ADDED)
    }
    assert verdict.status == FAILED
    assert len(verdict.reasons) == 1
    assert verdict.reasons[0].startswith("1 regression at or above low (allowed 0): ")
    stricter = override(
        config, {"endpoints": [{"endpoint": "POST /v1/customers", "fail_on": "low"}]}
    )
    reasons = apply_gate(summary(changed=candidate(FOUR)), stricter).candidates[0].reasons
    assert reasons[1].startswith("POST /v1/customers: 2 regressions at or above low (allowed 0)")


def test_too_many_errors_cannot_be_judged_exit_3() -> None:
    config = GateConfig(max_error_rate=0.05)
    at_limit = apply_gate(summary(c=candidate([], exchanges=100, errors=5)), config)
    assert at_limit.status == PASSED
    over = apply_gate(summary(c=candidate([PHONE_REMOVED], exchanges=100, errors=6)), config)
    assert over.status == UNJUDGED and over.exit_code == 3
    assert over.candidates[0].reasons[0] == (
        "6 of 100 exchanges are errors (6 %, allowed 5 %): connection refused"
    )
    # the regressions are still named, after the reason the run cannot be judged
    assert "1 regression" in over.candidates[0].reasons[1]
    # one candidate that cannot be judged makes the whole verdict so, even beside a failure
    both = apply_gate(
        summary(a=candidate([PHONE_REMOVED]), b=candidate([], exchanges=10, errors=10)), config
    )
    assert both.status == UNJUDGED


def test_a_candidate_with_no_exchange_cannot_be_judged() -> None:
    verdict = apply_gate(summary(c=candidate([], exchanges=0)), GateConfig())
    assert verdict.status == UNJUDGED
    assert verdict.candidates[0].reasons == ["no exchange was compared"]


def test_a_baseline_summary_lets_known_differences_through_and_fails_on_new_ones() -> None:
    earlier = summary(changed=candidate([PHONE_REMOVED, CHARGES_EXPECTED]), twin=candidate([]))
    later = summary(changed=candidate([PHONE_REMOVED, CHARGES_ERROR]), twin=candidate([]))
    verdict = apply_gate(later, GateConfig(), earlier)
    changed = verdict.candidates[0]
    assert ids(changed) == {group_id(*CHARGES_ERROR[:3])}
    assert [g["id"] for g in changed.known] == [group_id(*PHONE_REMOVED[:3])]
    assert changed.reasons[0].startswith("1 new regression at or above low")
    assert apply_gate(earlier, GateConfig(), earlier).status == PASSED


def test_a_baseline_counts_only_the_same_candidates_differences() -> None:
    # charges were expected (a rule) in the baseline: as a difference now, they are new
    earlier = summary(changed=candidate([CHARGES_EXPECTED]), other=candidate([PHONE_REMOVED]))
    now_different = (*CHARGES_EXPECTED[:4], "difference", 8)
    later = summary(changed=candidate([now_different, PHONE_REMOVED]))  # type: ignore[list-item]
    assert len(apply_gate(later, GateConfig(), earlier).candidates[0].regressions) == 2
    assert known_groups(earlier) == {"changed": set(), "other": {group_id(*PHONE_REMOVED[:3])}}


rows = st.lists(
    st.tuples(
        st.sampled_from(["GET /v1/a", "POST /v1/b", "DELETE /v1/c/{c}"]),
        st.sampled_from(["$", "$.x", "$.y[].z"]),
        st.sampled_from(["status", "removed", "added", "value"]),
        st.sampled_from(SEVERITIES),
        st.sampled_from(["difference", "expected", "noise"]),
        st.integers(1, 3),
    ),
    max_size=8,
    unique_by=lambda r: r[:3],
)


@given(rows, st.integers(0, 8), st.sampled_from(SEVERITIES))
def test_a_run_judged_against_its_own_summary_always_passes(
    data: list[Row], allowed: int, fail_on: str
) -> None:
    document = summary(c=candidate(data, exchanges=30))
    config = GateConfig(max_regressions=allowed, fail_on=fail_on)  # type: ignore[arg-type]
    assert apply_gate(document, config, document).status == PASSED


@given(rows, st.integers(0, 8))
def test_allowing_more_never_turns_a_pass_into_a_failure(data: list[Row], allowed: int) -> None:
    document = summary(c=candidate(data, exchanges=30))
    strict = apply_gate(document, GateConfig(max_regressions=allowed))
    loose = apply_gate(document, GateConfig(max_regressions=allowed + 1, fail_on="critical"))
    assert not (strict.status == PASSED and loose.status != PASSED)
    assert len(strict.candidates[0].regressions) == sum(
        1 for r in {r[:3]: r for r in data}.values() if r[4] == "difference"
    )


# --- configuration -------------------------------------------------------------------------


def test_rates_are_fractions_or_percentages() -> None:
    assert parse_rate("5%") == pytest.approx(0.05)
    assert parse_rate(" 0.2 ") == pytest.approx(0.2)
    assert parse_rate(0.1) == 0.1
    with pytest.raises(ValueError, match="not a rate"):
        parse_rate("lots")
    assert GateConfig.model_validate({"max_error_rate": "10%"}).max_error_rate == pytest.approx(0.1)


def test_the_command_line_wins_over_the_scenario_and_its_endpoint_rules_come_first() -> None:
    section = GateConfig.model_validate(
        {"fail_on": "high", "max_regressions": 3, "endpoints": [{"endpoint": "GET *"}]}
    )
    merged = override(
        section,
        {"fail_on": "critical", "max_regressions": None, "endpoints": [{"endpoint": "POST *"}]},
    )
    assert merged.fail_on == "critical" and merged.max_regressions == 3
    assert [e.endpoint for e in merged.endpoints] == ["POST *", "GET *"]
    with pytest.raises(InputError, match=r"^gate options: "):
        gate_config(section, {"max_regressions": -1})


SCENARIO = """\
name: gated
recording: rec.jsonl
targets:
  - {{name: a, launch: localstripe}}
gate:
{gate}
"""


def scenario_error(tmp_path: Path, gate: str) -> str:
    (tmp_path / "rec.jsonl").write_text("")
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(SCENARIO.format(gate=gate), tmp_path / "s.yaml")
    return str(caught.value)


def test_the_gate_section_is_validated_with_the_scenario(tmp_path: Path) -> None:
    where = f"{tmp_path / 's.yaml'}: gate."
    assert scenario_error(tmp_path, "  fail_on: severe") == (
        f"{where}fail_on: expected 'critical', 'high', 'medium' or 'low' (line 6)"
    )
    assert scenario_error(tmp_path, "  max_error_rate: 1.5") == (
        f"{where}max_error_rate: expected less than or equal to 1 (line 6)"
    )
    assert scenario_error(tmp_path, "  max_regressions: 1\n  max_differences: 0").startswith(
        f"{where}max_differences: unknown key (known keys: max_regressions, fail_on, "
    )
    assert scenario_error(tmp_path, "  endpoints:\n    - {endpoint: 'GET *', fail: high}") == (
        f"{where}endpoints[0].fail: unknown key (known keys: endpoint, fail_on, "
        "max_regressions) (line 7)"
    )
    assert scenario_error(tmp_path, "  baseline_summary: old/summary.json") == (
        f"{where}baseline_summary: no such file: old/summary.json (line 6)"
    )


def test_a_baseline_summary_is_relative_to_the_scenario(tmp_path: Path) -> None:
    (tmp_path / "rec.jsonl").write_text("")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "summary.json").write_text("{}")
    text = SCENARIO.format(gate="  baseline_summary: old/summary.json\n  max_error_rate: 2%")
    gate = parse_scenario(text, tmp_path / "s.yaml").gate
    assert gate is not None
    assert gate.baseline_summary == tmp_path / "old" / "summary.json"
    assert gate.max_error_rate == pytest.approx(0.02)


# --- shadow gate -----------------------------------------------------------------------------


def shadow(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`shadow ARGS` in `cwd`, in this process (the console script itself is run once, in
    the exit-3 test)."""
    with contextlib.chdir(cwd):
        result = CliRunner().invoke(main, list(args))
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_shadow_gate_applies_the_scenarios_gate_and_the_command_line_over_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "rec.jsonl").write_text("")
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO.format(gate="  fail_on: high"))
    file = write_json(tmp_path / "summary.json", summary(scenario, changed=candidate(FOUR)))

    failed = shadow("gate", str(file), cwd=tmp_path)
    assert failed.returncode == 1, failed.stderr
    assert "changed: failed: 2 regressions at or above high (allowed 0)" in failed.stdout
    assert failed.stdout.splitlines()[-1] == "gate: failed"

    passed = shadow(
        "gate", str(file), "--fail-on", "critical", "--max-regressions", "1", cwd=tmp_path
    )
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert passed.stdout.splitlines()[-1] == "gate: passed"

    by_endpoint = shadow(
        "gate",
        str(file),
        "--fail-on",
        "critical",
        "--endpoint",
        "POST /v1/customers=low:1",
        cwd=tmp_path,
    )
    assert by_endpoint.returncode == 1
    assert "POST /v1/customers: 2 regressions at or above low (allowed 1)" in by_endpoint.stdout

    baseline = write_json(tmp_path / "old.json", summary(None, changed=candidate(FOUR[:3])))
    new_only = shadow("gate", str(file), "--baseline-summary", str(baseline), cwd=tmp_path)
    assert new_only.returncode == 0  # the one new group is low: under the scenario's high


def test_shadow_gate_exit_3_when_there_are_too_many_errors(tmp_path: Path) -> None:
    file = write_json(tmp_path / "s.json", summary(None, c=candidate([], exchanges=10, errors=4)))
    result = subprocess.run(
        [SHADOW, "gate", str(file)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 3
    assert "c: cannot judge: 4 of 10 exchanges are errors (40 %, allowed 5 %)" in result.stdout
    assert shadow("gate", str(file), "--max-error-rate", "40%", cwd=tmp_path).returncode == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.json"], "shadow: error: missing.json: no such summary file"),
        (["bad.json"], "shadow: error: bad.json:1: not valid JSON"),
        (["old.json"], "shadow: error: old.json: version: 7 is not a summary version"),
        (["ok.json", "--fail-on", "severe"], "Invalid value for '--fail-on'"),
        (["ok.json", "--endpoint", "GET /x"], "expected ENDPOINT=SEVERITY[:MAX]"),
        (["ok.json", "--max-error-rate", "1.5"], "a rate between 0 and 1"),
        (["ok.json", "--baseline-summary", "nope.json"], "nope.json: no such summary file"),
    ],
)
def test_shadow_gate_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "bad.json").write_text("{")
    write_json(tmp_path / "old.json", {**summary(None), "version": 7})
    write_json(tmp_path / "ok.json", summary(None, c=candidate([])))
    result = shadow("gate", *args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_summary_whose_scenario_is_gone_is_gated_with_a_warning(tmp_path: Path) -> None:
    file = write_json(tmp_path / "s.json", summary(tmp_path / "gone.yaml", c=candidate([])))
    result = shadow("gate", str(file), cwd=tmp_path)
    assert result.returncode == 0
    assert "shadow: warning: " in result.stderr and "gone.yaml" in result.stderr
    assert read_summary_file(file)["candidates"]["c"]["exchanges"] == 100
