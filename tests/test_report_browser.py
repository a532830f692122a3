"""The report page in real headless Chromium (Debian's package, driven by playwright):
what a reader sees, the filters, sorting, paging, a click that opens a group's samples,
and proof that nothing from the content ran. Screenshots go to test-artifacts/."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hostileserver import LONG_KEY, replayed_and_compared
from playwright.sync_api import Browser, Page
from reportdata import CARD_NUMBER, IMG_TEXT, LIVE_KEY, SCRIPT_TEXT, build_run

from harness.cli import main
from harness.formats.recording import RecordingReader
from harness.replay.launch.localstripe import LOCALSTRIPE_TEST_KEY
from harness.report.phrasing import verdict_line

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
SHADOW = Path(sys.executable).parent / "shadow"
HOSTILE_NAME = '"><img src=x onerror="window.__shadowPwned = \'name\'">'


@dataclass
class Opened:
    """A report page, with everything it asked for and said while open."""

    page: Page
    requests: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def open_page(browser: Browser, index: Path) -> Opened:
    """A page opened from a file, with what it asks for and says recorded from the start."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    opened = Opened(page)
    page.on("request", lambda request: opened.requests.append(request.url))
    page.on("console", lambda message: opened.console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: opened.errors.append(str(error)))
    page.goto(index.as_uri())
    return opened


def open_report(browser: Browser, index: Path) -> Opened:
    opened = open_page(browser, index)
    opened.page.wait_for_selector("body[data-ready=true]")
    return opened


def assert_policy_blocks_scripts(opened: Opened) -> None:
    """The page's policy blocks a script even if one got in: a script element added now
    does not run, and the browser says why."""
    probe = """() => {
        const script = document.createElement("script");
        script.textContent = "window.__shadowProbe = 1";
        document.body.append(script);
        return typeof window.__shadowProbe;
    }"""
    assert opened.page.evaluate(probe) == "undefined"
    assert any("Content Security Policy" in message for message in opened.console)


