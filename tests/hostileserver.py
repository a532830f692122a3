"""A target that answers with what a broken or hostile server might send, for the tests
that replay, compare and report such answers: JSON nested 1,000 and 600 levels deep, a
lone surrogate (`"\\ud800"`), keys of 60,000 and 100,000 characters, bidi override
characters, and a body of 20 MB.

`python tests/hostileserver.py --port N` serves on 127.0.0.1:N; `/v1/balance` answers
when it is ready. `recording(path)` writes the recording whose requests it answers, with
the plain answers a well-behaved Stripe gave.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# Keys made to break anything that builds a regular expression from a path: V8 refuses
# to compile a run of about 35,000 plain characters, and the second is longer than the
# body a report draws as JSON (it is shown as cut text).
LONG_KEY = "[(k*?\\[]" + "k" * 60_000 + ".+)]"
LONGER_KEY = "k" * 100_000
BIDI_NAME = "\u202eevil.exe\u202c and \u2066txt\u2069"


def _customer(customer: str, **fields: object) -> dict[str, object]:
    return {"id": customer, "object": "customer", **fields}


def _nested(levels: int) -> str:
    return "[" * levels + "]" * levels


# Path → (the body the recording holds, the body this server answers: JSON text).
ANSWERS: dict[str, tuple[str, str]] = {
    "/v1/customers/cus_Deep1000lvl": (
        json.dumps(_customer("cus_Deep1000lvl", tree=[])),
        json.dumps(_customer("cus_Deep1000lvl"))[:-1] + ', "tree": ' + _nested(1000) + "}",
    ),
    "/v1/customers/cus_Deep0600lvl": (
        json.dumps(_customer("cus_Deep0600lvl", tree=[])),
        json.dumps(_customer("cus_Deep0600lvl"))[:-1] + ', "tree": ' + _nested(600) + "}",
    ),
    "/v1/customers/cus_Surrogate1A": (
        json.dumps(_customer("cus_Surrogate1A", name="Jenny Rosen")),
        json.dumps(_customer("cus_Surrogate1A"))[:-1] + ', "name": "\\ud800"}',
    ),
    "/v1/customers/cus_LongKey001A": (
        json.dumps(_customer("cus_LongKey001A", metadata={LONG_KEY: "before"})),
        json.dumps(_customer("cus_LongKey001A", metadata={LONG_KEY: "after"})),
    ),
    "/v1/customers/cus_LongKey002A": (
        json.dumps(_customer("cus_LongKey002A", metadata={LONGER_KEY: "before"})),
        json.dumps(_customer("cus_LongKey002A", metadata={LONGER_KEY: "after"})),
    ),
    "/v1/customers/cus_BidiName01A": (
        json.dumps(_customer("cus_BidiName01A", name="Jenny Rosen")),
        json.dumps(_customer("cus_BidiName01A", name=BIDI_NAME), ensure_ascii=False),
    ),
    "/v1/customers/cus_PlainOne01A": (
        json.dumps(_customer("cus_PlainOne01A", name="Jenny Rosen")),
        json.dumps(_customer("cus_PlainOne01A", name="Jenny Rosen")),
    ),
    # Made when asked (tens of MB): see _Handler.
    "/v1/customers/cus_HugeBody01A": (
        json.dumps(_customer("cus_HugeBody01A", description="")),
        "",
    ),
}
HUGE = 20 << 20


def recording(path: Path) -> Path:
    """The recording of one GET per answer above, as a well-behaved Stripe answered it."""
    from harness.formats.recording import Header, write_recording
    from harness.model import Exchange, Request, Response

    exchanges = [
        Exchange(
            seq=seq,
            started=1_700_000_000.0 + seq,
            duration=0.01,
            request=Request(method="GET", path=target),
            response=Response(
                status=200, headers=[("Content-Type", "application/json")], body=recorded
            ),
        )
        for seq, (target, (recorded, _)) in enumerate(ANSWERS.items())
    ]
    write_recording(path, Header(redaction={"applied": True}), exchanges)
    return path


def scenario(folder: Path) -> Path:
    """A scenario replaying `recording()` against this server, compared with what was
    recorded."""
    recording(folder / "hostile.jsonl")
    command = f"{sys.executable} {Path(__file__).resolve()} --port {{port}}"
    path = folder / "hostile.yaml"
    path.write_text(
        json.dumps(
            {
                "name": "hostile",
                "recording": "hostile.jsonl",
                "baseline": "recording",
                "on_unresolved": "send",  # the customers were made before the recording
                "retry": {"attempts": 1},
                "targets": [
                    {
                        "name": "hostile",
                        "launch": {
                            "command": command,
                            "url": "http://127.0.0.1:{port}",
                            "ready_path": "/v1/balance",
                        },
                    }
                ],
            }
        )
    )
    return path


def replayed_and_compared(folder: Path) -> Path:
    """The run directory of `scenario()`, replayed and compared by `shadow` itself."""
    shadow = Path(sys.executable).parent / "shadow"
    run = folder / "run"
    for command in (
        ["replay", str(scenario(folder)), "--out", str(run), "--no-progress"],
        ["compare", str(run)],
    ):
        done = subprocess.run([str(shadow), *command], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"shadow {command[0]}: {done.stderr}"
        assert "Traceback" not in done.stderr
    return run


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        found = ANSWERS.get(self.path)
        if self.path == "/v1/balance":
            body = b'{"object": "balance"}'
        elif found is None:
            self.send_response(404)
            self.end_headers()
            return
        elif self.path.endswith("HugeBody01A"):
            body = json.dumps(_customer("cus_HugeBody01A", description="x" * HUGE)).encode()
        else:
            body = found[1].encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    ThreadingHTTPServer(("127.0.0.1", parser.parse_args().port), _Handler).serve_forever()
