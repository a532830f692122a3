"""`shadow run` end to end, as a user runs it: real localstripe targets, the demo
recording, and each of the four exit codes."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from demoprefix import EXCHANGES, demo_prefix

from harness.compare.cause import Cause
from harness.compare.group import group_id
from harness.replay.launch.localstripe import LOCALSTRIPE_TEST_KEY, localstripe_command

SHADOW = str(Path(sys.executable).parent / "shadow")
ROOT = Path(__file__).resolve().parent.parent
CHANGING_PROXY = ROOT / "tests" / "changingproxy.py"

# localstripe sorts invoices by whole seconds: a page of five can end on another invoice
# from one replay to the next (tests/test_compare.py explains it). Without this rule a
# run of identical targets would, now and then, not be identical.
INVOICE_PAGE = {
    "endpoint": "GET /v1/invoices",
    "path": "$.data*",
    "reason": "localstripe orders invoices of the same second arbitrarily",
}
CHANGED = {
    "name": "changed",
    "api_key_env": "SHADOW_TEST_CHANGING_KEY",
    "launch": {
        "command": f"{sys.executable} {CHANGING_PROXY} --port {{port}}",
        "url": "http://127.0.0.1:{port}",
        "ready_path": "/v1/balance",
    },
}
# The three causes tests/changingproxy.py introduces.
# The three causes tests/changingproxy.py makes, by id: two fields of objects and, for an
# error answer, the endpoint's signature (whose id is the one it always had).
PHONE = Cause("removed", "customer", "phone").id
AMOUNT = Cause("type", "plan", "amount").id
CHARGES = group_id("GET /v1/charges", "$", "error")


def scenario(tmp_path: Path, *targets: dict[str, Any], **extra: Any) -> Path:
    data: dict[str, Any] = {
        "name": "run-test",
        "recording": str(demo_prefix(tmp_path)),
        "baseline": "control",
        # One request at a time per target, so both targets create objects in one order.
        "concurrency": 1,
        "targets": [{"name": "control", "launch": "localstripe"}, *targets],
        "compare": {"ignore": [INVOICE_PAGE]},
        **extra,
    }
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def shadow(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"SHADOW_TEST_CHANGING_KEY": LOCALSTRIPE_TEST_KEY}
    return subprocess.run(
        [SHADOW, *map(str, args)],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def table(stdout: str) -> dict[str, dict[str, str]]:
    """The per-candidate table `shadow run` prints, by candidate and column."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("candidate "))
    header = lines[start].split()
    rows = {}
    for line in lines[start + 1 :]:
        cells = line.replace(" (", "_(").replace(" %)", "%)").split(maxsplit=len(header) - 1)
        if len(cells) != len(header):
            break
        rows[cells[0]] = dict(zip(header, cells, strict=True))
    return rows


@pytest.mark.e2e
def test_exit_0_when_the_gate_passes(tmp_path: Path) -> None:
    path = scenario(tmp_path, {"name": "twin", "launch": "localstripe"})
    result = shadow(
        "run", path, "--out", "run", "--report", "report", "--no-progress", cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    twin = table(result.stdout)["twin"]
    assert twin["exchanges"] == str(EXCHANGES)
    assert [twin[s] for s in ("critical", "high", "medium", "low", "errors")] == ["0"] * 5
    assert twin["gate"] == "passed"
    lines = result.stdout.splitlines()
    assert "gate: passed" in lines
    assert lines[-2:] == ["run: run", f"report: {Path('report') / 'index.html'}"]
    for name in ("index.html", "summary.json", "junit.xml", "summary.md"):
        assert (tmp_path / "report" / name).is_file()
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["candidates"]["twin"]


@pytest.mark.e2e
def test_exit_1_when_the_gate_fails_and_the_reasons_name_the_groups(tmp_path: Path) -> None:
    path = scenario(tmp_path, CHANGED, gate={"fail_on": "high"})
    result = shadow(
        "run", path, "--out", "run", "--report", "report", "--no-progress", cwd=tmp_path
    )
    assert result.returncode == 1, result.stdout + result.stderr
    changed = table(result.stdout)["changed"]
    assert (changed["critical"], changed["high"], changed["errors"]) == ("1", "8", "0")
    assert changed["gate"] == "failed"
    reason = next(line for line in result.stdout.splitlines() if line.startswith("changed: "))
    assert reason.startswith("changed: failed: 3 regressions at or above high (allowed 0): ")
    for group in (PHONE, AMOUNT, CHARGES):
        assert f"[{group}]" in reason
    assert "gate: failed" in result.stdout.splitlines()

    # The command line wins over the scenario's gate: section.
    summary = tmp_path / "run" / "summary.json"
    lenient = shadow(
        "gate", summary, "--fail-on", "critical", "--max-regressions", "1", cwd=tmp_path
    )
    assert lenient.returncode == 0, lenient.stdout
    # Adopting the gate on an integration that already differs: only new groups count.
    known = shadow("gate", summary, "--baseline-summary", summary, cwd=tmp_path)
    assert known.returncode == 0, known.stdout
    assert "3 known from the baseline summary" in known.stdout


@pytest.mark.parametrize(
    ("args", "extra", "message"),
    [
        ([], {"gate": {"fail_on": "severe"}}, "scenario.yaml: gate.fail_on: expected 'critical'"),
        (
            [],
            {"compare": {"expect": [{"path": "$.x"}]}},
            "compare.expect[0].reason: field required",
        ),
        (["--baseline-summary", "old.json"], {}, "old.json: no such summary file"),
        (["--max-regressions", "-1"], {}, "Invalid value for '--max-regressions'"),
    ],
)
def test_exit_2_on_bad_input_before_any_target_starts(
    tmp_path: Path, args: list[str], extra: dict[str, Any], message: str
) -> None:
    path = scenario(tmp_path, {"name": "twin", "launch": "localstripe"}, **extra)
    result = shadow("run", path, "--out", "run", *args, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.e2e
def test_exit_3_when_a_target_cannot_be_started(tmp_path: Path) -> None:
    command = f"{sys.executable} -c 'raise SystemExit(4)' --port {{port}}"
    broken = {"name": "broken", "launch": {"command": command, "url": "http://127.0.0.1:{port}"}}
    path = scenario(tmp_path, broken)
    result = shadow("run", path, "--out", "run", "--no-progress", cwd=tmp_path)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "target broken: " in result.stderr
    assert "exited with code 4 before it was ready" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert json.loads((tmp_path / "run" / "run.json").read_text())["status"] == "failed"


@pytest.mark.e2e
def test_exit_3_when_too_many_errors_to_judge(tmp_path: Path) -> None:
    # localstripe sent no key: it refuses every create, so every later request refers to
    # ids this target never made and is skipped: errors, not differences.
    keyless = {
        "name": "keyless",
        "launch": {
            # The launcher's own command: on 127.0.0.1, with a store of its own.
            "command": shlex.join(localstripe_command(0)).replace("--port 0", "--port {port}"),
            "url": "http://127.0.0.1:{port}",
            "ready_path": "/v1/balance",
        },
    }
    path = scenario(tmp_path, keyless)
    result = shadow(
        "run", path, "--out", "run", "--report", "report", "--no-progress", cwd=tmp_path
    )
    assert result.returncode == 3, result.stdout + result.stderr
    row = table(result.stdout)["keyless"]
    assert int(row["errors"]) > 0.05 * EXCHANGES
    assert row["gate"] == "cannot judge"
    assert "keyless: cannot judge: " in result.stdout
    assert "gate: cannot judge" in result.stdout.splitlines()
    assert (tmp_path / "report" / "index.html").is_file()  # the report says what happened
