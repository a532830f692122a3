"""The event comparison with real parts: two localstripes delivering signed webhooks to
the replay's receivers compare with no event cause; a target whose events a proxy of
this test changes (tests/eventproxy.py) shows exactly the two causes it made. And the
matching itself, on plain data."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from harness.cli import main
from harness.compare.eventrun import recorded_events
from harness.compare.events import (
    EventSide,
    Placed,
    compare_events,
    match_events,
    presence_verdict,
)
from harness.compare.pipeline import compare_run, profile_for
from harness.compare.rules import parse_compare_config
from harness.formats.events import ReceivedEvent
from harness.formats.recording import Header, write_recording
from harness.gate import GateConfig, apply_gate
from harness.model import Exchange, Request, Response
from harness.replay.launch.process import free_port
from harness.replay.session import start_replay
from harness.report.write import write_report
from harness.scenario import load_scenario

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "recordings" / "demo.jsonl"
SUMMARY_SCHEMA = json.loads((REPO / "harness/schemas/summary-v2.schema.json").read_text())


def _scenario(tmp_path: Path, targets: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(
        f"name: events\nrecording: {DEMO}\nbaseline: control\ntargets:\n{targets}",
        encoding="utf-8",
    )
    return path


@pytest.mark.e2e
def test_twin_localstripes_send_events_alike(tmp_path: Path) -> None:
    scenario = load_scenario(
        _scenario(
            tmp_path,
            "  - {name: control, launch: localstripe}\n  - {name: twin, launch: localstripe}\n",
        )
    )
    out = tmp_path / "run"
    start_replay(scenario, out=out)
    summary = compare_run(out)
    events = summary["events"]
    twin = events["candidates"]["twin"]
    assert twin["causes"] == []
    assert twin["outcomes"]["match"] == twin["events"] > 0
    assert events["types"]["customer.created"] == {"control": 6, "twin": 6}
    assert apply_gate(summary, GateConfig()).status == "passed"
    jsonschema.validate(summary, SUMMARY_SCHEMA)

    report = tmp_path / "report"
    write_report(out, report)
    page = (report / "index.html").read_text()
    assert '<section id="events">' in page and "customer.created" in page
    assert "### Events" in (report / "summary.md").read_text()
    suites = [s.get("name") for s in ET.parse(report / "junit.xml").getroot()]
    assert "twin events against control" in suites


@pytest.mark.e2e
def test_a_proxy_that_drops_one_event_type_and_changes_another_shows_two_causes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    listen = free_port()
    monkeypatch.setenv("EVENTPROXY_SECRET", "whsec_" + "eventproxytest0123456789")  # made up
    command = " ".join(
        [
            sys.executable,
            str(REPO / "tests" / "eventproxy.py"),
            "--port",
            "{port}",
            "--events-to",
            f"http://127.0.0.1:{listen}/",
        ]
    )
    scenario = load_scenario(
        _scenario(
            tmp_path,
            "  - {name: control, launch: localstripe}\n"
            "  - name: changed\n"
            "    api_key_env: EVENTPROXY_KEY\n"
            f"    launch: {{command: {json.dumps(command)}, url: 'http://127.0.0.1:{{port}}', "
            "ready_path: /v1/balance}\n"
            "    events: {webhook_secret_env: EVENTPROXY_SECRET, "
            f"listen: '127.0.0.1:{listen}'}}\n",
        )
    )
    monkeypatch.setenv("EVENTPROXY_KEY", "sk_test_shadowlocalstripe0000")
    out = tmp_path / "run"
    start_replay(scenario, out=out)
    summary = compare_run(out)
    groups = summary["candidates"]["changed"]["groups"]
    assert [g for g in groups if g["outcome"] == "difference"] == []  # the answers are unchanged
    jsonschema.validate(summary, SUMMARY_SCHEMA)
    causes = summary["events"]["candidates"]["changed"]["causes"]
    found = sorted((c["type"], c["path"], c["kind"], c["severity"]) for c in causes)
    assert found == [
        ("customer.created", "$.data.object.description", "value", "medium"),
        ("customer.deleted", "$", "missing", "critical"),
    ]
    printed = CliRunner().invoke(main, ["compare", str(out)]).output
    assert "changed vs control: 49 events: " in printed and "; 2 event causes" in printed
    assert "  critical missing    customer.deleted $  (1 event)" in printed
    verdict = apply_gate(summary, GateConfig())
    assert verdict.status == "failed"
    assert any(
        reason.startswith("events: 2 event causes")
        for c in verdict.candidates
        for reason in c.reasons
    )
    relaxed = GateConfig.model_validate({"events": {"fail_on": "critical"}})
    assert (
        "events: 1 event cause at or above critical"
        in apply_gate(summary, relaxed).candidates[0].reasons[0]
    )


def _placed(
    event_id: str, event_type: str, journey: int, recorded: str | None, created: int
) -> Placed:
    event = {"id": event_id, "type": event_type, "created": created, "data": {"object": {}}}
    return Placed(ReceivedEvent(event, float(created)), journey, recorded)


def test_events_pair_within_journey_and_type_by_object_then_by_order() -> None:
    baseline = [
        _placed("b1", "customer.updated", 1, "cus_A", 10),
        _placed("b2", "customer.updated", 1, "cus_B", 10),
        _placed("b3", "invoice.created", 1, None, 11),
        _placed("b4", "invoice.paid", 2, None, 12),
    ]
    candidate = [
        _placed("c2", "customer.updated", 1, "cus_B", 9),
        _placed("c1", "customer.updated", 1, "cus_A", 10),
        _placed("c3", "invoice.created", 1, None, 30),
        _placed("c5", "charge.refunded", 2, None, 12),
    ]
    pairs, missing, unexpected = match_events(baseline, candidate)
    assert sorted((b.received.id, c.received.id) for b, c in pairs) == [
        ("b1", "c1"),
        ("b2", "c2"),
        ("b3", "c3"),
    ]
    assert [m.received.id for m in missing] == ["b4"]
    assert [u.received.id for u in unexpected] == ["c5"]


def _payment(event_id: str, customer: str, amount: int, note: str) -> ReceivedEvent:
    """A payment_intent.succeeded of the same second about a payment the target made itself
    (for an invoice): no id map knows it or its charge."""
    payment = {
        "id": "pi_" + event_id[4:],
        "object": "payment_intent",
        "amount": amount,
        "customer": customer,
        "description": note,
        "latest_charge": "ch_" + event_id[4:],
        "created": 1_796_648_757,
    }
    event = {
        "id": event_id,
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": 1_796_648_757,
        "data": {"object": payment},
    }
    return ReceivedEvent(event, 1_796_648_757.0)


def compare_payments(
    baseline: list[ReceivedEvent], candidate: list[ReceivedEvent]
) -> dict[str, Any]:
    """The events summary of two sides whose one customer each map knows (the recorded
    `cus_recorded`, in journey 3), under the default rules."""
    config = parse_compare_config({}, "scenario.yaml")
    return compare_events(
        EventSide("control", baseline, {"cus_known1": "cus_recorded"}),
        EventSide("changed", candidate, {"cus_known2": "cus_recorded"}),
        {"cus_recorded": 3},
        profile_for(config),
        config,
    )


def test_leftover_events_of_one_second_pair_by_fewest_differences_not_by_random_ids() -> None:
    # Two payments of one customer in one second, each with its description changed. The
    # candidate's random event ids sort the other way round than the baseline's: paired in
    # order they would cross and differ in amount, charge and id as well.
    baseline = [
        _payment("evt_A9000000000000", "cus_known1", 900, "first"),
        _payment("evt_B3200000000000", "cus_known1", 3200, "second"),
    ]
    candidate = [
        _payment("evt_Z9000000000000", "cus_known2", 900, "first, changed"),
        _payment("evt_Y3200000000000", "cus_known2", 3200, "second, changed"),
    ]
    summary = compare_payments(baseline, candidate)
    causes = [(c["path"], c["kind"], c["count"]) for c in summary["causes"]]
    assert causes == [("$.data.object.description", "value", 2)]
    assert summary["outcomes"]["differs"] == 2


_PAYMENTS = st.lists(
    st.tuples(st.sampled_from([900, 3200]), st.sampled_from(["a", "b", "c"]), st.booleans()),
    min_size=1,
    max_size=6,
)
_EVENT_ID = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=14, max_size=14)


@given(_PAYMENTS, st.lists(_EVENT_ID, min_size=12, max_size=12, unique=True))
def test_an_events_verdict_does_not_hang_on_its_random_event_ids(
    payments: list[tuple[int, str, bool]], shuffled: list[str]
) -> None:
    # The same events under other random event ids (which order events of one second)
    # come to the same causes and outcomes.

    def summary(ids: list[str]) -> dict[str, Any]:
        baseline = [
            _payment(f"evt_{ids[i]}", "cus_known1", amount, note)
            for i, (amount, note, _) in enumerate(payments)
        ]
        candidate = [
            _payment(f"evt_{ids[6 + i]}", "cus_known2", amount, note + "!" * changed)
            for i, (amount, note, changed) in enumerate(payments)
        ]
        found = compare_payments(baseline, candidate)
        for cause in found["causes"]:
            del cause["samples"], cause["example"]  # which event is shown first
        return found

    ordered = sorted(shuffled)
    assert summary(shuffled) == summary(ordered) == summary(ordered[::-1])


def test_leftovers_pair_in_order_of_creation_when_no_distance_is_given() -> None:
    baseline = [
        _placed("b1", "invoice.paid", 1, None, 10),
        _placed("b2", "invoice.paid", 1, None, 11),
    ]
    candidate = [
        _placed("c1", "invoice.paid", 1, None, 12),
        _placed("c2", "invoice.paid", 1, None, 13),
    ]
    amounts = {"b1": 900, "b2": 3200, "c1": 3200, "c2": 900}

    def distance(ours: Placed, theirs: Placed) -> int:
        return int(amounts[ours.received.id] != amounts[theirs.received.id])

    def ids(pairs: list[tuple[Placed, Placed]]) -> list[tuple[str, str]]:
        return sorted((b.received.id, c.received.id) for b, c in pairs)

    assert ids(match_events(baseline, candidate)[0]) == [("b1", "c1"), ("b2", "c2")]
    assert ids(match_events(baseline, candidate, None, distance)[0]) == [("b1", "c2"), ("b2", "c1")]


_EVENTS = st.lists(
    st.tuples(
        st.sampled_from(["customer.created", "customer.updated", "invoice.paid"]),
        st.integers(min_value=-1, max_value=2),
        st.sampled_from([None, "cus_A", "cus_B"]),
        st.integers(min_value=0, max_value=3),
    ),
    max_size=12,
)


@given(_EVENTS, _EVENTS)
def test_every_event_ends_in_exactly_one_place_and_pairs_share_journey_and_type(
    ours: list[tuple[str, int, str | None, int]], theirs: list[tuple[str, int, str | None, int]]
) -> None:
    baseline = [_placed(f"b{i}", *item) for i, item in enumerate(ours)]
    candidate = [_placed(f"c{i}", *item) for i, item in enumerate(theirs)]
    pairs, missing, unexpected = match_events(baseline, candidate)
    assert sorted(x.received.id for x in [*(b for b, _ in pairs), *missing]) == sorted(
        x.received.id for x in baseline
    )
    assert sorted(x.received.id for x in [*(c for _, c in pairs), *unexpected]) == sorted(
        x.received.id for x in candidate
    )
    for b, c in pairs:
        assert (b.journey, b.type) == (c.journey, c.type)
    # Per (journey, type), only one side has events left over: multisets of types.
    left = {(x.journey, x.type) for x in missing}
    assert not left & {(x.journey, x.type) for x in unexpected}


def test_rules_name_events_by_type_for_missing_and_unexpected_ones() -> None:
    config = parse_compare_config(
        {
            "severity": [{"endpoint": "event customer.*", "severity": "low"}],
            "expect": [{"endpoint": "event invoice.paid", "reason": "localstripe sends none"}],
        },
        "scenario.yaml",
    )
    assert presence_verdict(config, "customer.deleted", "missing") == ("low", "difference", None)
    assert presence_verdict(config, "invoice.paid", "missing") == (
        "critical",
        "expected",
        "localstripe sends none",
    )
    assert presence_verdict(config, "charge.refunded", "unexpected") == ("high", "difference", None)


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_a_recording_of_api_calls_only_holds_no_events_and_one_delivery_makes_them(
    tmp_path: Path, suffix: str
) -> None:
    call = Exchange(
        0, 1_795_000_000.0, 0.1, Request("GET", "/v1/balance"), Response(200, body="{}")
    )
    plain = tmp_path / f"calls{suffix}"
    write_recording(plain, Header(), [call])
    assert recorded_events(plain) is None
    event = {"id": "evt_1", "type": "customer.created", "data": {"object": {}}}
    delivery = Exchange(
        1,
        1_795_000_001.0,
        0.1,
        Request("POST", "/webhooks", body=json.dumps(event)),
        Response(200, body=""),
        extra={"direction": "inbound"},
    )
    with_delivery = tmp_path / f"delivered{suffix}"
    write_recording(with_delivery, Header(), [call, delivery])
    found = recorded_events(with_delivery)
    assert found is not None and [e.event["id"] for e in found] == ["evt_1"]
