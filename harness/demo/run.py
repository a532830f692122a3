"""`shadow demo`: the whole job with no Stripe account and no network, in two validation
runs (replay, compare, report, gate) against local targets:

1. the shipped demo recording against a baseline localstripe, a control candidate set up
   the same way (expected: no regressions) and a candidate that really differs:
   localstripe behind harness.demo.simulated_upgrade, a simulated API upgrade;
2. the shipped Charges → PaymentIntents rehearsal (scenarios/charges-to-payment-intents.yaml):
   a Charges API integration replayed as PaymentIntents through its blueprint;

then the integration map of the demo recording (what it does with Stripe, and its
findings), the demo app's own database reconciled with the recording (three planted
drifts), and a paragraph that reads the result.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import harness
from harness.demo.simulated_upgrade import CHANGES, FROM_VERSION, TO_VERSION
from harness.errors import InputError
from harness.gate import PASSED, GateVerdict
from harness.map.build import WrittenMap, default_settings, map_recordings, write_map
from harness.map.findings import Finding
from harness.reconcile.page import render_page
from harness.reconcile.reconcile import StripeSide, reconcile, write_reconciliation
from harness.replay.launch.localstripe import LOCALSTRIPE_TEST_KEY
from harness.replay.progress import ProgressView
from harness.run import RunResult, run_scenario
from harness.scenario import load_scenario

# The fixed key of a local localstripe: a test key of no account, not a secret.
KEY_ENV = "SHADOW_DEMO_LOCALSTRIPE_KEY"
MARKER = ".shadow-demo"

# The shipped migration scenario the demo rehearses, relative to the repository.
MIGRATION = Path("scenarios") / "charges-to-payment-intents.yaml"

# What the demo app keeps beside Stripe (scenarios/demo/app_records.py), and its mapping.
APP_DATABASE = Path("recordings") / "demo-app.sqlite"
APP_MAPPING = Path("scenarios") / "demo" / "app-mapping.yaml"

# What each candidate stands for, in the reading of the result.
ROLES = {
    "twin": "the same setup as the baseline, replayed again",
    "upgraded": f"localstripe answering as if the account had moved from {FROM_VERSION} to "
    f"{TO_VERSION} (a simulated change)",
    "payment-intents": "every charge sent as a confirmed PaymentIntent",
}


def repository_root() -> Path:
    """The checkout the package is installed from (editable install)."""
    return Path(harness.__file__).resolve().parent.parent


def shipped(relative: Path) -> Path:
    """A file the demo needs from the checkout the package is installed from."""
    path = repository_root() / relative
    if not path.is_file():
        raise InputError(
            f"{path}: missing; the demo needs a source checkout of stripe-shadow "
            "(pip install -e .) with its recordings/ and scenarios/"
        )
    return path


def demo_scenario(recording: Path, python: str = sys.executable) -> dict[str, Any]:
    """The demo's scenario: a baseline and a control candidate pinned at FROM_VERSION, and a
    differing candidate pinned at TO_VERSION that expects the upgrade: what the catalogue
    diff explains is expected; the older changes are expected by rules or are regressions."""
    pinned = {"Stripe-Version": FROM_VERSION}
    return {
        "name": "api-upgrade",
        "description": "The demo recording against a control candidate and a simulated API "
        "upgrade (shadow demo).",
        "recording": str(recording),
        "baseline": "control",
        # One request at a time per target: localstripe orders objects created in the same
        # second by store order, which parallel journeys would make differ per target.
        "concurrency": 1,
        "targets": [
            {"name": "control", "launch": "localstripe", "headers": pinned},
            {"name": "twin", "launch": "localstripe", "headers": pinned},
            {
                "name": "upgraded",
                "headers": {"Stripe-Version": TO_VERSION},
                "expect_upgrade": True,
                "api_key_env": KEY_ENV,
                "launch": {
                    "command": f"{python} -m harness.demo.simulated_upgrade --port {{port}}",
                    "url": "http://127.0.0.1:{port}",
                    "ready_path": "/v1/balance",
                },
            },
        ],
        "compare": {
            "expect": [
                {
                    "endpoint": "* /v1/payment_intents*",
                    "path": "$.charges",
                    "kind": "removed",
                    "reason": "API 2022-11-15 removed charges from payment intents; "
                    "our checkout reads latest_charge already",
                },
                {
                    "path": "*.balance",
                    "kind": "added",
                    "reason": "API 2019-10-17 renamed customer.account_balance to balance",
                },
            ],
        },
        "gate": {"fail_on": "high"},
        "upgrade_check": TO_VERSION,
    }


def prepare_workspace(out: Path) -> None:
    """An empty directory for the demo; a previous demo's is replaced, nothing else is."""
    try:
        if out.exists():
            if not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).is_file()):
                raise InputError(f"{out}: exists and is not a demo directory; pass another --out")
            shutil.rmtree(out)
        out.mkdir(parents=True)
        (out / MARKER).write_text("written by shadow demo; replaced by the next one\n")
    except OSError as exc:
        raise InputError(
            f"{out}: cannot make the demo's directory ({exc.strerror}); pass another --out"
        ) from None


