"""Forwarding a target's events to the customer's handler: a launched localstripe's real
webhooks, received by the replay, signed again and sent to a handler of this test's own
with the recorded ids in place of the target's; the handler's status is kept."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.formats.events import events_file, iter_events
from harness.formats.recording import iter_exchanges
from harness.replay.session import start_replay
from harness.scenario import load_scenario
from harness.stripe import find_ids
from harness.stripe.signature import signature_problem

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "recordings" / "demo.jsonl"
# A made-up signing secret for this test's own signer (joined, so that no line of this
# file looks like a real one).
SECRET = "whsec_" + "forwardtest0123456789abcdef"


@pytest.fixture
def handler() -> Iterator[tuple[str, list[dict[str, object]]]]:
    """A handler that checks the signature with SECRET, keeps each event it accepts, and
    answers 500 to customer.deleted."""
    accepted: list[dict[str, object]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            problem = signature_problem(body, self.headers["Stripe-Signature"], SECRET, time.time())
            event = json.loads(body)
            status = 400 if problem else 500 if event["type"] == "customer.deleted" else 200
            if status != 400:
                accepted.append(event)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/webhooks", accepted
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.e2e
def test_forwarded_events_carry_the_recorded_ids_and_the_handlers_status_is_kept(
    tmp_path: Path,
    handler: tuple[str, list[dict[str, object]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, accepted = handler
    monkeypatch.setenv("FORWARD_SECRET", SECRET)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        f"name: forward\nrecording: {DEMO}\ntargets:\n"
        "  - name: local\n    launch: localstripe\n"
        f"    events: {{forward_to: '{url}', forward_secret_env: FORWARD_SECRET, map_ids: true}}\n",
        encoding="utf-8",
    )
    out = tmp_path / "run"
    start_replay(load_scenario(scenario), out=out)

    received = list(iter_events(events_file(out, "local")))
    assert received and len(accepted) == len(received)  # every event, each signature good
    statuses = {r.type: r.forwarded["status"] for r in received if r.forwarded}
    assert statuses["customer.deleted"] == 500 and statuses["customer.created"] == 200
    counts = json.loads((out / "run.json").read_text())["events"]["targets"]["local"]
    assert counts["forwarded"] == {"200": len(received) - 1, "500": 1}

    recorded = {
        found
        for e in iter_exchanges(DEMO)
        for found in find_ids(e.response.text if e.response else "")
    }
    created = [e for e in accepted if e["type"] == "customer.created"]
    customer_ids = {e["data"]["object"]["id"] for e in created}  # type: ignore[index]
    assert customer_ids and customer_ids <= recorded  # the ids the handler's database holds
    target_ids = {r.event["data"]["object"]["id"] for r in received if r.type == "customer.created"}
    assert not target_ids & customer_ids  # what the events file keeps is the target's own
    assert SECRET not in "".join(p.read_text(errors="replace") for p in out.iterdir())
