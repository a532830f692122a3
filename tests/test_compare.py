"""`shadow compare` on run directories: hand-written ones (docs/run-format.md) for every
rule of the stage, and real replays of the demo for the two end-to-end promises."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.compare.pipeline import compare_run
from harness.compare.windows import WINDOW_NOISE
from harness.formats.idmap import write_idmap
from harness.formats.outcomes import read_outcomes
from harness.formats.recording import Header, RecordingWriter
from harness.formats.results import ResultWriter, iter_results
from harness.formats.rundir import RunInfo, write_run_json
from harness.model import Exchange, Request, Response
from harness.replay.launch.localstripe import LOCALSTRIPE_TEST_KEY

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "harness" / "schemas" / "summary-v2.schema.json").read_text())
T0 = 1_760_000_000.0

# --- writing run directories by hand ------------------------------------------------------


def exchange(
    seq: int,
    body: Any,
    *,
    method: str = "GET",
    path: str = "/v1/customers/cus_Recorded000001",
    status: int = 200,
    journey: int = 0,
    started: float = T0,
    error: str | None = None,
    **extra: Any,
) -> Exchange:
    text = body if isinstance(body, str) else json.dumps(body)
    response = None if error else Response(status, [("Content-Type", "application/json")], text)
    return Exchange(
        seq,
        started + seq,
        0.01,
        Request(method, path),
        response,
        error,
        {"journey": journey, **extra},
    )


def write_target(
    run_dir: Path, name: str, exchanges: Iterable[Exchange], ids: dict[str, str]
) -> None:
    header = Header(source={"kind": "replay", "run": run_dir.name, "target": name})
    with ResultWriter(run_dir / f"{name}.jsonl", header) as writer:
        for item in exchanges:
            writer.write(item)
    write_idmap(run_dir / f"{name}.idmap.json", name, ids)


def write_run(
    run_dir: Path,
    targets: dict[str, str],
    *,
    baseline: str = "control",
    recording: list[Exchange] | None = None,
    scenario: dict[str, Any] | None = None,
) -> Path:
    """run.json for `targets` (name → role); the recording and the scenario file too."""
    run_dir.mkdir(parents=True, exist_ok=True)
    recording_path = run_dir.parent / f"{run_dir.name}-recording.jsonl"
    with RecordingWriter(recording_path, Header()) as writer:
        for item in recording or []:
            writer.write(item)
    scenario_path = run_dir.parent / f"{run_dir.name}-scenario.yaml"
    scenario_path.write_text(json.dumps(scenario or {"name": "hand"}))
    write_run_json(
        run_dir,
        RunInfo.from_json(
            {
                "version": 1,
                "name": run_dir.name,
                "scenario": {"name": "hand", "path": str(scenario_path)},
                "recording": {
                    "path": str(recording_path),
                    "header": {},
                    "exchanges": len(recording or []),
                },
                "baseline": baseline,
                "targets": [
                    {"name": name, "role": role, "url": "http://127.0.0.1:1"}
                    for name, role in targets.items()
                ],
                "status": "finished",
            }
        ),
    )
    return run_dir


def customer(cid: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "customer",
        "created": int(T0),
        "email": "jenny@example.com",
        **fields,
    }


def summary_of(run_dir: Path) -> dict[str, Any]:
    data = json.loads((run_dir / "summary.json").read_text())
    jsonschema.validate(data, SCHEMA)
    return data


def twin_targets(run_dir: Path, candidate_change: dict[int, dict[str, Any]] | None = None) -> None:
    """control and upgraded answer three customer reads and a create; ids differ per target."""
    change = candidate_change or {}
    for name, prefix in (("control", "cus_Control0000"), ("upgraded", "cus_Upgraded000")):
        answers = []
        for seq in range(4):
            cid = f"{prefix}{seq}"
            body = customer(cid)
            if name == "upgraded":
                body.update(change.get(seq, {}))
            answers.append(exchange(seq, body, journey=seq // 2))
        write_target(
            run_dir, name, answers, {f"cus_Recorded00000{s}": f"{prefix}{s}" for s in range(4)}
        )


# --- the stage on hand-written runs --------------------------------------------------------


def test_an_unchanged_candidate_matches_everywhere(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "run", {"control": "baseline", "upgraded": "candidate"})
    twin_targets(run_dir)
    result = CliRunner().invoke(main, ["compare", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert "upgraded vs control: 4 exchanges: 4 match" in result.output
    summary = summary_of(run_dir)
    assert summary["candidates"]["upgraded"]["outcomes"]["match"] == 4
    assert summary["candidates"]["upgraded"]["groups"] == []
    assert summary["run"]["name"] == "run"
    assert summary["baseline"] == "control"
    outcomes = list(read_outcomes(run_dir))
    assert [(o.seq, o.kind, o.candidate) for o in outcomes] == [
        (s, "match", "upgraded") for s in range(4)
    ]


def test_one_row_per_cause_with_kinds_severities_journeys_and_samples(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "run", {"control": "baseline", "upgraded": "candidate"})
    twin_targets(
        run_dir, {0: {"email": None, "balance": "0"}, 1: {"email": None}, 3: {"tax_exempt": "none"}}
    )
    summary = compare_run(run_dir)
    upgraded = summary["candidates"]["upgraded"]
    rows = [
        (g["path"], g["kind"], g["severity"], g["count"], g["journeys"], g["samples"])
        for g in upgraded["groups"]
    ]
    assert rows == [
        ("$.email", "value", "medium", 2, 1, [0, 1]),
        ("$.balance", "added", "low", 1, 1, [0]),
        ("$.tax_exempt", "added", "low", 1, 1, [3]),
    ]
    assert upgraded["outcomes"] == {
        "match": 1,
        "noise": 0,
        "expected": 0,
        "difference": 3,
        "error": 0,
    }
    assert upgraded["severities"] == {"critical": 0, "high": 0, "medium": 2, "low": 1}
    example = upgraded["groups"][0]["example"]
    assert (example["seq"], example["baseline"], example["candidate"]) == (
        0,
        "jenny@example.com",
        None,
    )
    # The excerpt is the customer around its email, not the whole answer.
    assert example["excerpt"]["baseline"]["email"] == "jenny@example.com"
    assert example["excerpt"]["candidate"]["email"] is None
    assert upgraded["groups"][0]["cause"] == "customer.email value changed"
    assert upgraded["endpoints"] == {"GET /v1/customers/{customer}": {"match": 1, "difference": 3}}
    seq0 = next(o for o in read_outcomes(run_dir) if o.seq == 0)
    assert sorted((d.path, d.kind) for d in seq0.differences) == [
        ("$.balance", "added"),
        ("$.email", "value"),
    ]
    summary_of(run_dir)


def test_rerunning_with_rules_reclassifies_without_replaying(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "run", {"control": "baseline", "upgraded": "candidate"})
    twin_targets(run_dir, {0: {"email": None}, 2: {"tax_exempt": "none"}})
    compare_run(run_dir)
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "expect:\n  - path: $.email\n    kind: value\n    reason: emails are no longer returned\n"
        "ignore:\n  - path: tax_exempt\nsamples: 1\n"
    )
    result = CliRunner().invoke(main, ["compare", str(run_dir), "--rules", str(rules)])
    assert result.exit_code == 0, result.output
    upgraded = summary_of(run_dir)["candidates"]["upgraded"]
    assert upgraded["outcomes"] == {
        "match": 2,
        "noise": 1,
        "expected": 1,
        "difference": 0,
        "error": 0,
    }
    groups = {g["path"]: g for g in upgraded["groups"]}
    assert groups["$.email"]["outcome"] == "expected"
    assert groups["$.email"]["reason"] == "emails are no longer returned"
    assert groups["$.tax_exempt"]["outcome"] == "noise"
    assert len(list(read_outcomes(run_dir))) == 4  # rewritten, not appended


def test_the_scenario_compare_section_applies(tmp_path: Path) -> None:
    scenario = {
        "name": "hand",
        "compare": {"severity": [{"path": "$.email", "severity": "critical"}]},
    }
    run_dir = write_run(
        tmp_path / "run", {"control": "baseline", "upgraded": "candidate"}, scenario=scenario
    )
    twin_targets(run_dir, {1: {"email": "other@example.com"}})
    upgraded = compare_run(run_dir)["candidates"]["upgraded"]
    assert upgraded["severities"]["critical"] == 1
    assert upgraded["groups"][0]["severity"] == "critical"


def test_errors_are_outcomes_of_their_own(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "run", {"control": "baseline", "upgraded": "candidate"})
    ids = {"cus_Recorded000001": "cus_Control00001"}
    write_target(
        run_dir, "control", [exchange(s, customer("cus_Control00001")) for s in range(5)], ids
    )
    write_target(
        run_dir,
        "upgraded",
        [
            exchange(0, customer("cus_Upgraded0001")),
            exchange(1, "", error="connection refused"),
            exchange(2, "", error="skipped: unresolved ids cus_Recorded000009", skipped=True),
            exchange(3, {"error": {"type": "rate_limit_error"}}, status=429),
            # seq 4 was never replayed (an interrupted run)
        ],
        {"cus_Recorded000001": "cus_Upgraded0001"},
    )
    upgraded = compare_run(run_dir)["candidates"]["upgraded"]
    assert upgraded["outcomes"] == {
        "match": 1,
        "noise": 0,
        "expected": 0,
        "difference": 0,
        "error": 4,
    }
    assert {e["message"] for e in upgraded["error_groups"]} == {
        "connection refused",
        "skipped: unresolved ids cus_…0009",  # the id cut, so a reader can find it
        "rate limited (429)",
        "upgraded has no result for this exchange",
    }
    errors = {o.seq: o.error for o in read_outcomes(run_dir)}
    assert errors[1] == "connection refused"


def test_the_recording_can_be_the_baseline(tmp_path: Path) -> None:
    recorded = [exchange(s, customer(f"cus_Recorded00000{s}")) for s in range(3)]
    run_dir = write_run(
        tmp_path / "run", {"upgraded": "candidate"}, baseline="recording", recording=recorded
    )
    # Replayed 30 s after the recording: every `created` is 30 s later too.
    later = int(T0) + 30
    answers = [
        exchange(s, customer(f"cus_Upgraded00000{s}", created=later), started=T0 + 30)
        for s in range(3)
    ]
    answers[2] = exchange(
        2, customer("cus_Upgraded000002", created=later, email="x@example.com"), started=T0 + 30
    )
    write_target(
        run_dir,
        "upgraded",
        answers,
        {f"cus_Recorded00000{s}": f"cus_Upgraded00000{s}" for s in range(3)},
    )
    summary = compare_run(run_dir)
    assert summary["baseline"] == "recording"
    upgraded = summary["candidates"]["upgraded"]
    assert upgraded["outcomes"]["match"] == 2
    assert [(g["path"], g["kind"]) for g in upgraded["groups"]] == [("$.email", "value")]


def test_a_secondary_turns_what_the_baseline_does_not_repeat_into_noise(tmp_path: Path) -> None:
    roles = {"control": "baseline", "control-again": "secondary", "upgraded": "candidate"}
    run_dir = write_run(tmp_path / "run", roles)

    def answers(name: str, extra: dict[str, Any]) -> list[Exchange]:
        # `session` is new on every answer of every target: localstripe-like nondeterminism.
        return [
            exchange(s, {**customer("cus_Xxxxxxxxxx0001"), "session": f"{name}{s}", **extra})
            for s in range(6)
        ]

    ids = {"cus_Recorded000001": "cus_Xxxxxxxxxx0001"}
    write_target(run_dir, "control", answers("a", {}), ids)
    write_target(run_dir, "control-again", answers("b", {}), ids)
    write_target(run_dir, "upgraded", answers("c", {"currency": "eur"}), ids)
    summary = compare_run(run_dir)
    assert summary["secondary"] == "control-again"
    upgraded = summary["candidates"]["upgraded"]
    groups = {g["path"]: g for g in upgraded["groups"]}
    assert groups["$.session"]["outcome"] == "noise"
    assert groups["$.session"]["noise"] == {"candidate_rate": 100.0, "secondary_rate": 100.0}
    assert groups["$.currency"]["outcome"] == "difference"
    assert groups["$.currency"]["noise"] == {"candidate_rate": 100.0, "secondary_rate": 0.0}
    assert upgraded["outcomes"]["difference"] == 6
    assert "control-again" not in summary["candidates"]  # a secondary is measured, not judged
    summary_of(run_dir)


def test_many_mismatches_are_diffed_in_a_pool_with_the_same_result(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "run", {"control": "baseline", "upgraded": "candidate"})
    ids = {f"cus_Recorded{s:06d}": f"cus_Control{s:06d}" for s in range(600)}
    write_target(
        run_dir,
        "control",
        [exchange(s, customer(f"cus_Control{s:06d}", n=s)) for s in range(600)],
        ids,
    )
    changed = [
        exchange(s, customer(f"cus_Upgrade{s:06d}", n=s if s % 3 else -s)) for s in range(600)
    ]
    write_target(
        run_dir, "upgraded", changed, {k: v.replace("Control", "Upgrade") for k, v in ids.items()}
    )
    inline = compare_run(run_dir, workers=1)
    inline_outcomes = (run_dir / "outcomes.jsonl").read_text()
    pooled = compare_run(run_dir, workers=2, parallel_threshold=10)
    assert (run_dir / "outcomes.jsonl").read_text() == inline_outcomes
    assert pooled["candidates"] == inline["candidates"]
    assert pooled["candidates"]["upgraded"]["outcomes"]["difference"] == 199  # s % 3 == 0, s > 0


def test_the_last_line_for_a_seq_wins(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "run", {"control": "baseline", "upgraded": "candidate"})
    ids = {"cus_Recorded000001": "cus_Control00001"}
    write_target(run_dir, "control", [exchange(0, customer("cus_Control00001"))], ids)
    redone = [exchange(0, "", error="connection reset"), exchange(0, customer("cus_Upgraded0001"))]
    write_target(run_dir, "upgraded", redone, {"cus_Recorded000001": "cus_Upgraded0001"})
    assert compare_run(run_dir)["candidates"]["upgraded"]["outcomes"]["match"] == 1


# --- bad input ----------------------------------------------------------------------------


def _shadow(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from harness.cli import main; main()", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_a_missing_run_directory_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = _shadow("compare", str(tmp_path / "nope"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("shadow: error: ") and "nope" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_rules_file_names_file_and_field_and_exits_2(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "run", {"control": "baseline", "upgraded": "candidate"})
    twin_targets(run_dir)
    rules = tmp_path / "rules.yaml"
    rules.write_text("expect:\n  - path: $.email\n")
    result = _shadow("compare", str(run_dir), "--rules", str(rules))
    assert result.returncode == 2
    assert result.stderr == f"shadow: error: {rules}: expect[0].reason: field required\n"
    assert not (run_dir / "summary.json").exists()


def test_a_bad_compare_section_in_the_scenario_names_it(tmp_path: Path) -> None:
    scenario = {"name": "hand", "compare": {"ignore": [{"paths": "$.x"}]}}
    run_dir = write_run(
        tmp_path / "run", {"control": "baseline", "upgraded": "candidate"}, scenario=scenario
    )
    twin_targets(run_dir)
    result = CliRunner().invoke(main, ["compare", str(run_dir)])
    assert result.exit_code == 2
    assert "-scenario.yaml: compare.ignore[0].paths: unknown field" in result.output


def test_a_run_without_candidates_is_refused(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "run", {"control": "baseline"})
    write_target(run_dir, "control", [exchange(0, customer("cus_Control00001"))], {})
    result = CliRunner().invoke(main, ["compare", str(run_dir)])
    assert result.exit_code == 2
    assert "no target has role candidate" in result.output


# --- end to end: real replays of the demo ---------------------------------------------------


def replay(scenario: Path, out: Path, env: dict[str, str] | None = None) -> Path:
    """`shadow replay` as a user runs it; the targets are real localstripe processes.

    One request in flight per target. With more, `GET /v1/customers` (a barrier on
    customers only) can run before or after another journey's invoice write, and
    localstripe's customers embed their subscriptions' `latest_invoice`: the replay's
    ordering, not compare's, would then differ between the two targets.
    """
    command = [
        sys.executable,
        "-c",
        "from harness.cli import main; main()",
        "replay",
        str(scenario),
        "--out",
        str(out),
        "--concurrency",
        "1",
        "--no-progress",
    ]
    environment = {**os.environ, **(env or {})}
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=300, env=environment, check=False
    )
    assert result.returncode == 0, result.stderr
    return out


@pytest.mark.e2e
def test_the_twin_scenario_ends_with_zero_differences(tmp_path: Path) -> None:
    run_dir = replay(ROOT / "scenarios" / "twin.yaml", tmp_path / "twin")
    result = CliRunner().invoke(main, ["compare", str(run_dir)])
    assert result.exit_code == 0, result.output
    summary = summary_of(run_dir)
    twin = summary["candidates"]["twin"]
    assert twin["exchanges"] == 85
    assert twin["outcomes"]["error"] == 0
    unexplained = [
        (o.seq, o.endpoint, [(d.path, d.kind, d.baseline, d.candidate) for d in o.differences])
        for o in read_outcomes(run_dir)
        if o.kind != "match"
        # `GET /v1/invoices?limit=5` cuts through invoices made in one second, wherever
        # the second ticked on each localstripe: compare says so (compare.windows).
        and not all(d.reason == WINDOW_NOISE for d in o.differences)
    ]
    assert unexplained == []
    # What the normaliser had to absorb: every answer has new ids and times, and many
    # have fingerprints, client secrets and list urls.
    control = {e.seq: e for e in iter_results(run_dir / "control.jsonl")}
    other = {e.seq: e for e in iter_results(run_dir / "twin.jsonl")}
    assert sum(control[s].response.body != other[s].response.body for s in control) >= 80  # type: ignore[union-attr]


CHANGING_SCENARIO = """
name: changing
recording: {recording}
baseline: control
targets:
  - {{name: control, launch: localstripe}}
  - name: changed
    api_key_env: SHADOW_TEST_CHANGING_KEY
    launch:
      command: {python} {proxy} --port {{port}}
      url: http://127.0.0.1:{{port}}
      ready_path: /v1/balance
