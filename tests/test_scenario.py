"""Scenario files: what is valid, and that every mistake is one clear line and exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.errors import ScenarioError
from harness.scenario import load_scenario

REPO = Path(__file__).resolve().parent.parent

MINIMAL = """\
name: twin
recording: ../recordings/demo.jsonl
baseline: control
targets: [{name: control, launch: localstripe}, {name: twin, launch: localstripe}]
"""


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """A project folder with recordings/demo.jsonl and an empty scenarios/."""
    (tmp_path / "recordings").mkdir()
    (tmp_path / "recordings" / "demo.jsonl").write_text(
        '{"format": "stripe-shadow-recording", "version": 1, "created": "x", "redaction": {}}\n'
    )
    (tmp_path / "scenarios").mkdir()
    return tmp_path


def write(layout: Path, text: str, name: str = "s.yaml") -> Path:
    path = layout / "scenarios" / name
    path.write_text(text)
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    return str(caught.value).splitlines()


def test_the_minimal_scenario_is_valid_and_paths_are_relative_to_it(layout: Path) -> None:
    scenario = load_scenario(write(layout, MINIMAL))
    assert scenario.name == "twin"
    assert scenario.recording == layout / "recordings" / "demo.jsonl"
    assert scenario.baseline == "control"
    assert [(t.name, t.role, t.launch_kind) for t in scenario.targets] == [
        ("control", "baseline", "localstripe"),
        ("twin", "candidate", "localstripe"),
    ]
    assert scenario.on_unresolved == "skip"
    assert scenario.allow_live is False
    assert scenario.compare is None and scenario.gate is None


def test_the_shipped_twin_scenario_is_the_minimal_one() -> None:
    scenario = load_scenario(REPO / "scenarios" / "twin.yaml")
    assert scenario.recording == REPO / "recordings" / "demo.jsonl"
    assert [t.launch_kind for t in scenario.targets] == ["localstripe", "localstripe"]


def test_every_documented_key_is_accepted(layout: Path) -> None:
    (layout / "map.csv").write_text("old_id,new_id\ncus_AAAAAAAA1,cus_BBBBBBBB1\n")
    text = """\
name: migrate
description: account to account
recording: ../recordings/demo.jsonl
baseline: recording
on_unresolved: send
allow_live: false
concurrency: 4
timeout: 5
retry: {attempts: 3, backoff: 0.1, max_backoff: 1, budget: 10}
targets:
  - name: new-account
    url: https://api.stripe.com
    api_key_env: NEW_ACCOUNT_KEY
    headers: {Stripe-Version: 2025-03-31.basil, Stripe-Account: acct_123456789}
    role: candidate
    id_map: ../map.csv
    transforms: []
    concurrency: 2
    rate_limit: 20
  - name: noise
    role: secondary
    launch: {command: "python -m http.server {port}", url: "http://127.0.0.1:{port}", ready_path: /}
