"""A target that cancels one kind of subscription on its own, for the end-state test.

`python tests/cancellingproxy.py --port N` starts its own localstripe and forwards every
request to it; when an answer shows a subscription moved to the pro plan, it then asks
localstripe itself to cancel that subscription at the end of its period
(`cancel_at_period_end=true`), as a billing system with its own rules might. The answer
the client gets is unchanged: only the subscription's end state differs, in exactly one
field. SIGTERM (what LocalProcess.stop sends) stops localstripe too.
"""

from __future__ import annotations

import argparse
import json

import httpx

from harness.demo.simulated_upgrade import serve_changed
from harness.replay.launch.localstripe import LOCALSTRIPE_TEST_KEY, localstripe
from harness.replay.launch.process import LocalProcess
from harness.stripe import endpoint_template

PLAN = "pro-monthly"
CHANGED = "POST /v1/subscriptions/{subscription}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    started: list[LocalProcess] = []

    def start() -> LocalProcess:
        started.append(localstripe("cancelling-upstream"))
        return started[0]

    def cancel_pro(method: str, path: str, status: int, body: bytes) -> tuple[int, bytes]:
        """The answer unchanged; a subscription moved to PLAN then cancelled at its
        period's end by this target itself."""
        if status == 200 and endpoint_template(method, path) == CHANGED:
            answer = json.loads(body)
            if (answer.get("plan") or {}).get("id") == PLAN and not answer["cancel_at_period_end"]:
                httpx.post(
                    f"{started[0].url}/v1/subscriptions/{answer['id']}",
                    data={"cancel_at_period_end": "true"},
                    headers={"Authorization": f"Bearer {LOCALSTRIPE_TEST_KEY}"},
                    timeout=30.0,
                    trust_env=False,
                )
        return status, body

    serve_changed(parser.parse_args().port, start, cancel_pro)


if __name__ == "__main__":
    main()
