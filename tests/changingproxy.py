"""A target that deliberately changes three things, for compare's end-to-end test.

`python tests/changingproxy.py --port N` starts its own localstripe
(harness.replay.launch.localstripe) and answers on 127.0.0.1:N by forwarding every
request to it, except that it

- drops `phone` from the answers of `POST /v1/customers`            (removed, high),
- sends `amount` of `POST /v1/plans` as a string                     (type, high),
- answers `GET /v1/charges` with a 402 card error instead of its 200 (error, critical).

Nothing in the demo depends on those answers later, so a correct compare finds exactly
these three groups. SIGTERM (what LocalProcess.stop sends) stops localstripe too.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from harness.demo.simulated_upgrade import serve_changed
from harness.replay.launch.localstripe import localstripe
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    serve_changed(parser.parse_args().port, lambda: localstripe("changing-upstream"), change)


if __name__ == "__main__":
    main()
