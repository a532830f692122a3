"""A third party's integration, as such code is written (scenarios/sdk/driver.py): the
stripe SDK from several threads at once, recorded with `shadow record` in front of
localstripe, then replayed against two fresh localstripes, the second compared with the
first. An unchanged twin shows no difference, no error, nothing unresolved, no event or
end state that differs, at any concurrency and with every clock months ahead; and no
secret the integration sent or received reaches a file."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from parts import faketime_library

from harness.compare.diff import REORDERED_NOISE
from harness.compare.windows import WINDOW_NOISE
from harness.replay.launch.localstripe import LOCALSTRIPE_TEST_KEY
from harness.stripe import ANY_CASE_ID_PATTERN
from scenarios.sdk import driver
from scenarios.sdk.make_recording import make_recording

pytestmark = pytest.mark.e2e

SHADOW = str(Path(sys.executable).parent / "shadow")
ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 180  # seconds a replay under libfaketime may take
# Noise two unchanged localstripes may show, each with its documented reason
# (docs/compare.md, "Noise"): nothing else may differ.
EXPLAINED = (REORDERED_NOISE, WINDOW_NOISE)
SECRETS = (
    LOCALSTRIPE_TEST_KEY,
    driver.CARD_OK,
    driver.CARD_MASTERCARD,
    driver.CARD_DECLINED,
    driver.CARD_FAILS_ON_CHARGE,
    driver.IBAN_OK,
)
# A client secret, a webhook secret or signature that was not redacted.
LEAKS = re.compile(
    r"_secret_(?!<redacted)|whsec_[A-Za-z0-9]|v1=[0-9a-f]{64}|cvc(\]|%5D)?=\d", re.IGNORECASE
)


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three workers with a customer each, at once, through `shadow record`."""
    out = tmp_path_factory.mktemp("sdk") / "sdk.jsonl"
    assert make_recording(out, workers=3, customers=1) > 250
    return out


def scenario(recording: Path, folder: Path) -> Path:
    path = folder / "twin.yaml"
    path.write_text(
        f"name: twin\nrecording: {recording}\nbaseline: control\nreconcile: true\n"
        "targets:\n  - {name: control, launch: localstripe}\n"
        "  - {name: twin, launch: localstripe}\n"
    )
    return path


def _answers_naming(path: Path) -> dict[str, list[int]]:
    """Every id in the answers of a recording or target file → the seqs that name it."""
    naming: dict[str, list[int]] = {}
    for line in path.read_text().splitlines()[1:]:
        exchange = json.loads(line)
        body = (exchange.get("response") or {}).get("body") or ""
        for found in set(ANY_CASE_ID_PATTERN.findall(body)):
            naming.setdefault(found, []).append(exchange["seq"])
    return naming


def why(run_dir: Path, recording: Path, limit: int = 3) -> str:
    """What a failing run shows of its first differing exchanges: each difference, and
    for each recorded id in it, what each side's id map pairs it with and which answers
    name those ids (where a pair could have been learnt). A failure is read from this
    message alone: CI keeps no run directory."""
    outcomes = [json.loads(line) for line in (run_dir / "outcomes.jsonl").read_text().splitlines()]
    differences = [
        (outcome["seq"], difference)
        for outcome in outcomes
        for difference in outcome["differences"]
        if difference.get("outcome") != "noise"
    ][:limit]
    named = {"recording": _answers_naming(recording)}
    maps = {}
    for target in ("control", "twin"):
        maps[target] = json.loads((run_dir / f"{target}.idmap.json").read_text())["ids"]
        named[target] = _answers_naming(run_dir / f"{target}.jsonl")
    lines = [
        f"seq {seq}: {d['path']} {d['baseline']!r} → {d['candidate']!r} ({d['kind']})"
        for seq, d in differences
    ]
    shown = json.dumps([d for _, d in differences])
    for recorded in sorted(set(ANY_CASE_ID_PATTERN.findall(shown))):
        lines.append(f"{recorded}: named by recorded answers {named['recording'].get(recorded)}")
        for target, pairs in maps.items():
            sent = pairs.get(recorded)
            lines.append(
                f"  {target} pairs it with {sent}, named by its answers "
                f"{named[target].get(sent or '')}"
            )
    return "\n".join(lines)


