"""The map's page in real headless Chromium (Debian's package, driven by playwright): the
findings, the flow diagram and the endpoint bars as a reader sees them, and proof that
nothing from the recorded content became markup or ran. Screenshots go to
test-artifacts/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from playwright.sync_api import Browser, Locator
from test_report_browser import assert_policy_blocks_scripts, open_page, screenshot

from harness.cli import main
from harness.formats.recording import Header, RecordingWriter
from harness.model import Exchange, Request, Response

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "recordings" / "demo.jsonl"
START = 1_795_435_200.0
IMG = '"><img src=x onerror="window.__shadowPwned = \'img\'">'
SCRIPT = "<script>window.__shadowPwned = 'script'</script>"


def write_map(recording: Path, out: Path) -> Path:
    result = CliRunner().invoke(main, ["map", str(recording), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out / "index.html"


def widths(row: Locator, selector: str) -> dict[str, float]:
    """Each rectangle's drawn width, by its class."""
    return row.locator(selector).evaluate_all(
        "rects => Object.fromEntries(rects.map(r => [r.getAttribute('class'), "
        "r.getBoundingClientRect().width]))"
    )


def test_the_demo_map_reads_findings_then_flows_then_endpoints_with_pictures(
    browser: Browser, tmp_path: Path
) -> None:
    index = write_map(DEMO, tmp_path / "map")
    document = json.loads((tmp_path / "map" / "map.json").read_text())
    opened = open_page(browser, index)
    page = opened.page

    tops = [
        page.locator(f"#{section}").bounding_box()["y"]  # type: ignore[index]
        for section in ("findings", "flows", "endpoints", "objects", "versions", "about")
    ]
    assert tops == sorted(tops)

    # The findings, most serious first, each with its evidence and Stripe's page.
    findings = page.locator("#findings .finding")
    assert findings.count() == len(document["findings"]) == 2
    first = findings.nth(0)
    assert first.locator("h3").inner_text() == "HIGH Little rate-limit headroom: test mode"
    assert "184 % of the limit of 25" in first.locator(".detail").inner_text()
    assert first.locator(".doc a").get_attribute("href") == "https://docs.stripe.com/rate-limits"
    plans = findings.nth(1)
    assert [e.inner_text() for e in plans.locator(".examples .where").all()] == [
        "demo.jsonl seq 2",
        "demo.jsonl seq 3",
        "demo.jsonl seq 5",
    ]

    # The flow diagram: one lane per top flow, boxes joined by arrows, as inline SVG.
    diagram = page.locator("svg#flow-diagram")
    assert diagram.is_visible()
    lanes = diagram.locator("g.lane")
    assert lanes.count() == 8
    lane = lanes.nth(0)
    boxes = lane.locator("g.step")
    assert lane.locator("line.arrow").count() == boxes.count() - 1
    assert boxes.nth(0).locator("title").text_content() == "POST /v1/customers"
    assert boxes.nth(1).locator("title").text_content() == (
        "POST /v1/payment_methods/{payment_method}/attach"
    )
    assert lane.locator("text.lane-count").text_content() == "once"
    left = boxes.nth(0).locator("rect").bounding_box()
    right = boxes.nth(1).locator("rect").bounding_box()
    assert left is not None and right is not None
    assert left["x"] + left["width"] < right["x"] and left["y"] == right["y"]
    first_flow = page.locator("table.flows tbody tr").first.locator(".shape").inner_text()
    assert first_flow.startswith("POST /v1/customers → POST /v1/payment_methods/")

    # Per-endpoint bars: the status mix in proportion, latency p50 inside p95.
    row = page.locator("#endpoints tr[data-endpoint='POST /v1/payment_intents']")
    shares = widths(row, "svg.status-bar rect")
    assert shares.keys() == {"ok", "declined", "client"}
    assert shares["ok"] == pytest.approx(220 * 6 / 8, abs=1)
    assert shares["declined"] == pytest.approx(220 / 8, abs=1)
    latency = widths(row, "svg.latency-bar rect")
    assert 0 < latency["p50"] <= latency["p95"] <= 220
    assert page.locator("#endpoints tbody tr").count() == len(document["endpoints"])

    facts = page.locator("#about").inner_text()
    assert "demo.jsonl: 85 exchanges" in facts
    screenshot(page, "map-demo.png")
    assert page.evaluate("document.scripts.length") == 0
    assert opened.errors == [] and opened.console == []
    assert opened.requests == [index.as_uri()]


def test_recorded_markup_shows_as_text_and_nothing_runs(browser: Browser, tmp_path: Path) -> None:
    customer = "cus_Hostile0001AA"
    headers = [
        ("Authorization", "Bearer sk_test_<redacted:9dc0d88c>"),
        ("User-Agent", SCRIPT),
        ("Stripe-Account", IMG),
        ("Stripe-Version", IMG),
    ]
    answer = {"error": {"type": SCRIPT, "code": IMG}}
    exchanges = [
        Exchange(
            seq,
            START + seq,
            0.1,
            Request("POST", f"/v1/customers/{customer}/{IMG}", "", headers, f"{IMG}=1"),
            Response(400 if seq % 2 else 200, [], json.dumps(answer if seq % 2 else {})),
        )
        for seq in range(4)
    ]
    recording = tmp_path / "hostile.jsonl"
    with RecordingWriter(recording, Header(redaction={"applied": True})) as writer:
        for exchange in exchanges:
            writer.write(exchange)
    opened = open_page(browser, write_map(recording, tmp_path / "map"))
    page = opened.page

    endpoints = page.locator("#endpoints").inner_text()
    assert f"POST /v1/customers/{{customer}}/{IMG}" in endpoints
    assert f"{SCRIPT}/{IMG}" in endpoints  # the error code, as text
    assert SCRIPT in page.locator("#clients").inner_text()
    assert IMG in page.locator("#connect").inner_text()
    assert IMG in page.locator("#versions").inner_text()
    titles = page.eval_on_selector_all("#flow-diagram title", "t => t.map(x => x.textContent)")
    assert f"POST /v1/customers/{{customer}}/{IMG}" in titles

    assert page.evaluate("typeof window.__shadowPwned") == "undefined"
    assert page.locator("img").count() == 0
    assert page.evaluate("document.scripts.length") == 0
    screenshot(page, "map-hostile.png")
    assert opened.errors == [] and opened.console == []
    assert opened.requests == [(tmp_path / "map" / "index.html").as_uri()]
    assert_policy_blocks_scripts(opened)