compare: {ignore: [x]}
gate: {max_regressions: 0}
"""
    scenario = load_scenario(write(layout, text))
    first, second = scenario.targets
    assert scenario.baseline == "recording"
    assert first.id_map == layout / "map.csv"
    assert first.rate_limit == 20 and first.concurrency == 2
    assert second.role == "secondary" and second.launch_kind == "command"
    assert scenario.retry.attempts == 3
    assert scenario.compare == {"ignore": ["x"]}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            "targets: [{name: control, launch: localstripe}, {name: twin, url: 'ftp:/x'}]",
            "targets[1].url: not a URL",
        ),
        (
            "targets: [{name: control, launch: localstripe}, {name: twin, url: 'http://h:x'}]",
            "targets[1].url: not a URL",
        ),
        (
            "targets: [{name: control, launch: localstripe, colour: red}]",
            "targets[0].colour: unknown key",
        ),
        ("targets: []", "targets: list should have at least 1 item"),
        (
            "targets: [{name: control}]",
            "targets[0]: needs a url or a launch",
        ),
        (
            "targets: [{name: control, launch: kubernetes}]",
            "targets[0].launch: unknown launch kind 'kubernetes'",
        ),
        (
            "targets: [{name: control, launch: {command: x}}]",
            "targets[0].launch: url: missing",
        ),
        (
            "targets: [{name: control, url: 'http://h', launch: localstripe}]",
            "targets[0]: give a url or a launch, not both",
        ),
        (
            "targets: [{name: control, launch: localstripe, headers: {Authorization: x}}]",
            "targets[0].headers: Authorization may not be set here",
        ),
        (
            "targets: [{name: control, launch: localstripe, api_key_env: 'my key'}]",
            "targets[0].api_key_env: not an environment variable name",
        ),
        (
            "targets: [{name: control, launch: localstripe, rate_limit: 0}]",
            "targets[0].rate_limit: expected greater than 0",
        ),
        (
            "targets: [{name: control, launch: localstripe, role: boss}]",
            "targets[0].role: expected 'baseline', 'candidate' or 'secondary'",
        ),
        (
            "targets: [{name: control, launch: localstripe, transforms: [drop]}]",
            "targets[0].transforms[0].name: unknown transform 'drop'",
        ),
        (
            "targets: [{name: control, launch: localstripe, id_map: ../nope.csv}]",
            "targets[0].id_map: no such file",
        ),
        (
            "targets: [{name: control, launch: localstripe}, {name: control, launch: localstripe}]",
            "targets[1].name: duplicate target name 'control'",
        ),
        (
            "targets: [{name: 'a b', launch: localstripe}]",
            "targets[0].name: use letters, digits",
        ),
        (
            "targets: [{name: control, launch: localstripe}, "
            "{name: Outcomes, launch: localstripe}]",
            "targets[1].name: 'Outcomes' is reserved in a run directory (outcomes.jsonl is "
            "compare's file); rename the target",
        ),
        (
            "targets: [{name: control, launch: localstripe}, {name: Control, launch: localstripe}]",
            "targets[1].name: duplicate target name 'Control' (as 'control': file names may "
            "ignore case)",
        ),
        (
            "targets: [{name: control, url: 'http://127.0.0.1:9/a b'}]",
            "targets[0].url: not a URL (it holds a space or a control character)",
        ),
        (
            'targets: [{name: control, launch: localstripe, headers: {X-A: "1\\r\\nX-B: 2"}}]',
            "targets[0].headers: X-A: a header value may not hold a CR",
        ),
        (
            "targets: [{name: control, launch: localstripe, accounts: {acct_1: acct_2}}]",
            "targets[0].accounts: 'acct_1' is not a connected account id",
        ),
        (
            "targets: [{name: control, launch: localstripe, accounts: [acct_AAAAAAAA1]}]",
            "targets[0].accounts: expected `same`, a mapping {acct_recorded: acct_target}, "
            "or a mapping file",
        ),
        (
            "targets: [{name: control, launch: localstripe, accounts: ../accounts.csv}]",
            "targets[0].accounts: no such file",
        ),
        (
            "targets: [{name: control, launch: localstripe, pass_through: [cus]}]",
            "targets[0].pass_through: 'cus' is not an id prefix",
        ),
        (
            "targets: [{name: control, launch: localstripe, pass_through: [acct_]}]",
            "targets[0].pass_through: acct_: connected accounts are mapped by `accounts`",
        ),
        (
            "targets: [control]",
            "targets[0]: expected a mapping of keys (name, ",
        ),
        (
            "targets: [{name: control, launch: localstripe}]\ngate: [1]",
            "gate: expected a mapping of keys (max_regressions, ",
        ),
        (
            "targets: [{name: control, launch: localstripe}]\nretry: 3",
            "retry: expected a mapping of keys (attempts, ",
        ),
    ],
)
def test_a_target_mistake_names_the_field(layout: Path, change: str, expected: str) -> None:
    text = MINIMAL.replace(
        "targets: [{name: control, launch: localstripe}, {name: twin, launch: localstripe}]",
        change,
    ).replace("baseline: control\n", "")
    path = write(layout, text)
    first = problems(path)[0]
    assert first.startswith(f"{path}: {expected}"), first


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("baseline: control", "baseline: contrl", "baseline: no target named 'contrl'"),
        ("name: twin", "name: twin\ncolour: blue", "colour: unknown key (known keys: name,"),
        (
            "name: twin",
            "name: twin\non_unresolved: maybe",
            "on_unresolved: expected 'send' or 'skip'",
        ),
        ("name: twin", "name: twin\nallow_live: perhaps", "allow_live: expected a valid boolean"),
        ("name: twin", "name: twin\nretry: {attempts: 0}", "retry.attempts: expected greater than"),
        ("name: twin\n", "", "name: missing (required)"),
        ("recording: ../recordings/demo.jsonl", "recording: nope.jsonl", "recording: no such file"),
        (
            "targets: [{name: control, launch: localstripe}",
            "targets: [{name: control, launch: localstripe, role: candidate}",
            "targets[0].role: control is the baseline (baseline: control) but says role: candidate",
        ),
        (
            "name: twin",
            "name: twin\ncompare: [1, 2]",
            "compare: expected a mapping of keys, got a list",
        ),
    ],
)
def test_a_scenario_mistake_names_the_field(
    layout: Path, old: str, new: str, expected: str
) -> None:
    assert old in MINIMAL
    path = write(layout, MINIMAL.replace(old, new, 1))
    first = problems(path)[0]
    assert first.startswith(f"{path}: {expected}"), first


@pytest.mark.parametrize(
    ("added", "expected"),
    [
        ("1: 2", "keys are text; this one is a number (quote it)"),
        ("[a]: 2", "keys are text; this one is a list (quote it)"),
        ("timeout: .nan", ".nan is not a number a file may hold"),
        ("concurrency: " + "1" * 4301, "a number longer than 4300 digits"),
        ("compare: " + "[" * 101 + "]" * 101, "nested deeper than 100 levels"),
        (
            "description: a\x00b",
            "the character U+0000 is not allowed (a NUL byte or another control character; "
            "is this a text file?)",
        ),
    ],
)
def test_yaml_past_a_limit_is_refused_with_its_line(
    layout: Path, added: str, expected: str
) -> None:
    path = write(layout, MINIMAL.replace("name: twin\n", f"name: twin\n{added}\n", 1))
    line = MINIMAL.splitlines().index("name: twin") + 2
    assert problems(path) == [f"{path}:{line}: not valid YAML: {expected}"]


def test_every_problem_gets_its_own_line_with_its_line_number(layout: Path) -> None:
    text = """\