def write_report(run_dir: Path, out: Path) -> Path:
    result = CliRunner().invoke(main, ["report", str(run_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out / "index.html"


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def rows(page: Page, outcome: str) -> list[dict[str, str]]:
    """The visible group rows of one section, as column → text."""
    return page.eval_on_selector_all(
        f"#groups-{outcome} tr.group-row",
        """rows => rows.map(r => ({
            severity: r.cells[1].innerText, candidate: r.cells[2].innerText,
            cause: r.cells[3].innerText, seen: r.cells[4].innerText,
            count: r.cells[5].innerText, example: r.cells[7].innerText}))""",
    )


def groups_of(summary: dict[str, Any], outcome: str) -> list[dict[str, Any]]:
    return [
        {**g, "candidate": name}
        for name, c in summary["candidates"].items()
        for g in c["groups"]
        if g["outcome"] == outcome
    ]


def test_report_reads_in_order_and_a_click_opens_a_groups_samples(
    browser: Browser, tmp_path: Path
) -> None:
    run = build_run(tmp_path, candidates=("upgraded", "account-b"))
    opened = open_report(browser, write_report(run.path, tmp_path / "out"))
    page = opened.page

    # The verdict, one per candidate, in plain words.
    verdicts = page.locator(".verdict")
    assert verdicts.count() == 2
    upgraded = run.summary["candidates"]["upgraded"]
    assert verdicts.nth(0).locator("h3").inner_text() == (
        "upgraded compared with control: regressions found"
    )
    assert verdicts.nth(0).locator(".verdict-line").inner_text() == verdict_line(upgraded)

    # The sections come in the promised order.
    tops = [
        page.locator(f"#{section}").bounding_box()["y"]  # type: ignore[index]
        for section in ("verdict", "groups", "errors", "endpoints", "facts")
    ]
    assert tops == sorted(tops)

    # Real differences are listed; expected and noise are collapsed but one click away.
    differences = groups_of(run.summary, "difference")
    shown = rows(page, "difference")
    assert len(shown) == len(differences)
    assert shown[0]["severity"] == "critical" and shown[0]["example"] == "200 → 402"
    expected_row = page.locator("#groups-expected tr.group-row").first
    assert not expected_row.is_visible()
    page.click("#groups-expected > summary")
    assert expected_row.is_visible()
    assert "charges replaced by latest_charge" in expected_row.inner_text()

    # Filters: severity, candidate, outcome.
    page.select_option("#filter-severity", "critical")
    assert [r["severity"] for r in rows(page, "difference")] == ["critical"]
    page.select_option("#filter-severity", "")
    page.select_option("#filter-candidate", "account-b")
    assert {r["candidate"] for r in rows(page, "difference")} == {"account-b"}
    page.select_option("#filter-candidate", "")
    page.select_option("#filter-outcome", "noise")
    assert not page.locator("#groups-difference").is_visible()
    assert page.locator("#groups-noise tr.group-row").first.is_visible()
    page.select_option("#filter-outcome", "")

    # Sorting by a column, both ways.
    page.click("#groups-difference button[data-sort=count]")
    counts = [int(r["count"]) for r in rows(page, "difference")]
    assert counts == sorted(counts, reverse=True)
    page.click("#groups-difference button[data-sort=count]")
    counts = [int(r["count"]) for r in rows(page, "difference")]
    assert counts == sorted(counts)

    # A click on a group opens its sample exchanges, baseline and candidate side by side.
    row = page.locator(
        "#groups-difference tr.group-row", has_text="customer.account_balance removed"
    )
    row.click()
    samples = page.locator("#groups-difference .samples")
    assert samples.is_visible()
    group = next(g for g in differences if g["cause"] == "customer.account_balance removed")
    # Where the cause was seen, with its sample pair side by side: the object around the
    # field, not the whole answer.
    places = samples.locator(".where-seen tbody tr")
    assert places.count() == len(group["locations"])
    assert "POST /v1/customers" in places.first.inner_text()
    assert "$.account_balance" in places.first.inner_text()
    excerpts = places.first.locator("pre.excerpt")
    assert excerpts.count() == 2
    assert '"object": "customer"' in excerpts.nth(0).inner_text()
    assert samples.locator(".sample").count() == len(group["samples"])
    first = samples.locator(".sample").first
    baseline_side = first.locator(".side.baseline")
    candidate_side = first.locator(".side.candidate")
    assert baseline_side.locator("h4").inner_text() == "Baseline: control"
    assert candidate_side.locator("h4").inner_text() == "Candidate: upgraded"
    left, right = baseline_side.bounding_box(), candidate_side.bounding_box()
    assert left is not None and right is not None
    assert left["x"] + left["width"] <= right["x"] and left["y"] == right["y"]
    assert baseline_side.locator(".line.hl-main").inner_text().strip() == '"account_balance": 0,'
    assert candidate_side.locator(".line.hl").inner_text().strip() == '"balance": 0'
    assert row.get_attribute("aria-expanded") == "true"

    # Endpoints with their outcome counts, and the run's facts.
    endpoint_rows = page.locator("#endpoints tbody tr")
    assert endpoint_rows.count() == sum(
        len(c["endpoints"]) for c in run.summary["candidates"].values()
    )
    assert "POST /v1/customers" in page.locator("#endpoints").inner_text()
    facts = page.locator("#facts").inner_text()
    assert "Secrets were removed when the traffic was recorded" in facts
    assert "a key from the environment variable SHADOW_KEY_UPGRADED" in facts
    assert "2026-10-28.endive" in facts

    screenshot(page, "report-two-candidates.png")
    assert opened.errors == []
    assert [m for m in opened.console if m.startswith("error")] == []
    assert opened.requests == [(tmp_path / "out" / "index.html").as_uri()]


def test_hostile_content_shows_as_text_and_never_runs(browser: Browser, tmp_path: Path) -> None:
    run = build_run(tmp_path, hostile=True, candidates=("upgraded", HOSTILE_NAME))
    opened = open_report(browser, write_report(run.path, tmp_path / "out"))
    page = opened.page

    row = page.locator(
        "#groups-difference tr.group-row[data-candidate=upgraded]",
        has_text="customer.metadata.note value changed",
    )
    row.click()
    samples = page.locator("#groups-difference .samples")
    text = samples.inner_text()
    # Shown as the characters they are (JSON strings, so the img's quotes are escaped).
    assert SCRIPT_TEXT in text and json.dumps(IMG_TEXT) in text
    assert "sk_live_<redacted:" in text and "<redacted:card:5556>" in text
    options = page.eval_on_selector_all(
        "#filter-candidate option", "o => o.map(x => x.textContent)"
    )
    assert HOSTILE_NAME in options
    assert HOSTILE_NAME in page.locator(".verdict").nth(1).inner_text()

    # Nothing from the content became an element or ran.
    assert page.evaluate("typeof window.__shadowPwned") == "undefined"
    assert page.locator("img").count() == 0
    assert page.evaluate("document.scripts.length") == 2
    html = page.content()
    assert LIVE_KEY not in html and CARD_NUMBER not in html

    screenshot(page, "report-hostile.png")
    assert opened.errors == []
    # A blocked inline script or handler would have left a Content Security Policy message.
    assert opened.console == []
    assert opened.requests == [(tmp_path / "out" / "index.html").as_uri()]
    # And the page's policy does block one.
    assert_policy_blocks_scripts(opened)


@pytest.mark.no_clock  # a run built from chosen data, drawn
def test_a_100k_exchange_report_pages_its_tables(browser: Browser, tmp_path: Path) -> None:
    run = build_run(tmp_path, exchanges=100_000)
    summary_path = run.path / "summary.json"
    summary = json.loads(summary_path.read_text())
    groups = summary["candidates"]["upgraded"]["groups"]
    template = next(g for g in groups if g["cause"] == "customer.account_balance removed")
    for index in range(120):  # many causes, to page through
        groups.append(
            {
                **template,
                "id": f"{index:010x}",
                "cause": f"customer.metadata.field_{index:03d} value changed",
                "field": f"metadata.field_{index:03d}",
                "path": f"$.metadata.field_{index:03d}",
                "severity": "medium",
                "kind": "value",
                "count": 120 - index,
            }
        )
    summary_path.write_text(json.dumps(summary))
    opened = open_report(browser, write_report(run.path, tmp_path / "out"))
    page = opened.page

    section = page.locator("#groups-difference")
    differences = sum(1 for g in groups if g["outcome"] == "difference")
    assert section.locator("tr.group-row").count() == 50
    assert f"Showing 1\u201350 of {differences}" in section.locator(".pager").inner_text()
    section.locator(".pager button", has_text="Next").click()
    assert f"Showing 51\u2013100 of {differences}" in section.locator(".pager").inner_text()
    section.locator("tr.group-row").first.click()
    assert section.locator(".samples .sample").count() >= 1
    # The page holds what is shown, not every exchange.
    assert page.evaluate("document.getElementsByTagName('*').length") < 5000

    screenshot(page, "report-100k.png")
    assert opened.errors == []


def shadow(*args: str, env: dict[str, str] | None = None) -> str:
    """Run the installed `shadow` command; its output, after checking it succeeded."""
    done = subprocess.run(
        [str(SHADOW), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_report_of_the_demo_replayed_against_a_changing_target(
    browser: Browser, tmp_path: Path
) -> None:
    """The demo recording, replayed against localstripe and against localstripe behind a
    proxy that drops `phone`, retypes a plan's `amount` and declines `GET /v1/charges`."""
    scenario = tmp_path / "changed.yaml"
    scenario.write_text(
        json.dumps(
            {
                "name": "changed",
                "recording": str(ROOT / "recordings" / "demo.jsonl"),
                "baseline": "control",
                "targets": [
                    {"name": "control", "launch": "localstripe"},
                    {
                        "name": "changed",
                        "launch": {
                            "command": f"{sys.executable} {ROOT / 'tests' / 'changingproxy.py'}"
                            " --port {port}",
                            "url": "http://127.0.0.1:{port}",
                            "ready_path": "/v1/balance",
                        },
                        "api_key_env": "SHADOW_DEMO_KEY",
                    },
                ],
            }
        )
    )
    run_dir = tmp_path / "run"
    env = {"SHADOW_DEMO_KEY": LOCALSTRIPE_TEST_KEY}
    shadow("replay", str(scenario), "--out", str(run_dir), "--no-progress", env=env)
    shadow("compare", str(run_dir))
    out = tmp_path / "report"
    output = shadow("report", str(run_dir), "--out", str(out))
    assert "changed: regressions found" in output
    opened = open_report(browser, out / "index.html")
    page = opened.page

    assert page.locator(".verdict h3").inner_text() == (
        "changed compared with control: regressions found"
    )
    shown = rows(page, "difference")
    assert shown[0]["severity"] == "critical"
    assert (shown[0]["cause"], shown[0]["seen"], shown[0]["example"]) == (
        "GET /v1/charges $ error changed",
        "GET /v1/charges",
        "200 → 402",
    )
    assert any(r["cause"] == "customer.phone removed" for r in shown)
    assert any(r["cause"] == "plan.amount type changed" for r in shown)

    page.locator("#groups-difference tr.group-row", has_text="plan.amount type changed").click()
    sample = page.locator("#groups-difference .samples .sample").first
    baseline_line = sample.locator(".side.baseline .line.hl-main").inner_text().strip()
    candidate_line = sample.locator(".side.candidate .line.hl-main").inner_text().strip()
    assert baseline_line.startswith('"amount": ') and '"' not in baseline_line[10:]
    assert candidate_line.startswith('"amount": "')
    assert sample.locator(".side.baseline .reqline").inner_text() == "POST /v1/plans"

    page.locator("#groups-difference tr.group-row", has_text="$ error changed").click()
    declined = page.locator("#groups-difference .samples .sample").first
    assert declined.locator(".side.candidate .status.hl").inner_text() == "HTTP 402"
    assert "card_declined" in declined.locator(".side.candidate pre.json").inner_text()

    facts = page.locator("#facts").inner_text()
    with RecordingReader(ROOT / "recordings" / "demo.jsonl") as recording:
        recorded = sum(1 for _ in recording)
    assert f"demo.jsonl: {recorded} exchanges" in facts
    assert "Secrets were removed when the traffic was recorded" in facts
    assert "a key from the environment variable SHADOW_DEMO_KEY" in facts
    assert LOCALSTRIPE_TEST_KEY not in page.content()

    screenshot(page, "report-demo.png")
    assert opened.errors == []
    assert [m for m in opened.console if m.startswith("error")] == []
    assert opened.requests == [(out / "index.html").as_uri()]


def test_a_report_of_hostile_answers_draws_without_a_page_error(
    browser: Browser, tmp_path: Path
) -> None:
    # Answers nested 1,000 levels deep, a lone surrogate, keys of 60,000 and 100,000
    # characters, bidi overrides (tests/hostileserver.py).
    run = replayed_and_compared(tmp_path)
    opened = open_report(browser, write_report(run, tmp_path / "out"))
    page = opened.page

    differences = page.locator("#groups-difference tr.group-row")
    assert differences.count() == 3
    for index in range(differences.count()):
        differences.nth(index).click()
    samples = page.locator("#groups-difference .samples .sample")
    assert samples.count() == 3
    # Each long key's field is marked in its drawn body (the 100,000-character one is
    # listed; its body is shown as cut text), the bidi name's too.
    long_key = page.locator(".sample .side.candidate .line.hl-main", has_text='"after"')
    assert long_key.count() == 1 and json.dumps(LONG_KEY)[:40] in long_key.inner_text()
    listed = page.locator(".sample .sample-diffs li.this-group", has_text="$.metadata.kkk")
    assert listed.count() == 1
    marked = page.locator(".sample .side.candidate .line.hl-main", has_text='"name"')
    assert marked.count() == 1 and "\\u202eevil.exe\\u202c" in marked.inner_text()

    text = page.locator("body").inner_text()
    for control in ("\u202e", "\u202c", "\u2066", "\u2069"):
        assert control not in page.content()
        assert "\\u" + f"{ord(control):04x}" in text
    assert "answer could not be compared: nested deeper than 100 levels" in text
    assert "answer could not be compared: invalid unicode" in text

    screenshot(page, "report-hostile.png")
    assert opened.errors == []
    assert [m for m in opened.console if m.startswith("error")] == []


@pytest.mark.parametrize("width", [1280, 800])
def test_the_cause_table_fits_a_laptop_and_breaks_only_between_steps(
    browser: Browser, tmp_path: Path, width: int
) -> None:
    run = build_run(tmp_path, candidates=("upgraded", "account-b"))
    index = write_report(run.path, tmp_path / "out")
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(index.as_uri())
    page.wait_for_selector("body[data-ready=true]")
    page.locator(
        "#groups-difference tr.group-row", has_text="customer.account_balance removed"
    ).first.click()
    page.click("#groups-expected > summary")

    # No sideways scroll: neither the page, nor a cause table, nor the places a cause
    # was seen at, once a row is open.
    overflow = """() => [document.documentElement,
        ...document.querySelectorAll("table.groups, table.locations")]
        .filter((e) => e.offsetParent !== null || e === document.documentElement)
        .map((e) => [e.tagName + "." + e.className, e.scrollWidth, e.clientWidth])"""
    for name, scroll, client in page.evaluate(overflow):
        assert scroll <= client, f"{name} at {width} px: scroll width {scroll} > {client}"
    # Endpoints, paths and causes break only after `/` and `.` (or before `[`): no cell
    # holds a word wider than itself, and each line starts at a step.
    cells = page.eval_on_selector_all(
        "table.groups tr.group-row td.code, table.locations td.code",
        "cells => cells.map(c => [c.innerText, c.scrollWidth, c.clientWidth])",
    )
    assert cells
    for text, scroll, client in cells:
        assert scroll <= client, f"{text!r} overflows its cell at {width} px"
    per_cell = page.evaluate(
        """() => [...document.querySelectorAll(".steps")].map((cell) => {
          // The cell's text as the browser laid it out, one string per line.
          const lines = [];
          const range = document.createRange();
          const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
          let node, text = "", top = null;
          while ((node = walker.nextNode())) {
            for (let i = 0; i < node.length; i++) {
              range.setStart(node, i);
              range.setEnd(node, i + 1);
              const rect = range.getClientRects()[0];
              if (!rect) continue;
              if (top !== null && rect.top > top + 2) { lines.push(text); text = ""; }
              top = rect.top;
              text += node.data[i];
            }
          }
          lines.push(text);
          return lines;
        })"""
    )
    assert per_cell
    for lines in per_cell:
        for line, following in itertools.pairwise(lines):
            # Between words, or after a step of an endpoint or path: never inside a word.
            assert line.endswith(("/", ".", " ")) or following.startswith(("[", " ")), (
                width,
                lines,
            )
    screenshot(page, f"report-causes-{width}.png")
    context.close()
