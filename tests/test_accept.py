"""`shadow accept`: expect rules written into scenario files (round-trip, comments kept) or
their rules files, the mistakes it refuses, and, end to end, a run whose accepted groups
come back as expected, with their reasons, in the next run's report."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from demoprefix import demo_prefix

from harness.accept import accept_group, write_expect_rule
from harness.compare.group import group_id
from harness.compare.rules import resolve_config
from harness.errors import InputError, ScenarioError
from harness.gate import group_ids
from harness.replay.launch.localstripe import LOCALSTRIPE_TEST_KEY
from harness.scenario import load_scenario

SHADOW = str(Path(sys.executable).parent / "shadow")
ROOT = Path(__file__).resolve().parent.parent
RECORDING = ROOT / "recordings" / "demo.jsonl"

RULE = {
    "endpoint": "GET /v1/customers/{customer}",
    "path": "$.sources.data[].card",
    "kind": "removed",
    "reason": "API 2020-08-27: sources are no longer returned unless expanded",
}

SCENARIO = f"""\
# Our staging account against the upgraded one.
name: upgrade   # the run directory's name
recording: {RECORDING}
targets:
  - {{name: old, launch: localstripe}}
"""


def rules_of(scenario: Path) -> list[dict[str, Any]]:
    """The expect rules compare will apply for this scenario, read the way compare reads."""
    loaded = load_scenario(scenario)
    return [
        {
            f.name: getattr(r, f.name)
            for f in dataclasses.fields(r)
            if getattr(r, f.name) != f.default
        }
        for r in resolve_config(loaded.compare, scenario, None).expect
    ]


def test_a_scenario_without_compare_gets_one_and_keeps_its_comments(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO)
    written, added = write_expect_rule(path, RULE)
    assert (written, added) == (path, True)
    text = path.read_text()
    assert text.startswith(SCENARIO)  # everything before is untouched, comments included
    assert rules_of(path) == [RULE]


def test_the_rule_joins_an_expect_list_in_block_or_flow_style(tmp_path: Path) -> None:
    block = tmp_path / "block.yaml"
    block.write_text(
        SCENARIO + "compare:\n  expect:\n    - path: $.charges  # PaymentIntents\n"
        "      reason: latest_charge now\n  samples: 3\n"
    )
    write_expect_rule(block, RULE)
    assert [r["reason"] for r in rules_of(block)] == ["latest_charge now", RULE["reason"]]
    assert "# PaymentIntents" in block.read_text()
    assert load_scenario(block).compare["samples"] == 3  # type: ignore[index]

    flow = tmp_path / "flow.yaml"
    flow.write_text(SCENARIO + "compare: {ignore: [{path: $.x, reason: cron}]}  # kept\n")
    write_expect_rule(flow, RULE)
    assert rules_of(flow) == [RULE]
    assert "# kept" in flow.read_text()


def test_a_group_accepted_twice_is_written_once(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO)
    write_expect_rule(path, RULE)
    before = path.read_text()
    assert write_expect_rule(path, {**RULE, "reason": "said again"}) == (path, False)
    assert path.read_text() == before


def test_a_rules_file_named_by_the_scenario_receives_the_rule(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO + "compare:\n  rules_file: rules/accepted.yaml\n")
    before = path.read_text()
    written, _ = write_expect_rule(path, RULE)
    assert written == tmp_path / "rules" / "accepted.yaml"  # created, with its folder
    assert path.read_text() == before
    assert yaml.safe_load(written.read_text()) == {"expect": [RULE]}
    assert rules_of(path) == [RULE]
    write_expect_rule(path, {**RULE, "kind": "added"})
    assert [r["kind"] for r in rules_of(path)] == ["removed", "added"]


def test_an_expect_that_is_not_a_list_is_refused_and_the_file_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO + "compare:\n  expect: everything\n")
    before = path.read_text()
    with pytest.raises(ScenarioError, match=r"s\.yaml: compare\.expect: expected a list"):
        write_expect_rule(path, RULE)
    assert path.read_text() == before


# --- accept_group on a compared run made by hand ----------------------------------------------


def group(endpoint: str, path: str, kind: str, outcome: str, reason: str | None = None) -> dict:
    return {
        "id": group_id(endpoint, path, kind),
        "endpoint": endpoint,
        "path": path,
        "kind": kind,
        "severity": "high",
        "outcome": outcome,
        "count": 1,
        "samples": [3],
        "reason": reason,
    }


def compared_run(tmp_path: Path, scenario: Path) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    run.joinpath("run.json").write_text(
        json.dumps(
            {
                "version": 1,
                "name": "run",
                "baseline": "old",
                "targets": [],
                "recording": {"path": str(RECORDING)},
                "scenario": {"name": "upgrade", "path": str(scenario)},
            }
        )
    )
    groups = [
        group("POST /v1/customers", "$.phone", "removed", "difference"),
        group("POST /v1/plans", "$.amount", "type", "expected", "plans are strings now"),
    ]
    candidate = {"outcomes": {}, "severities": {}, "groups": groups, "endpoints": {}}
    summary = {
        "version": 1,
        "baseline": "old",
        "candidates": {"new": candidate, "newer": candidate},
    }
    run.joinpath("summary.json").write_text(json.dumps(summary))
    return run


def test_accept_writes_the_groups_signature_and_says_which_candidates_show_it(
    tmp_path: Path,
) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO)
    run = compared_run(tmp_path, scenario)
    phone = group_id("POST /v1/customers", "$.phone", "removed")
    accepted = accept_group(run, f" {phone} ", "  the CRM owns phones now ")
    assert accepted.file == scenario and accepted.added
    assert accepted.candidates == ["new", "newer"]
    assert accepted.rule == {
        "endpoint": "POST /v1/customers",
        "path": "$.phone",
        "kind": "removed",
        "reason": "the CRM owns phones now",
    }
    assert rules_of(scenario) == [accepted.rule]


@pytest.mark.parametrize(
    ("group", "reason", "message"),
    [
        ("0123456789", "why", "no group '0123456789'; its difference groups are "),
        (group_id("POST /v1/plans", "$.amount", "type"), "why", "is already expected"),
        (group_id("POST /v1/customers", "$.phone", "removed"), " ", "--reason: say why"),
    ],
)
def test_accept_refuses_what_it_cannot_accept(
    tmp_path: Path, group: str, reason: str, message: str
) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO)
    run = compared_run(tmp_path, scenario)
    with pytest.raises(InputError, match=re.escape(message)):
        accept_group(run, group, reason)
    assert scenario.read_text() == SCENARIO


def test_accept_needs_the_runs_scenario(tmp_path: Path) -> None:
    run = compared_run(tmp_path, tmp_path / "gone.yaml")
    phone = group_id("POST /v1/customers", "$.phone", "removed")
    with pytest.raises(InputError, match=r"gone\.yaml: the run's scenario is not there any more"):
        accept_group(run, phone, "why")
    with pytest.raises(InputError, match="no such run directory"):
        accept_group(tmp_path / "nowhere", phone, "why")


# --- end to end --------------------------------------------------------------------------------


def shadow(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SHADOW, *map(str, args)],
        cwd=cwd,
        env={**os.environ, "SHADOW_TEST_CHANGING_KEY": LOCALSTRIPE_TEST_KEY},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


CHANGING = f"""\
# tests/changingproxy.py changes three things; each is accepted below.
name: accepting
recording: demo-prefix.jsonl
baseline: control
concurrency: 1
targets:
  - {{name: control, launch: localstripe}}
  - name: changed
    api_key_env: SHADOW_TEST_CHANGING_KEY
    launch:
      command: {sys.executable} {ROOT / "tests" / "changingproxy.py"} --port {{port}}
      url: http://127.0.0.1:{{port}}
      ready_path: /v1/balance
