"""Webhook capture with real parts: `shadow record --webhooks-upstream` between a real
localstripe (delivering signed webhooks) and a handler of this test's own; the recording
then serves as the baseline of the event comparison."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from harness.compare.pipeline import compare_run
from harness.formats.recording import iter_exchanges, read_header
from harness.replay.launch.localstripe import LOCALSTRIPE_TEST_KEY
from harness.replay.session import start_replay
from harness.scenario import load_scenario
from harness.stripe.signature import sign_payload
from scenarios.demo.make_recording import recorder

pytestmark = pytest.mark.e2e

# A made-up signing secret for this test's own signer (joined, so that no line of this
# file looks like a real one).
SECRET = "whsec_" + "capturetest0123456789abcdef"
FAILING_TYPE = "customer.updated"  # the handler answers these with a 500


@pytest.fixture
def handler() -> Iterator[tuple[str, list[str]]]:
    """A webhook handler on 127.0.0.1: 200 for every event but customer.updated (500);
    yields its URL and the event types it was given."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(event["type"])
            status = 500 if event["type"] == FAILING_TYPE else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def wait_for(condition: object, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_deliveries_are_recorded_inbound_and_serve_as_the_baseline(
    tmp_path: Path,
    localstripe_url: str,
    handler: tuple[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handler_url, seen = handler
    monkeypatch.setenv("CAPTURE_SECRET", SECRET)
    out = tmp_path / "with-webhooks.jsonl"
    options = ("--upstream", localstripe_url, "--webhooks-upstream", handler_url)
    options += ("--webhooks-secret-env", "CAPTURE_SECRET")
    with recorder(out, *options) as proxy:
        assert proxy.webhooks_url is not None
        httpx.post(
            f"{localstripe_url}/_config/webhooks/capture",
            data={"url": proxy.webhooks_url + "/stripe/webhooks", "secret": SECRET},
        ).raise_for_status()
        api = httpx.Client(
            base_url=proxy.url, headers={"Authorization": f"Bearer {LOCALSTRIPE_TEST_KEY}"}
        )
        customer = api.post("/v1/customers", data={"email": "a@example.com"}).json()
        api.post(f"/v1/customers/{customer['id']}", data={"description": "vip"})
        forged = json.dumps({"id": "evt_forged", "object": "event", "type": "x"}).encode()
        refused = httpx.post(
            proxy.webhooks_url + "/stripe/webhooks",
            content=forged,
            headers={"Stripe-Signature": sign_payload(forged, "whsec_other", int(time.time()))},
        )
        assert refused.status_code == 400
        assert wait_for(lambda: sorted(seen) == ["customer.created", "customer.updated"]), seen
        proxy.process.send_signal(signal.SIGTERM)
        assert proxy.process.wait(30) == 0
        assert proxy.process.stderr is not None
        stderr = proxy.process.stderr.read()
    assert "webhooks: 2 deliveries recorded, 1 refused" in stderr
    assert "evt_forged" not in seen

    assert read_header(out).version == 2
    inbound = list(iter_exchanges(out, direction="inbound"))
    assert len(list(iter_exchanges(out))) == 2  # the API calls alone, as the replay reads
    statuses = {
        json.loads(e.request.text)["type"]: e.response.status for e in inbound if e.response
    }
    assert statuses == {"customer.created": 200, FAILING_TYPE: 500}
    assert all(e.extra["direction"] == "inbound" for e in inbound)
    assert all(e.request.path == "/stripe/webhooks" for e in inbound)
    for exchange in inbound:
        signature = exchange.request.header("Stripe-Signature") or ""
        assert signature.startswith("t=") and "v1=<redacted>" in signature
    text = out.read_text()
    assert SECRET not in text and "evt_forged" not in text

    # The recorded deliveries are the baseline of a localstripe replaying the recording.
    scenario_path = tmp_path / "scenario.yaml"
    scenario_path.write_text(
        f"name: baseline-recording\nrecording: {out}\ntargets:\n"
        "  - {name: local, launch: localstripe}\n",
        encoding="utf-8",
    )
    run = tmp_path / "run"
    start_replay(load_scenario(scenario_path), out=run)
    summary = compare_run(run)
    events = summary["events"]
    assert events["baseline"] == "recording"
    assert events["types"]["customer.created"] == {"recording": 1, "local": 1}
    local = events["candidates"]["local"]
    assert local["outcomes"]["match"] == 2 and local["causes"] == []


def test_a_version_1_recording_still_reads_as_api_calls_only() -> None:
    demo = Path(__file__).resolve().parent.parent / "recordings" / "demo.jsonl"
    assert read_header(demo).version == 1
    everything = list(iter_exchanges(demo, direction=None))
    assert everything and list(iter_exchanges(demo, direction="inbound")) == []
    assert len(list(iter_exchanges(demo))) == len(everything)
