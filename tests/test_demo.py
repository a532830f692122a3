"""`shadow demo`: the simulated upgrade's rewriting (plain data), the reading of a result,
its workspace, and the whole demo run from outside the repository as `make demo` runs it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.compare.pipeline import compare_run
from harness.demo.run import MARKER, prepare_workspace, reading
from harness.demo.simulated_upgrade import upgrade_answer, upgrade_object
from harness.errors import InputError
from harness.gate import FAILED, PASSED, UNJUDGED, CandidateVerdict, GateVerdict
from harness.map.build import WrittenMap
from harness.map.findings import Finding

SHADOW = str(Path(sys.executable).parent / "shadow")


def test_the_simulated_upgrade_rewrites_every_object_of_an_answer() -> None:
    customer = {"object": "customer", "id": "cus_1", "account_balance": -500, "email": "a@b.c"}
    subscription = {"object": "subscription", "id": "sub_1", "plan": {"id": "p"}, "quantity": 2}
    intent = {"object": "payment_intent", "charges": {"data": []}, "latest_charge": "ch_1"}
    answer = {
        "object": "list",
        "data": [{**customer, "subscriptions": {"object": "list", "data": [subscription]}}],
        "intent": intent,
    }
    assert upgrade_object(answer) == {
        "object": "list",
        "data": [
            {
                "object": "customer",
                "id": "cus_1",
                "email": "a@b.c",
                "subscriptions": {
                    "object": "list",
                    "data": [{"object": "subscription", "id": "sub_1"}],
                },
                "balance": -500,
            }
        ],
        "intent": {"object": "payment_intent", "latest_charge": "ch_1"},
    }
    deleted = {"object": "customer", "id": "cus_1", "deleted": True}
    assert upgrade_object(deleted) == deleted


def test_errors_and_non_json_answers_pass_through_unchanged() -> None:
    error = b'{"error": {"type": "card_error", "plan": 1}}'
    assert upgrade_answer(402, error) == error
    assert upgrade_answer(404, b"Not Found") == b"Not Found"
    assert upgrade_answer(200, b"not json") == b"not json"
    assert json.loads(upgrade_answer(200, b'{"object": "payment_intent", "charges": 1}')) == {
        "object": "payment_intent"
    }


def test_a_previous_demo_is_replaced_and_any_other_directory_refused(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    prepare_workspace(out)
    (out / "runs").mkdir()
    prepare_workspace(out)
    assert sorted(p.name for p in out.iterdir()) == [MARKER]
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="exists and is not a demo directory"):
        prepare_workspace(mine)
    assert (mine / "notes.txt").read_text() == "keep me"


def candidate(
    exchanges: int, outcomes: dict[str, int], groups: list[dict[str, Any]]
) -> dict[str, Any]:
    counts = {"match": 0, "noise": 0, "expected": 0, "difference": 0, "error": 0, **outcomes}
    return {"exchanges": exchanges, "outcomes": counts, "groups": groups}


def test_the_reading_says_what_each_candidate_showed_and_what_ci_would_do() -> None:
    removed = [
        {
            "endpoint": endpoints[0],
            "endpoints": endpoints,
            "cause": cause,
            "kind": "removed",
            "outcome": "difference",
        }
        for cause, endpoints in (
            ("customer.account_balance removed", ["POST /v1/customers", "GET /v1/customers"]),
            ("subscription.plan removed", ["POST /v1/subscriptions"]),
            ("subscription.quantity removed", ["POST /v1/subscriptions"]),
        )
    ]
    expected = {"path": "$.charges", "kind": "removed", "outcome": "expected", "reason": "why"}
    summary = {
        "baseline": "control",
        "run": {"recording": {"path": "/r/demo.jsonl", "exchanges": 85}, "plan": {"journeys": 18}},
        "candidates": {
            "twin": candidate(85, {"match": 85}, []),
            "upgraded": candidate(
                85,
                {"match": 40, "expected": 5, "difference": 40},
                [
                    *removed,
                    expected,
                ],
            ),
        },
    }
    verdict = GateVerdict(
        [CandidateVerdict("twin", PASSED, 85, 0), CandidateVerdict("upgraded", FAILED, 85, 0)]
    )
    text = reading([(summary, verdict, "high")])
    assert text.startswith(
        "demo.jsonl (85 exchanges in 18 journeys) was replayed against the baseline "
        "`control` and 2 candidates. `twin`, the same setup as the baseline, replayed again, "
        "matched on all 85 exchanges"
    )
    assert "answered 45 of 85 exchanges differently" in text
    assert '5 exchanges only in ways the scenario expects ("why")' in text
    assert (
        "3 causes of real differences: customer.account_balance removed (2 endpoints), "
        "subscription.plan removed (1 endpoint), subscription.quantity removed (1 endpoint)."
    ) in text
    assert "Gated at severity high and above, it fails." in text
    assert text.endswith(
        "In CI, `shadow run` would exit 1 on the first run (its gate failed: a cut-over waits "
        "until each regression is fixed, or accepted with `shadow accept RUN_DIR GROUP_ID "
        "--reason ...`)."
    )
    stuck = GateVerdict([CandidateVerdict("twin", UNJUDGED, 85, 80)])
    one = {
        **summary,
        "baseline": "recording",
        "candidates": {"twin": candidate(85, {"match": 5, "error": 80}, [])},
    }
    both = reading([(one, stuck, "low"), (summary, verdict, "high")])
    assert both.startswith(
        "demo.jsonl (85 exchanges in 18 journeys) was replayed against 1 candidate and "
        "compared with what was recorded. `twin`"
    )
    assert "80 exchanges could not be compared" in both
    assert "exit 3 on the first run (too many errors to judge) and 1 on the second run" in both

    def found(severity: str, subject: str) -> Finding:
        return Finding("rule", "A title", severity, subject, f"{subject} in detail", 3)

    mapped = WrittenMap(
        Path("demo/map"),
        [found("high", "one"), found("medium", "two"), found("low", "three"), found("low", "4")],
        1000,
        ["demo.jsonl"],
    )
    with_map = reading([(summary, verdict, "high")], mapped)
    assert (
        f"The integration map of demo.jsonl ({Path('demo/map/index.html')}) has 4 findings, "
        "the most serious first: [high] A title: one, one in detail; [medium] A title: two, "
        "two in detail; [low] A title: three, three in detail; and 1 more on the page. In CI"
    ) in with_map
    heard = {
        **summary,
        "events": {
            "baseline": "control",
            "targets": {
                "control": {"received": 49, "late": 19, "refused": 0},
                "twin": {"received": 49, "late": 17, "refused": 0},
            },
            "candidates": {
                "twin": {"events": 49, "outcomes": {"match": 49}, "causes": []},
            },
        },
    }
    assert (
        "Events: `control` sent 49 events (19 after its last answer, 0 refused); `twin` sent "
        "49 events (17 after its last answer, 0 refused); `twin`'s events matched `control`'s "
        "for 49 of 49 (0 event causes); `upgraded` sent no events the replay could hear. "
    ) in reading([(heard, verdict, "high")])
    assert "Events:" not in text  # a run that heard no events says nothing of them
    clean = WrittenMap(Path("m"), [], 1000, ["a.jsonl", "b.jsonl"])
    assert "The integration map of a.jsonl and b.jsonl" in reading([], clean)
    assert reading([], clean).endswith(
        "finds nothing to do better: the traffic follows every practice it checks."
    )


@pytest.mark.e2e
def test_the_demo_shows_a_control_that_passes_an_upgrade_that_fails_and_a_migration(
    tmp_path: Path,
) -> None:
    # From a directory that is not the repository: the demo finds what it ships itself.
    result = subprocess.run(
        [SHADOW, "demo", "--out", "demo", "--no-progress"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    text = "\n".join(lines)
    assert "twin: passed: 0 regressions at or above high (allowed 0), error rate 0 %" in text
    assert any(line.startswith("upgraded: failed: ") for line in lines)
    assert "payment-intents: passed: 0 regressions at or above low (allowed 0)" in text
    assert [line for line in lines if line.startswith("gate: ")] == ["gate: failed", "gate: passed"]
    for part in ("api-upgrade", "charges-to-payment-intents"):
        assert f"report: {Path('demo') / 'reports' / part / 'index.html'}" in lines
        assert (tmp_path / "demo" / "reports" / part / "index.html").is_file()
    assert f"map: {Path('demo') / 'map' / 'index.html'}" in lines
    assert (tmp_path / "demo" / "map" / "map.json").is_file()
    assert "high     Little rate-limit headroom: test mode" in lines
    paragraph = result.stdout.split("\n\n")[-1].replace("\n", " ")
    assert paragraph.startswith("demo.jsonl (85 exchanges in ")
    # The closing paragraph names the map's top findings.
    assert (
        f"The integration map of demo.jsonl ({Path('demo') / 'map' / 'index.html'}) has "
        "2 findings, the most serious first: [high] Little rate-limit headroom: test mode, "
        "46 requests in the second from 2026-11-23 19:24:59 UTC"
    ) in paragraph
    assert "[medium] Deprecated API in use: Plans API, 3 calls" in paragraph
    # The demo app's own database against Stripe: exactly the three planted drifts.
    assert "only in Stripe: customer x1: cus_RyNgKfDuwcBCOY" in lines
    assert (
        "field differs: subscription.status (value) x1 e.g. sub_nThErG2pf6n3W7: source "
        '"ACTIVE", Stripe "canceled"'
    ) in lines
    assert (
        "The app's own records (demo-app.sqlite) against the recording's last known states: "
        "12 match and 3 drifted: invoice.amount_due differs on 1 row (e.g. in_nyUor0a4CPdyaO: "
        "8.99 in the app, 900 in Stripe); subscription.status differs on 1 row (e.g. "
        "sub_nThErG2pf6n3W7: ACTIVE in the app, canceled in Stripe); 1 customer only in Stripe "
        "(cus_RyNgKfDuwcBCOY)."
    ) in paragraph
    reconciled = json.loads((tmp_path / "demo" / "reconcile" / "reconcile.json").read_text())
    assert reconciled["drift"] == 3
    assert (tmp_path / "demo" / "reconcile" / "index.html").is_file()
    assert "`shadow run` would exit 1 on the first run" in paragraph
    # Two localstripes' events, compared: the twin sends what the control sends.
    assert "`twin`'s events matched `control`'s for 49 of 49 (0 event causes)" in paragraph
    # Three changes in the API, each one cause however many endpoints show it: the
    # paragraph, the summary and the report say the same.
    causes = (
        "subscription.plan removed (7 endpoints), subscription.quantity removed (7 endpoints), "
        "customer.account_balance removed (4 endpoints)"
    )
    assert f"3 causes of real differences: {causes}." in paragraph
    assert "and 0 on the second run (its gate passed)." in paragraph

    summary = json.loads((tmp_path / "demo" / "runs" / "api-upgrade" / "summary.json").read_text())
    twin, upgraded = summary["candidates"]["twin"], summary["candidates"]["upgraded"]
    assert summary["events"]["candidates"]["twin"]["causes"] == []
    assert twin["outcomes"]["difference"] == twin["outcomes"]["error"] == 0
    assert upgraded["outcomes"]["error"] == 0
    # The real differences are exactly the simulated changes the scenario does not expect,
    # one cause each...
    real = [g for g in upgraded["groups"] if g["outcome"] == "difference"]
    assert sorted((g["cause"], len(g["endpoints"])) for g in real) == [
        ("customer.account_balance removed", 4),
        ("subscription.plan removed", 7),
        ("subscription.quantity removed", 7),
    ]
    report = tmp_path / "demo" / "reports" / "api-upgrade"
    shown = json.loads((report / "summary.json").read_text())["candidates"]["upgraded"]
    assert [g["cause"] for g in shown["groups"] if g["outcome"] == "difference"] == [
        g["cause"] for g in real
    ]
    page = (report / "index.html").read_text()
    assert all(json.dumps(g["cause"]) in page for g in real)
    assert "3 distinct causes" in page
    assert '<section id="events">' in page
    # ...the older ones it expects by rules show as expected, with the rules' reasons...
    expected = [g for g in upgraded["groups"] if g["outcome"] == "expected"]
    by_rule = {
        (g["path"].rsplit(".", 1)[-1], g["kind"], g["reason"].split(" ")[1])
        for g in expected
        if g["reason"].startswith("API ")
    }
    assert by_rule == {("charges", "removed", "2022-11-15"), ("balance", "added", "2019-10-17")}
    # ...and the basil changes are expected by the catalogue (`expect_upgrade: true`).
    by_catalogue = {
        (g["object"], g["field"], g["kind"]): g["reason"]
        for g in expected
        if not g["reason"].startswith("API ")
    }
    changelog = "(Stripe changelog: https://docs.stripe.com/changelog/basil)"
    assert all(reason.endswith(changelog) for reason in by_catalogue.values())
    assert by_catalogue[("invoice", "subscription", "removed")] == (
        f"moved to parent.subscription_details.subscription in 2025-03-31.basil {changelog}"
    )
    assert by_catalogue[("invoice", "charge", "removed")] == (
        f"removed in 2025-03-31.basil {changelog}"
    )
    assert by_catalogue[("subscription_item", "current_period_end", "added")]
    scenario = tmp_path / "demo" / "api-upgrade.yaml"
    assert scenario.read_text().startswith("# Written by `shadow demo`")

    # Compare's fast paths (the fused walk, the own diff) decide every exchange of both
    # demo runs as normalising everything and deepdiff do: the same outcomes, line for
    # line, and the same summary (groups, samples, counts) but for when it was made.
    for part in ("api-upgrade", "charges-to-payment-intents"):
        run = tmp_path / "demo" / "runs" / part
        fast = (run / "outcomes.jsonl").read_text()
        fast_summary = json.loads((run / "summary.json").read_text())
        slow = tmp_path / f"{part}-normalised"
        shutil.copytree(run, slow)
        compare_run(slow, fast=False)
        assert (slow / "outcomes.jsonl").read_text() == fast, part
        slow_summary = json.loads((slow / "summary.json").read_text())
        assert {**slow_summary, "compared": None} == {**fast_summary, "compared": None}, part
