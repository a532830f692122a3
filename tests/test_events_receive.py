"""Receiving events during a replay: localstripe targets subscribed and delivering real
signed webhooks to the replay's receivers, a target polled through GET /v1/events, and
a receiver that refuses a bad signature and counts it."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from parts import faketime_library

from harness.errors import ScenarioError
from harness.formats.events import events_file, iter_events
from harness.replay.launch.localstripe import localstripe_command
from harness.replay.launch.process import start_on_free_port
from harness.replay.receiver import Inbox, WebhookReceiver
from harness.replay.session import start_replay
from harness.scenario import load_scenario, parse_scenario
from harness.stripe.signature import sign_payload, signature_problem

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "recordings" / "demo.jsonl"


def scenario_file(tmp_path: Path, targets: str, extra: str = "") -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(
        f"name: events\nrecording: {DEMO}\nbaseline: control\n{extra}targets:\n{targets}",
        encoding="utf-8",
    )
    return path


def types(path: Path) -> list[str]:
    return sorted(received.type for received in iter_events(path))


@pytest.mark.e2e
def test_launched_localstripes_deliver_signed_events_to_their_own_receivers(
    tmp_path: Path,
) -> None:
    scenario = load_scenario(
        scenario_file(
            tmp_path,
            "  - {name: control, launch: localstripe}\n  - {name: twin, launch: localstripe}\n",
        )
    )
    out = tmp_path / "run"
    start_replay(scenario, out=out)
    run = json.loads((out / "run.json").read_text())
    counts = run["events"]["targets"]
    control, twin = types(events_file(out, "control")), types(events_file(out, "twin"))
    assert "customer.created" in control and "invoice.payment_succeeded" in control
    assert control == twin
    for name in ("control", "twin"):
        assert counts[name]["source"] == "webhook"
        assert counts[name]["received"] == len(control)
        assert counts[name]["refused"] == 0 and counts[name]["settled"] is True
        assert 0 <= counts[name]["late"] <= counts[name]["received"]
    # Each target's events are its own: no object it made appears in the other's (a plan's
    # id is chosen by the request, so the same on both).
    control_ids = {
        r.event["data"]["object"]["id"] for r in iter_events(events_file(out, "control"))
    }
    twin_ids = {r.event["data"]["object"]["id"] for r in iter_events(events_file(out, "twin"))}
    made = ("cus_", "sub_", "in_", "pi_")
    assert {i for i in control_ids if i.startswith(made)}
    assert not {i for i in control_ids & twin_ids if i.startswith(made)}
    for path in out.iterdir():
        assert "whsec_" not in path.read_text(errors="replace"), path


def replay_polling(tmp_path: Path, url: str) -> Path:
    """The demo replayed against a launched localstripe (events off) and the localstripe at
    `url`, whose events are polled after the replay; returns the run directory."""
    scenario = load_scenario(
        scenario_file(
            tmp_path,
            "  - {name: control, launch: localstripe, events: off}\n"
            f"  - {{name: polled, url: '{url}', api_key_env: LS_KEY, events: poll}}\n",
            extra="events: {quiet: 0.5, max_wait: 10}\n",
        )
    )
    out = tmp_path / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LS_KEY", "sk_test_shadowlocalstripe0000")
        start_replay(scenario, out=out)
    return out


@pytest.mark.e2e
def test_a_url_target_with_events_poll_is_paged_after_the_replay(
    tmp_path: Path, localstripe_url: str
) -> None:
    out = replay_polling(tmp_path, localstripe_url)
    counts = json.loads((out / "run.json").read_text())["events"]["targets"]
    assert "control" not in counts
    assert counts["polled"]["source"] == "poll" and counts["polled"]["polled_pages"] >= 1
    polled = types(events_file(out, "polled"))
    assert "customer.created" in polled and "invoice.payment_succeeded" in polled
    assert counts["polled"]["received"] == len(polled)


@pytest.mark.e2e
def test_a_polled_target_whose_clock_is_behind_still_gives_its_first_events(
    tmp_path: Path,
) -> None:
    # localstripe's clock runs two minutes behind this process's (whatever date that is):
    # every event it makes is stamped before the replay's start by this machine's clock.
    # Its clock starts at `behind` as its process starts (no FAKETIME_DONT_RESET: under a
    # faked clock of the tests' own, it would start at this process's start instead).
    behind = datetime.fromtimestamp(time.time() - 120, UTC).strftime("%Y-%m-%d %H:%M:%S")
    env = {"LD_PRELOAD": str(faketime_library()), "FAKETIME": f"@{behind}", "TZ": "UTC"}
    with start_on_free_port(
        "localstripe",
        localstripe_command,
        ready_path="/v1/balance",
        log_path=tmp_path / "localstripe.log",
        env=env,
    ) as server:
        out = replay_polling(tmp_path, server.url)
        listed = httpx.get(
            f"{server.url}/v1/events",
            params={"limit": "100"},
            headers={"Authorization": "Bearer sk_test_shadowlocalstripe0000"},
        ).json()
    polled = types(events_file(out, "polled"))
    assert "customer.created" in polled and "invoice.payment_succeeded" in polled
    assert not listed["has_more"] and len(polled) == len(listed["data"])
    counts = json.loads((out / "run.json").read_text())["events"]["targets"]["polled"]
    assert -125 <= counts["clock_offset"] <= -118


def _deliver(url: str, body: bytes, signature: str) -> int:
    headers = {"Stripe-Signature": signature, "Content-Type": "application/json"}
    return httpx.post(url, content=body, headers=headers).status_code


def test_the_receiver_refuses_a_bad_signature_and_counts_it(tmp_path: Path) -> None:
    """A real aiohttp receiver on 127.0.0.1, sent deliveries by a real HTTP client."""
    secret = "whsec_" + "a" * 32
    event = {
        "id": "evt_1",
        "object": "event",
        "type": "customer.created",
        "created": 1,
        "data": {"object": {"id": "cus_1", "object": "customer"}},
    }
    body = json.dumps(event).encode()
    path = tmp_path / "t.events.jsonl"

    async def scenario() -> tuple[list[int], Inbox]:
        inbox = Inbox("t", path, "webhook")
        receiver = WebhookReceiver(inbox, secret)
        await receiver.start()
        now = int(time.time())
        deliveries = [
            (body, sign_payload(body, "whsec_" + "b" * 32, now)),  # another secret
            (body, sign_payload(body, secret, now - 3600)),  # an hour old
            (body + b" ", sign_payload(body, secret, now)),  # body changed after signing
            (body, ""),  # unsigned
            (body, sign_payload(body, secret, now)),  # good
            (body, sign_payload(body, secret, now)),  # the same event again
        ]
        statuses = [
            await asyncio.to_thread(_deliver, receiver.url, payload, signature)
            for payload, signature in deliveries
        ]
        await receiver.stop()
        inbox.close()
        return statuses, inbox

    statuses, inbox = asyncio.run(scenario())
    assert statuses == [400, 400, 400, 400, 200, 200]
    assert inbox.counts.refused == 4 and inbox.counts.received == 1
    assert inbox.counts.duplicates == 1
    assert [r.id for r in iter_events(path)] == ["evt_1"]


@given(st.binary(max_size=200), st.integers(min_value=10**9, max_value=2 * 10**9))
def test_a_signature_holds_for_its_payload_only(payload: bytes, moment: int) -> None:
    secret = "whsec_test"
    header = sign_payload(payload, secret, moment)
    assert signature_problem(payload, header, secret, moment) is None
    assert signature_problem(payload + b"x", header, secret, moment) is not None
    assert signature_problem(payload, header, secret + "x", moment) is not None
    assert signature_problem(payload, header, secret, moment + 301) is not None
    # Stripe may send several v1 signatures (secret rolling): any one that matches will do.
    rolled = header + ",v1=" + "0" * 64
    assert signature_problem(payload, rolled, secret, moment) is None


def test_a_webhook_target_must_name_its_secret(tmp_path: Path) -> None:
    text = (
        f"name: x\nrecording: {DEMO}\ntargets:\n"
        "  - {name: a, url: 'http://127.0.0.1:1', events: {listen: '127.0.0.1:0'}}\n"
    )
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, tmp_path / "x.yaml")
    assert "targets[0].events" in str(caught.value) and "webhook_secret_env" in str(caught.value)