name: twin
recording: ../recordings/demo.jsonl
colour: blue
targets:
  - name: control
    launch: localstripe
  - name: twin
    url: not-a-url
"""
    lines = problems(write(layout, text))
    assert len(lines) == 2
    assert ": colour: unknown key (known keys: name, description, recording," in lines[0]
    assert lines[0].endswith("(line 3)")
    assert "targets[1].url: not a URL" in lines[1] and "(line 8)" in lines[1]


def test_roles_follow_baseline_and_default_to_candidate(layout: Path) -> None:
    text = """\
name: roles
recording: ../recordings/demo.jsonl
targets:
  - {name: a, launch: localstripe, role: baseline}
  - {name: b, launch: localstripe}
  - {name: c, launch: localstripe, role: secondary}
"""
    scenario = load_scenario(write(layout, text))
    assert scenario.baseline == "a"
    assert [t.role for t in scenario.targets] == ["baseline", "candidate", "secondary"]
    without = load_scenario(write(layout, text.replace(", role: baseline", ""), "r.yaml"))
    assert without.baseline == "recording"
    assert [t.role for t in without.targets] == ["candidate", "candidate", "secondary"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: [unclosed\n", ":2: not valid YAML"),
        ("name: a\nname: b\n", ":2: not valid YAML: duplicate key 'name'"),
        ("", ": empty scenario"),
        ("- a\n- b\n", ": expected a mapping of keys"),
    ],
)
def test_files_that_are_not_scenarios(layout: Path, text: str, expected: str) -> None:
    path = write(layout, text)
    assert problems(path)[0].startswith(f"{path}{expected}")


def test_shadow_validate_exit_codes_and_one_line_errors(layout: Path) -> None:
    runner = CliRunner()
    good = write(layout, MINIMAL)
    result = runner.invoke(main, ["validate", str(good)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output and "control (baseline)" in result.output

    bad = write(layout, MINIMAL.replace("launch: localstripe}]", "url: 'ftp:/x'}]"), "bad.yaml")
    result = runner.invoke(main, ["validate", str(bad)])
    assert result.exit_code == 2
    assert result.output.splitlines()[0].startswith(
        f"shadow: error: {bad}: targets[1].url: not a URL"
    )
    assert "Traceback" not in result.output

    result = runner.invoke(main, ["validate", str(layout / "missing.yaml")])
    assert result.exit_code == 2
    assert "no such scenario file" in result.output


def test_shadow_validate_checks_the_id_map_file(layout: Path) -> None:
    (layout / "map.csv").write_text("old_id,new_id\ncus_AAAAAAAA1\n")
    text = MINIMAL.replace(
        "{name: twin, launch: localstripe}", "{name: twin, launch: localstripe, id_map: ../map.csv}"
    )
    result = CliRunner().invoke(main, ["validate", str(write(layout, text))])
    assert result.exit_code == 2
    assert f"{layout / 'map.csv'}:2: expected old_id,new_id" in result.output


def test_accounts_same_by_default_a_mapping_or_a_file_of_accounts_only(layout: Path) -> None:
    text = MINIMAL.replace(
        "{name: twin, launch: localstripe}",
        "{name: twin, launch: localstripe, accounts: {acct_REC0000001: acct_NEW0000001}, "
        "pass_through: [cus_, sub_sched_]}",
    )
    control, twin = load_scenario(write(layout, text)).targets
    assert control.accounts == "same" and control.pass_through == []
    assert twin.accounts == {"acct_REC0000001": "acct_NEW0000001"}
    assert twin.pass_through == ["cus_", "sub_sched_"]

    (layout / "accounts.csv").write_text("old_id,new_id\ncus_REC0000001,cus_NEW0000001\n")
    text = MINIMAL.replace(
        "{name: twin, launch: localstripe}",
        "{name: twin, launch: localstripe, accounts: ../accounts.csv}",
    )
    result = CliRunner().invoke(main, ["validate", str(write(layout, text))])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"shadow: error: {layout / 'accounts.csv'}: cus_REC0000001 → cus_NEW0000001: not a "
        "connected account id (acct_…); target twin's accounts file maps accounts only"
    ]


def test_validate_as_a_real_process_prints_no_traceback(layout: Path) -> None:
    bad = write(layout, "name: x\nrecording: ../recordings/demo.jsonl\ntargets: 3\n")
    done = subprocess.run(
        [str(Path(sys.executable).parent / "shadow"), "validate", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"shadow: error: {bad}: targets: expected a valid list, got int (line 3)"
    ]