"""


@pytest.mark.e2e
def test_a_target_that_changes_three_things_yields_exactly_three_groups(tmp_path: Path) -> None:
    scenario = tmp_path / "changing.yaml"
    scenario.write_text(
        CHANGING_SCENARIO.format(
            recording=ROOT / "recordings" / "demo.jsonl",
            python=sys.executable,
            proxy=ROOT / "tests" / "changingproxy.py",
        )
    )
    run_dir = replay(scenario, tmp_path / "run", {"SHADOW_TEST_CHANGING_KEY": LOCALSTRIPE_TEST_KEY})
    compare_run(run_dir)
    changed = summary_of(run_dir)["candidates"]["changed"]
    assert changed["outcomes"]["error"] == 0
    groups = {
        (g["endpoint"], g["path"], g["kind"], g["severity"], g["outcome"], g["count"])
        for g in changed["groups"]
        # localstripe's page of invoices cut elsewhere: noise, says compare (windows.py)
        if g.get("reason") != WINDOW_NOISE
    }
    assert groups == {
        ("POST /v1/customers", "$.phone", "removed", "high", "difference", 6),
        ("POST /v1/plans", "$.amount", "type", "high", "difference", 2),
        ("GET /v1/charges", "$", "error", "critical", "difference", 1),
    }
    assert changed["severities"]["critical"] == 1
    assert changed["outcomes"]["difference"] == 9


@pytest.mark.e2e
def test_a_target_that_renames_one_field_of_one_object_type_shows_one_cause(
    tmp_path: Path,
) -> None:
    """tests/renamingproxy.py renames every customer's `email`: created, updated, listed,
    read. Each endpoint and path shows it, twice (removed and added), and it is one
    cause."""
    scenario = tmp_path / "renaming.yaml"
    scenario.write_text(
        CHANGING_SCENARIO.format(
            recording=ROOT / "recordings" / "demo.jsonl",
            python=sys.executable,
            proxy=ROOT / "tests" / "renamingproxy.py",
        )
    )
    run_dir = replay(scenario, tmp_path / "run", {"SHADOW_TEST_CHANGING_KEY": LOCALSTRIPE_TEST_KEY})
    compare_run(run_dir)
    changed = summary_of(run_dir)["candidates"]["changed"]
    real = [g for g in changed["groups"] if g["outcome"] == "difference"]
    assert [g["cause"] for g in real] == ["customer.email renamed to email_address"]
    places = {(p["endpoint"], p["path"]) for p in real[0]["locations"]}
    assert ("POST /v1/customers", "$.email") in places
    assert ("POST /v1/customers", "$.email_address") in places
    assert len(real[0]["endpoints"]) > 1
