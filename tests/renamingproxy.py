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
from collections.abc import Callable
from typing import Any

from harness.demo.simulated_upgrade import serve_changed
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
    change = renaming(args.object, args.field, args.to)
    serve_changed(args.port, lambda: localstripe("renaming-upstream"), change)


if __name__ == "__main__":
    main()
