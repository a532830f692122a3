"""A simulated change for the demo: localstripe answering as if the account had moved from
2024-09-30.acacia to 2025-03-31.basil. Not Stripe's behaviour, and not a full upgrade: a
few of Stripe's documented breaking changes applied to localstripe's answers, so the demo
has a candidate that really differs without a Stripe account or the network. The basil
changes are the catalogue's to explain (`expect_upgrade`, docs/catalogue.md); the three
older ones are changes no catalogue covers, which only a scenario's rules can expect.

`python -m harness.demo.simulated_upgrade --port N` starts its own localstripe
(harness.replay.launch.localstripe) and answers on 127.0.0.1:N by forwarding every
request to it and rewriting, in every object of every JSON answer (lists and embedded objects too):

- invoice: `subscription` moved under `parent.subscription_details`; `charge`,
  `payment_intent` and `paid` removed                    (API 2025-03-31.basil)
- subscription: `current_period_start` and `current_period_end` moved to each item
                                                         (API 2025-03-31.basil)
- customer: `account_balance` renamed `balance`        (API 2019-10-17)
- subscription: `plan` and `quantity` removed           (API 2020-08-27)
- payment intent: `charges` removed (`latest_charge` stays) (API 2022-11-15)

SIGTERM (what the replay's launcher sends) stops localstripe too.
"""

from __future__ import annotations

import argparse
import json
import signal
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from harness.formats.untrusted import JSONProblem, load_json
from harness.replay.launch.localstripe import localstripe
from harness.replay.launch.process import LocalProcess

# The API versions the demo pins on its baseline and on this candidate.
FROM_VERSION = "2024-09-30.acacia"
TO_VERSION = "2025-03-31.basil"

CHANGES = (
    "invoice.subscription moved to parent.subscription_details; invoice.charge, "
    "payment_intent and paid removed (API 2025-03-31.basil)",
    "subscription.current_period_start and _end moved to its items (API 2025-03-31.basil)",
    "customer.account_balance renamed balance (API 2019-10-17)",
    "subscription.plan and subscription.quantity removed (API 2020-08-27)",
    "payment_intent.charges removed; latest_charge stays (API 2022-11-15)",
)

# Headers that belong to one hop, or that a rewritten body invalidates.
_HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "host"}
)


def upgrade_object(node: Any) -> Any:
    """The same JSON tree with the changes applied to every Stripe object in it (pure)."""
    if isinstance(node, list):
        return [upgrade_object(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: upgrade_object(value) for key, value in node.items()}
    kind = out.get("object")
    if kind == "customer" and "account_balance" in out:
        out["balance"] = out.pop("account_balance")
    elif kind == "subscription":
        out.pop("plan", None)
        out.pop("quantity", None)
        period = {
            name: out.pop(name)
            for name in ("current_period_start", "current_period_end")
            if name in out
        }
        items = out.get("items")
        if period and isinstance(items, dict) and isinstance(items.get("data"), list):
            for item in items["data"]:
                if isinstance(item, dict):
                    item.update(period)
    elif kind == "invoice":
        for name in ("charge", "payment_intent", "paid"):
            out.pop(name, None)
        subscription = out.pop("subscription", None)
        out["parent"] = (
            {
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {"metadata": {}, "subscription": subscription},
            }
            if subscription is not None
            else None
        )
    elif kind == "payment_intent":
        out.pop("charges", None)
    return out


def upgrade_answer(status: int, body: bytes) -> bytes:
    """A JSON answer rewritten; anything else (errors included) passes unchanged."""
    if status >= 400:
        return body
    try:
        data = load_json(body)
    except JSONProblem:
        return body
    return json.dumps(upgrade_object(data)).encode()


# What a forwarding target does to an answer: (method, path, status, body) → (status, body).
Change = Callable[[str, str, int, bytes], tuple[int, bytes]]
# What it does to a request first: (path with its query, body) → (path, body).
Ask = Callable[[str, bytes], tuple[str, bytes]]


def forwarding_handler(
    upstream: str, change: Change, ask: Ask | None = None
) -> type[BaseHTTPRequestHandler]:
    """A request handler that forwards to `upstream` (each request with `ask` applied,
    when given) and answers with `change` applied."""
    client = httpx.Client(base_url=upstream, timeout=30.0, trust_env=False)

    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: without this, Nagle's algorithm holds the
        # body until the client's delayed ACK, 40 ms per answer on a kept-alive connection.
        disable_nagle_algorithm = True

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS]
            target = self.path
            if ask is not None:
                target, body = ask(target, body)
            answer = client.request(self.command, target, headers=headers, content=body)
            path = target.split("?", 1)[0]
            status, content = change(self.command, path, answer.status_code, answer.content)
            self.send_response(status)
            for key, value in answer.headers.items():
                if key.lower() not in _HOP_HEADERS:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = do_DELETE = _forward

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Forward


def _upgraded(method: str, path: str, status: int, body: bytes) -> tuple[int, bytes]:
    return status, upgrade_answer(status, body)


def start_upstream() -> LocalProcess:
    """localstripe on a free port, ended with this process even when it is killed."""
    return localstripe("simulated-upgrade-upstream", tied_to_parent=True)


def serve_changed(
    port: int, start: Callable[[], LocalProcess], change: Change, ask: Ask | None = None
) -> None:
    """Answer on 127.0.0.1:`port` with `change` applied to the answers of the upstream
    `start` launches (and `ask` to each request first, when given), until SIGTERM (what
    LocalProcess.stop sends), which ends the upstream too."""

    def stop(*_: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    upstream = start()
    try:
        server = ThreadingHTTPServer(
            ("127.0.0.1", port), forwarding_handler(upstream.url, change, ask)
        )
        server.daemon_threads = True
        server.serve_forever()
    finally:
        upstream.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    serve_changed(parser.parse_args().port, start_upstream, _upgraded)


if __name__ == "__main__":
    main()