def assert_unchanged_twin(run_dir: Path, recording: Path) -> dict[str, Any]:
    """Everything the twin showed is a match, or noise with a documented reason."""
    summary = json.loads((run_dir / "summary.json").read_text())
    twin = summary["candidates"]["twin"]
    shown = [(g["cause"], g["outcome"], g["samples"], g.get("noise")) for g in twin["groups"]]
    if twin["outcomes"]["difference"] or twin["outcomes"]["error"] or twin["outcomes"]["expected"]:
        shown.append(why(run_dir, recording))
    assert twin["outcomes"]["difference"] == twin["outcomes"]["error"] == 0, shown
    assert twin["outcomes"]["expected"] == 0, shown
    for group in twin["groups"]:
        assert group["outcome"] == "noise" and group["reason"] in EXPLAINED, shown
    results = json.loads((run_dir / "run.json").read_text())["results"]
    for target in ("control", "twin"):
        assert results[target]["answered"] == results[target]["exchanges"] == twin["exchanges"]
        assert results[target]["unresolved"] == results[target]["skipped"] == 0

    events = summary["events"]["candidates"]["twin"]
    assert events["events"] > 50
    assert events["outcomes"]["differs"] == events["outcomes"]["missing"] == 0, events
    assert events["outcomes"]["unexpected"] == 0, events
    states = summary["reconciliation"]["candidates"]["twin"]
    assert states["objects"] > 50
    assert states["outcomes"]["state differs"] == states["outcomes"]["missing object"] == 0, states
    return summary


def assert_no_secret(*paths: Path) -> None:
    for path in paths:
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if not file.is_file():
                continue
            text = file.read_text(errors="replace")
            for secret in SECRETS:
                assert secret not in text, (file, secret[:4])
            leak = LEAKS.search(text)
            assert leak is None, (file, text[max(0, leak.start() - 60) : leak.end() + 20])


def test_the_recording_holds_what_the_integration_did_and_no_secret(recording: Path) -> None:
    lines = [json.loads(line) for line in recording.read_text().splitlines()[1:]]
    statuses = {line["response"]["status"] for line in lines}
    assert statuses >= {200, 400, 402, 404}
    paths = {line["request"]["path"].split("/")[2] for line in lines}
    assert paths >= {
        "customers", "tokens", "sources", "payment_methods", "payment_intents", "charges",
        "refunds", "setup_intents", "subscriptions", "subscription_items", "invoices",
        "invoiceitems", "plans", "products", "coupons", "tax_rates", "events", "balance",
    }  # fmt: skip
    keys = [line["request"]["headers"] for line in lines]
    retried = [
        value
        for headers in keys
        for name, value in headers
        if name.lower() == "idempotency-key" and value.startswith("mkt-retry-")
    ]
    assert len(retried) == 2 * len(set(retried)) > 0  # each retry sent its key twice
    versions = {dict((k.lower(), v) for k, v in headers).get("stripe-version") for headers in keys}
    assert driver.PINNED_VERSION in versions and len(versions) == 2
    assert_no_secret(recording)


@pytest.mark.parametrize("concurrency", [1, 32])
def test_an_unchanged_twin_shows_nothing_at_any_concurrency(
    recording: Path, tmp_path: Path, concurrency: int
) -> None:
    from harness.run import replay_and_compare
    from harness.scenario import load_scenario

    run_dir = tmp_path / "run"
    replay_and_compare(
        load_scenario(scenario(recording, tmp_path)), out=run_dir, concurrency=concurrency
    )
    assert_unchanged_twin(run_dir, recording)
    assert_no_secret(run_dir)


def test_an_unchanged_twin_shows_nothing_with_every_clock_months_ahead(
    recording: Path, tmp_path: Path
) -> None:
    """The whole replay (harness, both localstripes, compare) 90 days after the recording,
    at concurrency 8: every time a request holds moves by the shift, and every time an
    answer holds compares through its side's anchors."""
    run_dir = tmp_path / "run"
    # 90 days after this process's clock, whatever date that is (the suite also runs with
    # every clock months ahead, this one included); the whole tree shares one clock.
    later = datetime.fromtimestamp(time.time() + 90 * 86400, UTC)
    environment = {
        **os.environ,
        "LD_PRELOAD": str(faketime_library()),
        "FAKETIME": f"@{later:%Y-%m-%d %H:%M:%S}",
        "FAKETIME_DONT_RESET": "1",
        "TZ": "UTC",
    }
    result = subprocess.run(
        [
            *(SHADOW, "run", str(scenario(recording, tmp_path)), "--out", str(run_dir)),
            *("--report", str(tmp_path / "report"), "--no-progress", "--concurrency", "8"),
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    summary = assert_unchanged_twin(run_dir, recording)
    shift = summary["run"]["time"]["shift"]
    assert 89 * 86400 < shift < 91 * 86400
    assert_no_secret(run_dir, tmp_path / "report")
