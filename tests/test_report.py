"""`shadow report` on compared run directories: the four files, their formats, safety
(escaping and redaction), size at 100,000 exchanges, and one-line errors. The page itself
is opened in a real browser in test_report_browser.py."""

from __future__ import annotations

import json
import re
import time
from html import unescape
from pathlib import Path
from typing import Any

import jsonschema
import junitparser
import pytest
from click.testing import CliRunner
from reportdata import (
    CARD_NUMBER,
    CLOSING_KEY,
    EXPECTED_REASON,
    LIVE_KEY,
    SCRIPT_TEXT,
    build_run,
)

from harness.capture.redact import redact_tree
from harness.cli import main
from harness.compare.pipeline import compare_run
from harness.report import write_report
from harness.report.facts import redaction_statement, without_secrets
from harness.report.html import script_json
from harness.report.junit import xml_text
from harness.report.markdown import md_code, md_text
from harness.report.phrasing import before_after, percent, verdict_line

SCHEMA = json.loads(
    (Path(__file__).parent.parent / "harness" / "schemas" / "summary-v2.schema.json").read_text()
)
FILES = ("index.html", "summary.json", "junit.xml", "summary.md")


def page_data(html: str) -> dict[str, Any]:
    """The JSON data block of a report page."""
    match = re.search(
        r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S
    )
    assert match is not None
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def report(run_dir: Path, out: Path) -> dict[str, str]:
    result = CliRunner().invoke(main, ["report", str(run_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return {name: (out / name).read_text(encoding="utf-8") for name in FILES}


# --- the four files ---------------------------------------------------------------------


def test_report_writes_four_files_under_reports_run_name_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = build_run(tmp_path / "runs")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["report", str(run.path)])
    assert result.exit_code == 0, result.output
    out = tmp_path / "reports" / run.name
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    assert "upgraded: regressions found: 60 exchanges" in result.output
    assert f"wrote reports/{run.name}/: index.html" in result.output


def test_summary_json_is_the_compare_summary_and_valid_against_its_schema(tmp_path: Path) -> None:
    run = build_run(tmp_path, candidates=("upgraded", "account-b"))
    files = report(run.path, tmp_path / "out")
    written = json.loads(files["summary.json"])
    jsonschema.validate(run.summary, SCHEMA)
    jsonschema.validate(written, SCHEMA)
    assert written == run.summary  # nothing secret in it: the copy is the same


def test_junit_has_a_case_per_group_and_fails_the_real_differences(tmp_path: Path) -> None:
    run = build_run(tmp_path, candidates=("upgraded", "account-b"))
    report(run.path, tmp_path / "out")
    xml = junitparser.JUnitXml.fromfile(str(tmp_path / "out" / "junit.xml"))
    suites = {suite.name: suite for suite in xml}
    assert set(suites) == {"upgraded compared with control", "account-b compared with control"}
    upgraded = suites["upgraded compared with control"]
    groups = run.summary["candidates"]["upgraded"]["groups"]
    cases = list(upgraded)
    assert len(cases) == len(groups) + 1  # and "every exchange was answered"
    real = [g for g in groups if g["outcome"] == "difference"]
    failed = [c for c in cases if c.result and isinstance(c.result[0], junitparser.Failure)]
    assert len(failed) == len(real) == upgraded.failures
    critical = next(c for c in failed if "payment_intent}/confirm" in c.name)
    assert critical.result[0].type == "critical"
    assert critical.result[0].message.startswith("critical: error changed in")
    assert "200 → 402" in critical.result[0].message
    assert "sample exchanges: #" in critical.result[0].text
    # One case per cause, named as the report names it.
    assert {c.name for c in failed} == {g["cause"] for g in real}
    assert "seen at: POST /v1/customers $.account_balance (11)" in next(
        c.result[0].text for c in failed if c.name == "customer.account_balance removed"
    )
    expected = next(c for c in cases if c.name == "payment_intent.charges removed (expected)")
    assert expected.is_passed
    assert EXPECTED_REASON in expected.system_out
    answered = next(c for c in cases if c.name == "every exchange was answered and compared")
    assert isinstance(answered.result[0], junitparser.Error)
    assert "connection refused" in answered.result[0].text
    assert upgraded.errors == 1


def test_junit_of_a_clean_run_has_passing_cases(tmp_path: Path) -> None:
    run = build_run(tmp_path, exchanges=3, candidates=("account-b",))
    # 3 exchanges: a customer created, read, a payment intent without its charges (expected)
    report(run.path, tmp_path / "out")
    xml = junitparser.JUnitXml.fromfile(str(tmp_path / "out" / "junit.xml"))
    suite = next(iter(xml))
    assert suite.tests >= 1 and suite.failures == 0 and suite.errors == 0
    assert all(case.is_passed for case in suite)


def test_summary_md_is_short_and_names_the_causes(tmp_path: Path) -> None:
    run = build_run(tmp_path, candidates=("upgraded", "account-b"))
    md = report(run.path, tmp_path / "out")["summary.md"]
    assert len(md) < 4000
    assert "### FAIL upgraded compared with control: regressions found" in md
    confirm = "POST /v1/payment_intents/{payment_intent}/confirm"
    assert f"| critical | `{confirm} $ error changed` |" in md
    assert "| high | `customer.account_balance removed` | POST /v1/customers | 11 |" in md
    assert "Also in the full report: 1 expected group, 1 noise group." in md
    assert "Not compared: connection refused (1)" in md


# --- safety -----------------------------------------------------------------------------


def test_no_secret_from_content_reaches_any_file(tmp_path: Path) -> None:
    run = build_run(tmp_path, hostile=True, candidates=("upgraded", "account-b"))
    raw = (run.path / "upgraded.jsonl").read_text() + json.dumps(run.summary)
    assert LIVE_KEY in raw and CARD_NUMBER in raw  # the candidate echoed them back
    files = report(run.path, tmp_path / "out")
    for name, text in files.items():
        assert LIVE_KEY not in text, name
        assert LIVE_KEY[8:] not in text, name
        assert CARD_NUMBER not in text, name
    summary = json.loads(files["summary.json"])
    echo = next(
        g for g in summary["candidates"]["upgraded"]["groups"] if g["path"] == "$.metadata.echo"
    )
    assert echo["example"]["candidate"].startswith("sk_live_<redacted:")
    sides = page_data(files["index.html"])["sides"]["candidates"]["upgraded"]
    shown = json.dumps(sides)
    assert "sk_live_<redacted:" in shown and "<redacted:card:5556>" in shown


def test_html_is_one_self_contained_file_and_content_cannot_become_markup(tmp_path: Path) -> None:
    run = build_run(tmp_path, hostile=True, candidates=("upgraded", '"><b id=injected>b</b>'))
    html = report(run.path, tmp_path / "out")["index.html"]
    # Nothing fetched: no external reference, a policy that forbids every fetch.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html, re.I)
    assert "<link" not in html and "@import" not in html and "url(" not in html
    assert "default-src 'none'" in unescape(html)
    # Exactly two script elements: the data block (JSON, inert) and the page's own script.
    assert html.count("<script") == 2
    data_block = re.search(r'id="report-data">(.*?)</script>', html, re.S)
    assert data_block is not None and "<" not in data_block.group(1)
    assert "<b id=injected>" not in html  # the hostile candidate name, escaped by jinja2
    assert "&#34;&gt;&lt;b id=injected&gt;b&lt;/b&gt;" in html
    assert SCRIPT_TEXT not in html and CLOSING_KEY not in html
    data = page_data(html)
    assert any(g["path"] == f"$.metadata[{json.dumps(CLOSING_KEY)}]" for g in data["groups"])


def test_markdown_and_junit_keep_hostile_content_inert(tmp_path: Path) -> None:
    run = build_run(tmp_path, hostile=True)
    files = report(run.path, tmp_path / "out")
    md = files["summary.md"]
    for line in md.splitlines():
        if "<" in line:  # only inside code spans, where Markdown shows it literally
            assert all(part.count("`") for part in re.findall(r"`[^`]*<[^`]*`", line)), line
            assert not re.search(r"<(script|img)\b", re.sub(r"`[^`]*`", "", line)), line
    xml = junitparser.JUnitXml.fromfile(str(tmp_path / "out" / "junit.xml"))
    names = [case.name for suite in xml for case in suite]
    assert any(CLOSING_KEY in name for name in names)  # read back as text, intact


# --- what the page carries --------------------------------------------------------------


def test_page_carries_samples_of_groups_only_with_their_outcomes(tmp_path: Path) -> None:
    run = build_run(tmp_path, exchanges=400)
    data = page_data(report(run.path, tmp_path / "out")["index.html"])
    groups = run.summary["candidates"]["upgraded"]["groups"]
    errors = run.summary["candidates"]["upgraded"]["error_groups"]
    wanted = {s for g in groups for s in g["samples"]} | {s for e in errors for s in e["samples"]}
    assert {int(s) for s in data["sides"]["baseline"]} == wanted
    assert {int(s) for s in data["sides"]["candidates"]["upgraded"]} == wanted
    assert {int(s) for s in data["outcomes"]["upgraded"]} == wanted
    confirm = next(g for g in data["groups"] if g["kind"] == "error")
    seq = str(confirm["samples"][0])
    assert data["sides"]["baseline"][seq]["response"]["status"] == 200
    assert data["sides"]["candidates"]["upgraded"][seq]["response"]["status"] == 402
    assert data["outcomes"]["upgraded"][seq]["differences"][0]["change"] == "200 → 402"
    assert confirm["example"] == "200 → 402"
    created = data["sides"]["baseline"]["0"]["request"]["body"]
    assert created["form"] == {"description": "order 0", "metadata": {"order": "0"}}


def test_the_last_line_for_a_seq_wins(tmp_path: Path) -> None:
    run = build_run(tmp_path)
    target = run.path / "upgraded.jsonl"
    lines = target.read_text().splitlines()
    first = json.loads(next(line for line in lines[1:] if json.loads(line)["seq"] == 0))
    first["response"]["body"] = json.dumps({"id": "cus_redone", "object": "customer"})
    target.write_text("\n".join(lines) + "\n" + json.dumps(first) + "\n")
    data = page_data(report(run.path, tmp_path / "out")["index.html"])
    assert (
        data["sides"]["candidates"]["upgraded"]["0"]["response"]["body"]["json"]["id"]
        == "cus_redone"
    )


def test_recording_as_baseline_shows_the_recorded_exchanges(tmp_path: Path) -> None:
    run = build_run(tmp_path, baseline="recording")
    html = report(run.path, tmp_path / "out")["index.html"]
    data = page_data(html)
    assert data["baseline"] == "recording"
    assert data["sides"]["baseline"]["0"]["request"]["target"] == "/v1/customers"
    assert "compared with the recording" in html
    # The answers were compared with what was recorded; nothing was sent to a recording.
    lede = " ".join(html.split('<p class="lede">')[1].split("</p>")[0].split())
    assert "compared with what Stripe answered when the calls were recorded" in lede
    assert "recording</strong>" not in lede and "sent again to the recording" not in lede
    assert "sent again to 1 candidate setup" in lede


def test_a_missing_target_file_leaves_that_side_out_with_a_warning(tmp_path: Path) -> None:
    run = build_run(tmp_path)
    (run.path / "control.jsonl").unlink()
    result = CliRunner().invoke(main, ["report", str(run.path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "control.jsonl: missing" in result.output
    data = page_data((tmp_path / "out" / "index.html").read_text())
    assert data["sides"]["baseline"] == {} and data["sides"]["candidates"]["upgraded"]


def test_a_moved_recording_and_missing_outcomes_are_warnings(tmp_path: Path) -> None:
    run = build_run(tmp_path, baseline="recording")
    (tmp_path / "recording.jsonl").unlink()
    (run.path / "outcomes.jsonl").unlink()
    result = CliRunner().invoke(main, ["report", str(run.path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "recording.jsonl: the recording is not there any more" in result.output
    assert "outcomes.jsonl: missing; samples are shown without their outcome" in result.output
    data = page_data((tmp_path / "out" / "index.html").read_text())
    assert data["sides"]["baseline"] == {} and data["outcomes"] == {"upgraded": {}}


def test_facts_name_targets_and_redaction_but_never_keys(tmp_path: Path) -> None:
    run = build_run(tmp_path)
    run_json = json.loads((run.path / "run.json").read_text())
    run_json["targets"][1]["api_key"] = "sk_test_" + "abcdefgh12345678"
    run_json["targets"][1]["headers"]["Authorization"] = "Bearer rk_test_" + "zzzz9999yyyy"
    run_json["targets"][1]["headers"]["X-Api-Token"] = "opaque-token-value"
    run_json["targets"][1]["accounts"] = {"acct_1RecordedConnA": "acct_1TargetConnAA"}
    run_json["targets"][1]["accounts_used"] = [
        {"recorded": "acct_1RecordedConnA", "sent": "acct_1TargetConnAA", "requests": 4},
        {"recorded": "acct_1RecordedConnB", "sent": None, "requests": 1},
    ]
    summary = json.loads((run.path / "summary.json").read_text())
    summary["run"] = run_json
    (run.path / "summary.json").write_text(json.dumps(summary))
    files = report(run.path, tmp_path / "out")
    for text in files.values():
        assert "abcdefgh12345678" not in text and "zzzz9999yyyy" not in text
        assert "opaque-token-value" not in text
    html = files["index.html"]
    assert "a key from the environment variable SHADOW_KEY_UPGRADED" in html
    assert "2026-10-28.endive" in html and "2024-09-30.acacia" in html
    assert (
        "Secrets were removed when the traffic was recorded (api keys, card numbers, cvc)" in html
    )
    assert "took 8.0 s" in html
    assert (
        "connected accounts used: acct_1RecordedConnA as acct_1TargetConnAA (4 requests), "
        "acct_1RecordedConnB not sent (1 request)" in html
    )


# --- on a summary written by the real compare -------------------------------------------


def test_report_of_a_real_compare(tmp_path: Path) -> None:
    run = build_run(tmp_path, exchanges=40, hostile=True)
    # run.json carries the scenario's compare rules: expect the charges, ignore amount_due.
    summary = compare_run(run.path, workers=1)
    jsonschema.validate(summary, SCHEMA)
    files = report(run.path, tmp_path / "out")
    jsonschema.validate(json.loads(files["summary.json"]), SCHEMA)
    for text in files.values():
        assert LIVE_KEY not in text and CARD_NUMBER not in text
    data = page_data(files["index.html"])
    outcomes = {g["outcome"] for g in data["groups"]}
    assert outcomes == {"difference", "expected", "noise"}
    for group in data["groups"]:
        for seq in group["samples"]:
            assert str(seq) in data["sides"]["candidates"]["upgraded"]
            assert str(seq) in data["outcomes"]["upgraded"]
    xml = junitparser.JUnitXml.fromfile(str(tmp_path / "out" / "junit.xml"))
    assert next(iter(xml)).failures == sum(
        1 for g in summary["candidates"]["upgraded"]["groups"] if g["outcome"] == "difference"
    )


# --- scale ------------------------------------------------------------------------------


def test_size_grows_with_groups_and_samples_not_with_exchanges(tmp_path: Path) -> None:
    small = build_run(tmp_path / "small", exchanges=1_000)
    large = build_run(tmp_path / "large", exchanges=100_000)
    small_html = report(small.path, tmp_path / "small-out")["index.html"]
    started = time.perf_counter()
    written = write_report(large.path, tmp_path / "large-out")
    seconds = time.perf_counter() - started
    large_html = (tmp_path / "large-out" / "index.html").read_text()
    groups = len(large.summary["candidates"]["upgraded"]["groups"])
    assert groups == len(small.summary["candidates"]["upgraded"]["groups"])
    # Same groups and samples: the page differs only in counts and digits.
    assert len(large_html) < 1.1 * len(small_html)
    assert written.html_bytes < 200_000
    print(f"100k exchanges: index.html {written.html_bytes} bytes, written in {seconds:.1f} s")


# --- user mistakes: one line, exit code 2 ------------------------------------------------


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["report", *args])
    return result.exit_code, result.output


def test_errors_are_one_line_with_exit_code_2(tmp_path: Path) -> None:
    code, output = run_cli(str(tmp_path / "nope"))
    assert (
        code == 2 and output.strip() == f"shadow: error: {tmp_path / 'nope'}: no such run directory"
    )

    run = build_run(tmp_path)
    summary = run.path / "summary.json"
    text = summary.read_text()
    summary.unlink()
    code, output = run_cli(str(run.path))
    assert code == 2 and "summary.json: missing; run `shadow compare" in output
    assert len(output.strip().splitlines()) == 1

    summary.write_text('{\n  "version": 1,\n  oops\n}')
    code, output = run_cli(str(run.path))
    assert code == 2 and f"{summary}:3: not valid JSON" in output

    data = json.loads(text)
    data["version"] = 3
    summary.write_text(json.dumps(data))
    code, output = run_cli(str(run.path))
    assert code == 2 and "version: 3 is not a summary version" in output

    data["version"] = 1
    del data["candidates"]["upgraded"]["groups"][0]["path"]
    summary.write_text(json.dumps(data))
    code, output = run_cli(str(run.path))
    assert code == 2 and "candidates.upgraded.groups[0].path: missing" in output

    summary.write_text(text)
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, output = run_cli(str(run.path), "--out", str(blocker))
    assert code == 2 and "Traceback" not in output


# --- pure parts -------------------------------------------------------------------------


def test_script_json_cannot_close_its_element() -> None:
    value = {"k</script>": "<!-- </SCRIPT> & \u2028"}
    text = script_json(value)
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == value


def test_markdown_escapes_markup_and_table_pipes() -> None:
    assert md_text("<img src=x onerror=alert(1)>") == "&lt;img src=x onerror=alert\\(1\\)&gt;"
    assert md_text("[click](http://x)") == "\\[click\\]\\(http://x\\)"
    assert md_code("a|b") == "`a\\|b`"
    assert md_code("a`b") == "`` a`b ``"
    assert md_text("x" * 200).endswith("…") and len(md_text("x" * 200)) == 80


def test_xml_text_drops_characters_xml_cannot_hold() -> None:
    assert xml_text("a\x00b\x1bc\td") == "a\ufffdb\ufffdc\td"


def test_percent_never_rounds_a_difference_up_to_100() -> None:
    assert percent(99_999, 100_000) == "99.9 %"
    assert percent(100, 100) == "100 %"
    assert percent(1, 3) == "33.3 %"
    assert percent(0, 0) == "-"


def test_before_after_shows_absent_sides() -> None:
    assert (
        before_after({"kind": "removed", "example": {"baseline": 0, "candidate": None}})
        == "0 → (absent)"
    )
    assert (
        before_after({"kind": "added", "example": {"baseline": None, "candidate": "x"}})
        == '(absent) → "x"'
    )
    assert (
        before_after({"kind": "value", "example": {"baseline": None, "candidate": 1}}) == "null → 1"
    )


def test_verdict_line_names_every_count() -> None:
    candidate = {
        "exchanges": 118,
        "outcomes": {"match": 101, "noise": 4, "expected": 6, "difference": 5, "error": 2},
        "severities": {"critical": 1, "high": 3, "medium": 1, "low": 0},
    }
    assert verdict_line(candidate) == (
        "118 exchanges · 85.6 % matching · 5 with regressions (1 critical, 3 high, 1 medium, "
        "0 low) · 6 expected · 4 noise · 2 errors"
    )


def test_redact_tree_redacts_keys_numbers_and_secret_fields() -> None:
    tree = {
        "card": 4242424242424242,
        "amount": 2000,
        "cvc": "123",
        "note": "key " + LIVE_KEY,
        LIVE_KEY: [CARD_NUMBER],
    }
    redacted = redact_tree(tree)
    text = json.dumps(redacted)
    assert LIVE_KEY not in text and CARD_NUMBER not in text and "4242424242424242" not in text
    assert redacted["card"] == "<redacted:card:4242>"
    assert redacted["amount"] == 2000
    assert redacted["cvc"] == "<redacted:cvc>"


def test_facts_drop_secret_named_settings() -> None:
    config = {"api_key": "x", "api_key_env": "KEY", "env": {"STRIPE_SECRET": "y", "MODE": "z"}}
    assert without_secrets(config) == {"api_key_env": "KEY", "env": {"MODE": "z"}}
    assert "no redaction was applied" in redaction_statement({"applied": False})


def test_a_run_with_an_upgrade_check_shows_its_findings_as_text(tmp_path: Path) -> None:
    """The scenario's `upgrade_check` leaves upgrade-check.json in the run; the page shows
    each finding, its change and changelog, and content stays text."""
    from harness.upgrade.check import UPGRADE_CHECK_FILE

    run = build_run(tmp_path / "runs")
    finding = {
        "finding": "field",
        "subject": "invoice.subscription",
        "kind": "moved",
        "version": "2025-03-31.basil",
        "change": "moved to parent.subscription_details.subscription in 2025-03-31.basil",
        "changelog": "https://docs.stripe.com/changelog/basil",
        "exchanges": 2,
        "endpoints": ["GET /v1/invoices/{invoice}"],
        "example": {"seq": 3, "endpoint": "GET /v1/invoices/{invoice}", "where": SCRIPT_TEXT},
    }
    check = {
        "to": "2025-03-31.basil",
        "catalogue": "2025-03-31.basil",
        "exchanges": 9,
        "versions": {"2024-09-30.acacia": 9},
        "uncovered": 0,
        "findings": [finding],
    }
    before = report(run.path, tmp_path / "before")["index.html"]
    assert 'id="upgrade-check"' not in before
    (run.path / UPGRADE_CHECK_FILE).write_text(json.dumps(check))
    html = report(run.path, tmp_path / "out")["index.html"]
    section = html.split('<section id="upgrade-check">', 1)[1].split("</section>", 1)[0]
    assert "Upgrade check: 2025-03-31.basil" in section
    assert "moved to parent.subscription_details.subscription in 2025-03-31.basil" in section
    assert "https://docs.stripe.com/changelog/basil" in section
    assert SCRIPT_TEXT not in section and unescape(section).count(SCRIPT_TEXT) == 1