compare:
  rules_file: rules.yaml
"""
ACCEPTED_PHONE = group_id("POST /v1/customers", "$.phone", "removed")
ACCEPTED = {
    ACCEPTED_PHONE: "phones live in our CRM now",
    group_id("POST /v1/plans", "$.amount", "type"): "the new plan service sends strings",
    group_id("GET /v1/charges", "$", "error"): "charges are listed from PaymentIntents now",
}


@pytest.mark.e2e
def test_accepted_groups_are_expected_with_their_reasons_in_the_next_runs_report(
    tmp_path: Path,
) -> None:
    demo_prefix(tmp_path)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(CHANGING)
    (tmp_path / "rules.yaml").write_text("# what `shadow accept` accepts\n")
    first = shadow(
        "run", scenario, "--out", "run1", "--report", "report1", "--no-progress", cwd=tmp_path
    )
    assert first.returncode == 1, first.stdout + first.stderr

    for group, reason in ACCEPTED.items():
        result = shadow("accept", "run1", group, "--reason", reason, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[1] == f"wrote an expect rule to {tmp_path / 'rules.yaml'}"
    assert scenario.read_text() == CHANGING

    second = shadow(
        "run", scenario, "--out", "run2", "--report", "report2", "--no-progress", cwd=tmp_path
    )
    assert second.returncode == 0, second.stdout + second.stderr
    summary = json.loads((tmp_path / "report2" / "summary.json").read_text())
    # Accepted by the ids their places had as groups of their own (summary.json version
    # 1), each cause is found again by them, now expected.
    groups = {i: g for g in summary["candidates"]["changed"]["groups"] for i in group_ids(g)}
    for group, reason in ACCEPTED.items():
        assert (groups[group]["outcome"], groups[group]["reason"]) == ("expected", reason)
    assert groups[ACCEPTED_PHONE]["cause"] == "customer.phone removed"
    page = (tmp_path / "report2" / "index.html").read_text()
    markdown = (tmp_path / "report2" / "summary.md").read_text()
    for reason in ACCEPTED.values():
        assert reason in page
    assert summary["candidates"]["changed"]["outcomes"]["expected"] == 9
    assert "· 9 expected ·" in markdown
