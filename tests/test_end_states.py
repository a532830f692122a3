"""End states across targets (`reconcile: true`, `shadow reconcile RUN_DIR`): the demo
recording replayed against localstripe twins and against a target that cancels the
pro plan's subscriptions on its own, each target's end states fetched before it stops
and compared as compare compares answers."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner
from junitparser import JUnitXml

from harness.cli import main
from harness.gate import GateConfig, apply_gate
from harness.reconcile.endstates import changed_objects

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "recordings" / "demo.jsonl"
PROXY = Path(__file__).resolve().parent / "cancellingproxy.py"
SCHEMA = json.loads((ROOT / "harness" / "schemas" / "summary-v2.schema.json").read_text())


def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "states.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "end-states",
                "recording": str(DEMO),
                "baseline": "control",
                "concurrency": 1,
                "reconcile": True,
                "targets": [
                    {"name": "control", "launch": "localstripe"},
                    {"name": "twin", "launch": "localstripe"},
                    {
                        "name": "cancelling",
                        "launch": {
                            "command": f"{sys.executable} {PROXY} --port {{port}}",
                            "url": "http://127.0.0.1:{port}",
                            "ready_path": "/v1/balance",
                        },
                        "api_key_env": "SHADOW_TEST_STATES_KEY",
                    },
                ],
                "compare": {
                    "ignore": [
                        {
                            "endpoint": "GET /v1/invoices",
                            "path": "$.data*",
                            "reason": "localstripe orders invoices by whole seconds",
                        }
                    ]
                },
            }
        )
    )
    return path


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Any]:
    tmp_path = tmp_path_factory.mktemp("states")
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("SHADOW_TEST_STATES_KEY", "sk_test_cancellingproxy")
    try:
        result = CliRunner().invoke(
            main,
            [
                "run",
                str(scenario(tmp_path)),
                "--out",
                str(tmp_path / "run"),
                "--report",
                str(tmp_path / "report"),
                "--no-progress",
            ],
        )
    finally:
        monkeypatch.undo()
    return tmp_path / "run", tmp_path / "report", result


def test_every_target_end_states_are_fetched_in_one_order(ran: tuple[Path, Path, Any]) -> None:
    run_dir, _, _ = ran
    objects = changed_objects(DEMO)
    kinds = {o.object for o in objects}
    assert {"customer", "subscription", "invoice", "payment_intent", "plan"} <= kinds
    for target in ("control", "twin", "cancelling"):
        lines = [
            json.loads(x) for x in (run_dir / f"{target}.state.jsonl").read_text().splitlines()
        ]
        assert [line["recorded_id"] for line in lines] == [o.recorded_id for o in objects]
        assert all(line["status"] in (200, 404) for line in lines), target
        assert "sk_test_" not in (run_dir / f"{target}.state.jsonl").read_text()


def test_a_twin_shows_no_state_cause_and_the_cancelling_target_exactly_its_own(
    ran: tuple[Path, Path, Any],
) -> None:
    run_dir, report_dir, result = ran
    summary = json.loads((run_dir / "summary.json").read_text())
    jsonschema.validate(summary, SCHEMA)
    section = summary["reconciliation"]
    assert section["version"] == 1 and section["baseline"] == "control"
    twin = section["candidates"]["twin"]
    assert twin["causes"] == [] and twin["outcomes"]["state differs"] == 0
    assert twin["outcomes"]["missing object"] == 0
    assert twin["outcomes"]["state match"] == twin["objects"] == len(changed_objects(DEMO))

    cancelling = section["candidates"]["cancelling"]
    real = [c for c in cancelling["causes"] if c["outcome"] == "difference"]
    assert [(c["object"], c["field"], c["kind"], c["count"]) for c in real] == [
        ("subscription", "cancel_at_period_end", "value", 2)
    ]
    assert real[0]["samples"][0]["baseline"] is False
    assert real[0]["samples"][0]["candidate"] is True
    # Two objects' states show it: the subscription's, and the customer's, in which
    # localstripe embeds its subscriptions (one cause all the same).
    assert {s["recorded_id"][:4] for s in real[0]["samples"]} == {"sub_", "cus_"}
    assert cancelling["outcomes"]["state differs"] == 2
    assert cancelling["outcomes"]["missing object"] == 0

    objects = len(changed_objects(DEMO))
    assert (
        f"end states: twin: {objects} objects, {objects} state match, 0 state differs, "
        "0 missing object"
    ) in result.output
    # The gate fails on it: the run's exit code, and its reason.
    assert result.exit_code == 1, result.output
    assert (
        "cancelling: failed: 2 objects end in another state than the baseline's (allowed 0): "
        "subscription cancel_at_period_end value (2)"
    ) in result.output
    allowed = apply_gate(summary, GateConfig(max_state_differences=2, max_regressions=100))
    assert {c.name: c.status for c in allowed.candidates}["cancelling"] == "passed"

    # The report, JUnit and the Markdown summary carry the section.
    page = (report_dir / "index.html").read_text()
    assert 'id="end-states"' in page and "cancel_at_period_end" in page
    markdown = (report_dir / "summary.md").read_text()
    assert "End states" in markdown and "cancel_at_period_end" in markdown
    cases = {
        case.name: case
        for suite in JUnitXml.fromfile(str(report_dir / "junit.xml"))
        for case in suite
    }
    assert cases["end states: twin"].is_passed
    assert not cases["end states: cancelling"].is_passed


def test_reconcile_run_dir_fetches_again_and_says_a_stopped_target_is_gone(
    ran: tuple[Path, Path, Any],
) -> None:
    run_dir, _, _ = ran
    result = CliRunner().invoke(
        main, ["reconcile", str(run_dir)], env={"SHADOW_TEST_STATES_KEY": "sk_test_x"}
    )
    assert result.exit_code == 3, result.output
    assert "no answer to GET" in result.output and "reconcile: true" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_reconcile_run_dir_against_targets_that_still_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.replay.launch.localstripe import LOCALSTRIPE_TEST_KEY, localstripe

    monkeypatch.setenv("SHADOW_TEST_STATES_KEY", LOCALSTRIPE_TEST_KEY)
    with (
        localstripe(log_path=tmp_path / "one.log") as one,
        localstripe(log_path=tmp_path / "two.log") as two,
    ):
        path = tmp_path / "urls.yaml"
        path.write_text(
            yaml.safe_dump(
                {
                    "name": "urls",
                    "recording": str(DEMO),
                    "baseline": "one",
                    "concurrency": 1,
                    "targets": [
                        {
                            "name": n,
                            "url": u,
                            "api_key_env": "SHADOW_TEST_STATES_KEY",
                            "rate_limit": 50,
                        }
                        for n, u in (("one", one.url), ("two", two.url))
                    ],
                }
            )
        )
        run_dir = tmp_path / "run"
        replayed = CliRunner().invoke(main, ["replay", str(path), "--out", str(run_dir)])
        assert replayed.exit_code == 0, replayed.output
        compared = CliRunner().invoke(main, ["compare", str(run_dir)])
        assert compared.exit_code == 0, compared.output
        result = CliRunner().invoke(main, ["reconcile", str(run_dir)])
    assert result.exit_code == 0, result.output
    objects = len(changed_objects(DEMO))
    assert f"two: {objects} objects: {objects} state match, 0 state differs" in result.output
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["reconciliation"]["candidates"]["two"]["causes"] == []


def test_a_preview_invoice_is_no_object_the_replay_changed(tmp_path: Path) -> None:
    """`POST /v1/invoices/create_preview` answers an invoice `upcoming_in_…` that Stripe
    never stores: fetched back it is a 404 on every target, and against the recording a
    `missing object` that is none."""
    from harness.formats.recording import Header, RecordingWriter
    from harness.model import Exchange, Request, Response

    answers = [
        ("/v1/invoices", {"id": "in_Abcdefgh1234", "object": "invoice"}),
        ("/v1/invoices/create_preview", {"id": "upcoming_in_Abcdefgh1234", "object": "invoice"}),
        ("/v1/customers", {"id": "cus_Abcdefgh1234", "object": "customer"}),
    ]
    path = tmp_path / "preview.jsonl"
    with RecordingWriter(path, Header()) as writer:
        for seq, (where, body) in enumerate(answers):
            writer.write(
                Exchange(
                    seq=seq,
                    started=1_800_000_000.0 + seq,
                    duration=0.01,
                    request=Request(method="POST", path=where, body="customer=cus_Abcdefgh1234"),
                    response=Response(status=200, body=json.dumps(body)),
                )
            )
    assert [o.recorded_id for o in changed_objects(path)] == ["in_Abcdefgh1234", "cus_Abcdefgh1234"]
