"""A target that renames one field of one object type wherever it appears, for
measuring causes (docs/compare.md, "Causes and groups").

`python tests/renamingproxy.py --port N [--object customer --field email --to email_address]`
starts its own localstripe and answers on 127.0.0.1:N by forwarding every request to it,
with the field renamed in every object of that type in every answer: a customer
created, listed, expanded inside a payment intent or carried by an event. A correct
compare finds one cause, however many endpoints and paths show it.
"""

from __future__ import annotations

import argparse
import json
import signal
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from typing import Any

from harness.demo.simulated_upgrade import forwarding_handler
from harness.replay.launch.localstripe import localstripe


def rename(node: Any, object_type: str, field: str, to: str) -> Any:
    """`node` with `field` renamed `to` in every object of `object_type` (pure)."""
    if isinstance(node, list):
        return [rename(item, object_type, field, to) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: rename(value, object_type, field, to) for key, value in node.items()}
    if out.get("object") == object_type and field in out:
        out[to] = out.pop(field)
    return out


def renaming(object_type: str, field: str, to: str) -> Callable[..., tuple[int, bytes]]:
    def change(method: str, path: str, status: int, body: bytes) -> tuple[int, bytes]:
        try:
            data = json.loads(body)
        except ValueError:
            return status, body
        return status, json.dumps(rename(data, object_type, field, to)).encode()

    return change


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--object", default="customer")
    parser.add_argument("--field", default="email")
    parser.add_argument("--to", default="email_address")
    args = parser.parse_args()

    def stop(*_: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    upstream = localstripe("renaming-upstream")
    try:
        change = renaming(args.object, args.field, args.to)
        server = ThreadingHTTPServer(
            ("127.0.0.1", args.port), forwarding_handler(upstream.url, change)
        )
        server.daemon_threads = True
        server.serve_forever()
    finally:
        upstream.stop()


if __name__ == "__main__":
    main()
