"""The reconciliation's page in real headless Chromium: the demo's three drifts as a
reader sees them, and proof that markup in the customer's rows shows as text, nothing
runs and nothing is fetched. Screenshots go to test-artifacts/."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from playwright.sync_api import Browser
from test_reconcile import APP, DEMO, MAPPING, MISSING, SLIPPED, STILL_ACTIVE
from test_report_browser import assert_policy_blocks_scripts, open_page, screenshot

from harness.cli import main

pytestmark = pytest.mark.browser

IMG = '"><img src=x onerror="window.__shadowPwned = \'img\'">'
SCRIPT = "<script>window.__shadowPwned = 'script'</script>"
LIVE_KEY = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"


def write_page(source: Path, out: Path) -> Path:
    result = CliRunner().invoke(
        main,
        [
            "reconcile",
            "--source",
            str(source),
            "--mapping",
            str(MAPPING),
            "--stripe",
            str(DEMO),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 1, result.output
    return out / "index.html"


def test_the_demo_reconciliation_reads_summary_then_causes_then_missing_rows(
    browser: Browser, tmp_path: Path
) -> None:
    index = write_page(APP, tmp_path / "out")
    opened = open_page(browser, index)
    page = opened.page
    assert page.locator("#verdict").inner_text() == "3 records drifted"
    tops = [
        page.locator(f"#{section}").bounding_box()["y"]  # type: ignore[index]
        for section in ("summary", "causes", "only-in-source", "only-in-stripe", "about")
    ]
    assert tops == sorted(tops)

    subscription = page.locator("#summary tr[data-object='subscription']")
    assert subscription.locator("td[data-outcome='match']").inner_text() == "4"
    assert subscription.locator("td[data-outcome='field differs']").inner_text() == "1"
    customer = page.locator("#summary tr[data-object='customer']")
    assert customer.locator("td[data-outcome='only in Stripe']").inner_text() == "1"

    causes = page.locator("#causes .cause")
    assert causes.count() == 2
    status = page.locator("#causes .cause[data-field='status']")
    assert status.locator("h3").inner_text() == "subscription.status: value (1 row)"
    row = status.locator("tbody tr").first
    assert row.locator(".id").first.inner_text() == STILL_ACTIVE
    assert row.locator(".source").inner_text() == '"ACTIVE"'
    assert row.locator(".converted").inner_text() == '"active"'
    assert row.locator(".stripe").inner_text() == '"canceled"'
    amount = page.locator("#causes .cause[data-field='amount_due'] tbody tr").first
    assert amount.locator(".id").first.inner_text() == SLIPPED
    assert (amount.locator(".converted").inner_text(), amount.locator(".stripe").inner_text()) == (
        "899",
        "900",
    )
    assert MISSING in page.locator("#only-in-stripe").inner_text()
    assert "None." in page.locator("#only-in-source").inner_text()
    screenshot(page, "reconcile-demo.png")
    assert page.evaluate("document.scripts.length") == 0
    assert opened.errors == [] and opened.console == []
    assert opened.requests == [index.as_uri()]


def test_markup_and_secrets_in_the_rows_show_as_text_redacted_and_nothing_runs(
    browser: Browser, tmp_path: Path
) -> None:
    app = tmp_path / "app.sqlite"
    shutil.copy(APP, app)
    with sqlite3.connect(app) as db:
        db.execute("UPDATE subscriptions SET state = ? WHERE id = 1", (SCRIPT,))
        db.execute("UPDATE customers SET email = ? WHERE id = 1", (IMG,))
        db.execute("UPDATE customers SET email = ? WHERE id = 2", (f"key {LIVE_KEY}",))
    index = write_page(app, tmp_path / "out")
    text = index.read_text()
    assert (
        LIVE_KEY not in text and LIVE_KEY not in (tmp_path / "out" / "reconcile.json").read_text()
    )
    opened = open_page(browser, index)
    page = opened.page
    causes = page.locator("#causes").inner_text()
    assert json.dumps(SCRIPT) in causes and json.dumps(IMG) in causes  # values are shown as JSON
    assert "sk_live_<redacted:" in causes
    assert page.evaluate("typeof window.__shadowPwned") == "undefined"
    assert page.locator("img").count() == 0
    assert page.evaluate("document.scripts.length") == 0
    screenshot(page, "reconcile-hostile.png")
    assert opened.errors == [] and opened.console == []
    assert opened.requests == [index.as_uri()]
    assert_policy_blocks_scripts(opened)