@dataclass(slots=True)
class DemoPart:
    """One validation run of the demo."""

    title: str
    scenario: Path
    result: RunResult


def run_demo(out: Path, progress: ProgressView | None = None) -> list[DemoPart]:
    """Run both parts of the demo into `out` (a previous demo's is replaced): the upgrade's
    scenario, then runs/<scenario>/ and reports/<scenario>/ for each part."""
    recording = shipped(Path("recordings") / "demo.jsonl")
    migration = shipped(MIGRATION)
    prepare_workspace(out)
    scenario_path = out / "api-upgrade.yaml"
    header = "# Written by `shadow demo`. " + "; ".join(CHANGES) + "\n"
    scenario_path.write_text(
        header + yaml.safe_dump(demo_scenario(recording), sort_keys=False, width=100)
    )
    os.environ.setdefault(KEY_ENV, LOCALSTRIPE_TEST_KEY)
    parts = []
    for title, path in (
        ("An API upgrade (simulated) beside a control", scenario_path),
        ("Charges → PaymentIntents", migration),
    ):
        scenario = load_scenario(path)
        result = run_scenario(
            scenario,
            out=out / "runs" / scenario.name,
            report_dir=out / "reports" / scenario.name,
            progress=progress,
        )
        parts.append(DemoPart(title, path, result))
    return parts


def map_demo(out: Path) -> WrittenMap:
    """The integration map of the demo recording, into `out`/map/."""
    recording = shipped(Path("recordings") / "demo.jsonl")
    return write_map(map_recordings([recording], default_settings()), out / "map")


def reconcile_demo(out: Path) -> dict[str, Any]:
    """The demo app's database against the demo recording's last known states, into
    `out`/reconcile/; returns reconcile.json's content."""
    recording = shipped(Path("recordings") / "demo.jsonl")
    document = reconcile(
        str(shipped(APP_DATABASE)), str(shipped(APP_MAPPING)), StripeSide(str(recording))
    )
    write_reconciliation(document, out / "reconcile", render_page(document))
    return document


# --- reading the result --------------------------------------------------------------------


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _fields(groups: list[dict[str, Any]]) -> str:
    """`subscription.plan removed (7 endpoints), customer.account_balance removed (4
    endpoints)`: the causes as the report's rows name them, for a reader who wants the
    gist before the rows."""

    def endpoints(group: dict[str, Any]) -> int:
        return len(group.get("endpoints") or [group["endpoint"]])

    return ", ".join(
        f"{group['cause']} ({_plural(endpoints(group), 'endpoint')})"
        for group in sorted(groups, key=lambda g: (-endpoints(g), str(g["cause"])))
    )


def _candidate_sentence(name: str, candidate: dict[str, Any], status: str, fail_on: str) -> str:
    outcomes = candidate.get("outcomes") or {}
    exchanges = int(candidate.get("exchanges", 0))
    role = f", {ROLES[name]}," if name in ROLES else ""
    different = exchanges - int(outcomes.get("match", 0))
    if not different:
        return (
            f"`{name}`{role} matched on all {exchanges} exchanges, so the harness adds no "
            "differences of its own: what differs elsewhere comes from the setup"
        )
    parts = [f"`{name}`{role} answered {different} of {exchanges} exchanges differently"]
    expected = [g for g in candidate.get("groups", []) if g.get("outcome") == "expected"]
    if expected:
        reasons = sorted({str(g.get("reason")) for g in expected})
        why = (
            " and ".join(f'"{r}"' for r in reasons)
            if len(reasons) <= 2
            else f"{len(reasons)} reasons, each beside its group in the report"
        )
        parts.append(
            f"{_plural(int(outcomes.get('expected', 0)), 'exchange')} only in ways the "
            f"scenario expects ({why})"
        )
    if outcomes.get("noise"):
        parts.append(f"{_plural(int(outcomes['noise']), 'exchange')} only in known noise")
    real = [g for g in candidate.get("groups", []) if g.get("outcome") == "difference"]
    if real:
        parts.append(f"{_plural(len(real), 'cause')} of real differences: {_fields(real)}")
    if outcomes.get("error"):
        parts.append(f"{_plural(int(outcomes['error']), 'exchange')} could not be compared")
    verdict = {PASSED: "passes", "failed": "fails"}.get(status, "cannot be judged")
    return "; ".join(parts) + f". Gated at severity {fail_on} and above, it {verdict}"


