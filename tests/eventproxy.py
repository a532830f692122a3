"""A target whose events differ in two known ways, for the event comparison's test.

`python tests/eventproxy.py --port N --events-to URL` starts its own localstripe, answers
on 127.0.0.1:N by forwarding every API request to it unchanged, and has it send its
webhooks here; each event is passed on to URL signed again with the secret in
$EVENTPROXY_SECRET, except that it

- drops every `customer.deleted` event                  (missing event, critical),
- sets `description` of every `customer.created` object  (event differs, value).

So a correct comparison finds exactly these two event causes and no API difference.
SIGTERM (what LocalProcess.stop sends) stops localstripe too.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time
from http.server import ThreadingHTTPServer
from typing import Any

import httpx

from harness.demo.simulated_upgrade import forwarding_handler
from harness.replay.launch.localstripe import localstripe
from harness.stripe.signature import new_webhook_secret, sign_payload

DROPPED = "customer.deleted"
ALTERED = ("customer.created", "description", "changed by the event proxy")
INBOX = "/_eventproxy/webhooks"


def change_event(event: dict[str, Any]) -> dict[str, Any] | None:
    """The event this target sends instead of localstripe's, or None to drop it (pure)."""
    if event.get("type") == DROPPED:
        return None
    if event.get("type") == ALTERED[0]:
        event["data"]["object"][ALTERED[1]] = ALTERED[2]
    return event


def _unchanged(method: str, path: str, status: int, body: bytes) -> tuple[int, bytes]:
    return status, body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--events-to", required=True)
    options = parser.parse_args()
    secret = os.environ["EVENTPROXY_SECRET"]

    def stop(*_: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    upstream = localstripe("event-proxy-upstream")
    forward = forwarding_handler(upstream.url, _unchanged)
    client = httpx.Client(timeout=10.0, trust_env=False)

    class Handler(forward):  # type: ignore[misc, valid-type]
        def do_POST(self) -> None:
            if not self.path.startswith(INBOX):
                forward.do_POST(self)
                return
            length = int(self.headers.get("Content-Length") or 0)
            event = change_event(json.loads(self.rfile.read(length)))
            if event is not None:
                payload = json.dumps(event).encode()
                signature = sign_payload(payload, secret, int(time.time()))
                client.post(
                    options.events_to,
                    content=payload,
                    headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
                )
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    try:
        server = ThreadingHTTPServer(("127.0.0.1", options.port), Handler)
        server.daemon_threads = True
        httpx.post(
            f"{upstream.url}/_config/webhooks/proxy",
            data={
                "url": f"http://127.0.0.1:{options.port}{INBOX}",
                "secret": new_webhook_secret(),
            },
        )
        server.serve_forever()
    finally:
        upstream.stop()


if __name__ == "__main__":
    main()
