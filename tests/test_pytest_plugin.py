"""The pytest plugin, in real pytest subprocesses (pytester): off unless asked, one item
per journey per candidate, the differences of a failing journey, the same outcomes with
and without pytest-xdist, and the reports written when the session ends."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from demoprefix import EXCHANGES, demo_prefix

from harness.formats.recording import RecordingReader
from harness.replay.launch.localstripe import LOCALSTRIPE_TEST_KEY
from harness.replay.plan import plan_recording
from harness.stripe import endpoint_template

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
KEY_ENV = "SHADOW_TEST_CHANGING_KEY"
CHANGED = {
    "name": "changed",
    "api_key_env": KEY_ENV,
    "launch": {
        "command": f"{sys.executable} {ROOT / 'tests' / 'changingproxy.py'} --port {{port}}",
        "url": "http://127.0.0.1:{port}",
        "ready_path": "/v1/balance",
    },
}
# What tests/changingproxy.py changes.
CHANGED_ENDPOINTS = {"POST /v1/customers", "POST /v1/plans", "GET /v1/charges"}


def scenario(directory: Path, name: str, *targets: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    data = {
        "name": name,
        "recording": str(demo_prefix(directory)),
        "baseline": "control",
        # One request at a time per target, so both create their objects in one order.
        "concurrency": 1,
        "targets": [{"name": "control", "launch": "localstripe"}, *targets],
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def journeys(recording: Path) -> int:
    return plan_recording(recording, set()).journeys


def changed_journeys(recording: Path) -> set[int]:
    """The journeys holding an exchange the changing proxy answers differently."""
    plan = plan_recording(recording, set())
    with RecordingReader(recording) as reader:
        return {
            plan.journey_of[position]
            for position, exchange in enumerate(reader)
            if endpoint_template(exchange.request.method, exchange.request.path)
            in CHANGED_ENDPOINTS
        }


def junit_outcomes(path: Path) -> dict[str, str]:
    """nodeid-like `classname::name` → passed / failed / error / skipped."""
    outcomes = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        outcomes[f"{case.get('classname')}::{case.get('name')}"] = (
            {"failure": "failed"}.get(kinds[0], kinds[0]) if kinds else "passed"
        )
    return outcomes


def test_the_plugin_stays_off_without_its_options(pytester: pytest.Pytester) -> None:
    scenario(pytester.path / "scenarios", "changing", CHANGED)
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "= stripe-shadow =" not in result.stdout.str()  # no summary section
    assert not (pytester.path / "runs").exists()
    assert not (pytester.path / "reports").exists()


def test_shadow_collect_makes_one_item_per_journey_per_candidate(
    pytester: pytest.Pytester,
) -> None:
    scenario(
        pytester.path / "scenarios", "changing", CHANGED, {"name": "twin", "launch": "localstripe"}
    )
    (pytester.path / "scenarios" / "rules").mkdir()
    (pytester.path / "scenarios" / "rules" / "accepted.yaml").write_text("expect: []\n")
    result = pytester.runpytest_subprocess(
        "--shadow-collect", "--collect-only", "-q", "--shadow-out", "runs", "-p", "no:cacheprovider"
    )
    assert result.ret == 0, result.stdout.str()
    items = [line for line in result.stdout.lines if "::" in line]
    expected = [
        f"scenarios/changing.yaml::{candidate}::journey-{n}"
        for candidate in ("changed", "twin")
        for n in range(journeys(pytester.path / "scenarios" / "demo-prefix.jsonl"))
    ]
    assert items == expected
    # Collecting replays nothing: the first item that runs does.
    assert list((pytester.path / "runs").iterdir()) == []


def test_a_scenario_that_does_not_load_is_a_one_line_collection_error(
    pytester: pytest.Pytester,
) -> None:
    bad = pytester.path / "bad.yaml"
    bad.write_text(f"name: bad\nrecording: {demo_prefix(pytester.path)}\ntargets: []\n")
    result = pytester.runpytest_subprocess("--shadow", str(bad), "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines([f"{bad}: targets: *"])
    assert "Traceback" not in result.stdout.str()


def test_a_target_that_cannot_start_fails_every_item_with_the_reason(
    pytester: pytest.Pytester,
) -> None:
    broken = {
        "name": "broken",
        "launch": {
            "command": f"{sys.executable} -c 'raise SystemExit(4)' {{port}}",
            "url": "http://127.0.0.1:{port}",
        },
    }
    path = scenario(pytester.path, "broken", broken)
    result = pytester.runpytest_subprocess(
        "--shadow", str(path), "--shadow-out", "runs", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(failed=journeys(pytester.path / "demo-prefix.jsonl"))
    result.stdout.fnmatch_lines(["*target broken: * exited with code 4 before it was ready*"])
    # Tried once for the whole session, not once per item.
    assert len(list((pytester.path / "runs").glob("*.state.json"))) == 1
    assert len(list((pytester.path / "runs").glob("*/broken.log"))) == 1


@pytest.mark.e2e
def test_serial_and_xdist_sessions_judge_the_same_journeys(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, LOCALSTRIPE_TEST_KEY)
    path = scenario(pytester.path, "changing", CHANGED)
    sessions = {}
    for name, extra in (("serial", []), ("xdist", ["-n", "2"])):
        result = pytester.runpytest_subprocess(
            "--shadow",
            str(path),
            "--shadow-out",
            f"runs-{name}",
            "--shadow-report",
            f"reports-{name}",
            f"--junitxml={name}.xml",
            "-p",
            "no:cacheprovider",
            *extra,
        )
        assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
        sessions[name] = result

        # Replayed once per session, by whichever worker came first.
        runs = list((pytester.path / f"runs-{name}").glob("*.state.json"))
        assert len(runs) == 1
        run_dir = runs[0].with_name(runs[0].name.removesuffix(".state.json"))
        lines = (run_dir / "changed.jsonl").read_text().splitlines()
        assert len(lines) == 1 + EXCHANGES  # the header, then each exchange once
        # The report is written when the session ends.
        page = pytester.path / f"reports-{name}" / run_dir.name / "index.html"
        assert page.is_file()
        result.stdout.fnmatch_lines(["*stripe-shadow*", f"report: {page}"])

    serial = junit_outcomes(pytester.path / "serial.xml")
    parallel = junit_outcomes(pytester.path / "xdist.xml")
    assert serial == parallel
    recording = pytester.path / "demo-prefix.jsonl"
    assert len(serial) == journeys(recording)
    failed = {int(key.rsplit("-", 1)[1]) for key, outcome in serial.items() if outcome == "failed"}
    assert failed == changed_journeys(recording)
    assert set(serial.values()) == {"passed", "failed"}

    # A failing item shows its journey's differences.
    for result in sessions.values():
        result.stdout.fnmatch_lines(
            [
                "*changed, journey * exchanges fail (an error, or a real difference of severity*",
                "seq * POST /v1/customers:",
                '    high removed $.phone: "+336*" → (absent)',
            ]
        )
        result.stdout.fnmatch_lines(["seq * GET /v1/charges:", "    critical error $: 200 → 402"])
