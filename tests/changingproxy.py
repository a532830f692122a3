"""A target that deliberately changes three things, for compare's end-to-end test.

`python tests/changingproxy.py --port N` starts its own localstripe (harness.process) and
answers on 127.0.0.1:N by forwarding every request to it, except that it

- drops `phone` from the answers of `POST /v1/customers`            (removed, high),
- sends `amount` of `POST /v1/plans` as a string                     (type, high),
- answers `GET /v1/charges` with a 402 card error instead of its 200 (error, critical).

Nothing in the demo depends on those answers later, so a correct compare finds exactly
these three groups. SIGTERM (what LocalProcess.stop sends) stops localstripe too.
"""

from __future__ import annotations

import argparse
import json
import signal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from harness.process import localstripe
from harness.stripe import endpoint_template

DROPPED = ("POST /v1/customers", "phone")
RETYPED = ("POST /v1/plans", "amount")
DECLINED = "GET /v1/charges"

DECLINE = {
    "error": {
        "type": "card_error",
        "code": "card_declined",
        "decline_code": "generic_decline",
        "message": "Your card was declined.",
    }
}

# Headers that belong to one hop, or that the rewritten body invalidates.
_HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "host"}
)


def change(method: str, path: str, status: int, body: bytes) -> tuple[int, bytes]:
    """The answer this target gives instead of localstripe's (pure)."""
    endpoint = endpoint_template(method, path)
    if endpoint == DECLINED and status == 200:
        return 402, json.dumps(DECLINE).encode()
    if status != 200 or endpoint not in (DROPPED[0], RETYPED[0]):
        return status, body
    data: dict[str, Any] = json.loads(body)
    if endpoint == DROPPED[0]:
        data.pop(DROPPED[1], None)
    if endpoint == RETYPED[0] and isinstance(data.get(RETYPED[1]), int):
        data[RETYPED[1]] = str(data[RETYPED[1]])
    return status, json.dumps(data).encode()


def handler_for(upstream: str) -> type[BaseHTTPRequestHandler]:
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
            answer = client.request(self.command, self.path, headers=headers, content=body)
            path = self.path.split("?", 1)[0]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port

    def stop(*_: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    upstream = localstripe("changing-upstream")
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), handler_for(upstream.url))
        server.daemon_threads = True
        server.serve_forever()
    finally:
        upstream.stop()


if __name__ == "__main__":
    main()