def _events_sentence(summary: dict[str, Any]) -> str | None:
    """`Events: control sent 49 (10 types, 49 after their request's answer); twin's 49
    matched control's, 0 event causes`, or None for a run that heard no events."""
    section = summary.get("events")
    if not isinstance(section, dict):
        return None
    heard = section.get("targets") or {}
    sent = [
        f"`{name}` sent {_plural(int(counts.get('received', 0)), 'event')} "
        f"({int(counts.get('late', 0))} after its last answer, "
        f"{int(counts.get('refused', 0))} refused)"
        for name, counts in heard.items()
    ]
    compared = []
    for name, entry in (section.get("candidates") or {}).items():
        outcomes = entry.get("outcomes") or {}
        real = [c for c in entry.get("causes") or [] if c.get("outcome") == "difference"]
        compared.append(
            f"`{name}`'s events matched `{section.get('baseline')}`'s for "
            f"{int(outcomes.get('match', 0))} of {int(entry.get('events', 0))} "
            f"({_plural(len(real), 'event cause')})"
        )
    silent = [n for n in summary.get("candidates", {}) if n not in section.get("candidates", {})]
    if silent:
        compared.append(
            f"{', '.join(f'`{n}`' for n in silent)} sent no events the replay could hear"
        )
    return "Events: " + "; ".join(sent + compared)


def _run_sentence(summary: dict[str, Any]) -> str:
    """`demo.jsonl (85 exchanges in 18 journeys) was replayed against …`."""
    run = summary.get("run") or {}
    recording = run.get("recording") or {}
    name = Path(str(recording.get("path", "the recording"))).name
    journeys = (run.get("plan") or {}).get("journeys", "?")
    head = f"{name} ({recording.get('exchanges', '?')} exchanges in {journeys} journeys)"
    candidates = _plural(len(summary.get("candidates", {})), "candidate")
    if summary.get("baseline") == "recording":
        return f"{head} was replayed against {candidates} and compared with what was recorded"
    return f"{head} was replayed against the baseline `{summary.get('baseline')}` and {candidates}"


# The findings of the map the closing paragraph names.
TOP_FINDINGS = 3


def _map_sentence(written: WrittenMap) -> str:
    """`The integration map of demo.jsonl (DIR/index.html) has 2 findings, the most
    serious first: [high] …; [medium] …`."""
    page = written.directory / "index.html"
    findings: list[Finding] = written.findings
    head = f"The integration map of {' and '.join(written.recordings)} ({page})"
    if not findings:
        return f"{head} finds nothing to do better: the traffic follows every practice it checks"
    named = "; ".join(
        f"[{f.severity}] {f.title}: {f.subject}, {f.detail}" for f in findings[:TOP_FINDINGS]
    )
    more = len(findings) - TOP_FINDINGS
    return f"{head} has {_plural(len(findings), 'finding')}, the most serious first: {named}" + (
        f"; and {more} more on the page" if more > 0 else ""
    )


def _reconcile_sentence(document: dict[str, Any]) -> str:
    """`The app's own records (…) against the recording: 12 match and 3 drifted: …`."""
    totals = document["totals"]
    head = (
        f"The app's own records ({Path(str(document['source'])).name}) against the "
        f"recording's last known states: {totals['match']} match"
    )
    if not document["drift"]:
        return head + " and none drifted"
    drifts = []
    for cause in document["causes"]:
        sample = cause["samples"][0]
        drifts.append(
            f"{cause['object']}.{cause['field']} differs on {_plural(cause['count'], 'row')} "
            f"(e.g. {sample['stripe_id']}: {sample['source']} in the app, {sample['stripe']} "
            "in Stripe)"
        )
    for kind, found in document["objects"].items():
        for group in found["only_in_source"]:
            drifts.append(f"{_plural(group['count'], kind)} only in the app ({group['why']})")
        only = found["only_in_stripe"]
        if only["count"]:
            ids = ", ".join(s["stripe_id"] for s in only["samples"])
            drifts.append(f"{_plural(only['count'], kind)} only in Stripe ({ids})")
    return f"{head} and {document['drift']} drifted: " + "; ".join(drifts)


def reading(
    parts: list[tuple[dict[str, Any], GateVerdict, str]],
    mapped: WrittenMap | None = None,
    reconciled: dict[str, Any] | None = None,
) -> str:
    """One paragraph on what the runs show, built from each one's summary, verdict and
    gate severity, on the top findings of the recording's map, and on what reconciling
    the app's records with Stripe found."""
    sentences = []
    for summary, verdict, fail_on in parts:
        statuses = {c.name: c.status for c in verdict.candidates}
        sentences.append(_run_sentence(summary))
        for name, candidate in summary.get("candidates", {}).items():
            sentences.append(_candidate_sentence(name, candidate, statuses.get(name, "-"), fail_on))
        events = _events_sentence(summary)
        if events is not None:
            sentences.append(events)
    if mapped is not None:
        sentences.append(_map_sentence(mapped))
    if reconciled is not None:
        sentences.append(_reconcile_sentence(reconciled))
    codes = [verdict.exit_code for _, verdict, _ in parts]
    meaning = {
        0: "its gate passed",
        1: "its gate failed: a cut-over waits until each regression is fixed, or accepted "
        "with `shadow accept RUN_DIR GROUP_ID --reason ...`",
        3: "too many errors to judge",
    }
    said = [f"{code} on {_ordinal(i)} run ({meaning[code]})" for i, code in enumerate(codes)]
    if said:
        sentences.append(f"In CI, `shadow run` would exit {' and '.join(said)}")
    return ". ".join(sentences) + "."


def _ordinal(index: int) -> str:
    return ("the first", "the second", "the third")[index] if index < 3 else f"run {index + 1}"
