"""Local server processes: started, checked, always stopped."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import httpx
import pytest

from harness.capture.redact import fingerprint
from harness.errors import InfrastructureError
from harness.replay.launch.process import LocalProcess, free_port, start_on_free_port
from harness.replay.launch.targetlog import LogLines, redact_log


def test_a_missing_program_is_named_in_one_line(tmp_path: Path) -> None:
    process = LocalProcess(
        "billing", ["no-such-server", "--port", "1"], "http://127.0.0.1:1", tied_to_parent=True
    )
    with pytest.raises(InfrastructureError) as error:
        process.start()
    assert str(error.value) == "target billing: cannot start 'no-such-server': no such program"
    relative = LocalProcess("billing", ["./serve.sh"], "http://127.0.0.1:1", cwd=tmp_path)
    with pytest.raises(InfrastructureError, match=rf"cannot start './serve.sh': .* in {tmp_path}"):
        relative.start()


def test_a_server_tied_to_its_parent_answers_and_is_stopped(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    server = start_on_free_port(
        "files",
        lambda port: [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        log_path=log,
        tied_to_parent=True,
    )
    started = server.pid
    with server as entered:
        # Entering the block does not start a second server (which would fail to bind the
        # port and leave the first one running after the block).
        assert entered is server and server.pid == started
        assert httpx.get(server.url + "/", trust_env=False).status_code == 200
        assert server.running
    assert not server.running
    assert "GET / HTTP/1.1" in log.read_text()
    assert "Address already in use" not in log.read_text()


def test_a_server_that_exits_before_it_is_ready_says_so_with_its_output(tmp_path: Path) -> None:
    port = free_port()
    crashing = LocalProcess(
        "crash",
        [sys.executable, "-c", "import sys; print('bad config'); sys.exit(4)"],
        f"http://127.0.0.1:{port}",
        log_path=tmp_path / "crash.log",
        tied_to_parent=True,
    )
    with pytest.raises(InfrastructureError, match=r"exited with code 4 .*bad config"):
        crashing.start()


def test_free_ports_lie_below_the_range_outgoing_connections_use() -> None:
    low, _ = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    ports = [free_port() for _ in range(20)]
    assert all(10000 <= port < low for port in ports)


# A server that prints every request's Authorization header and body, as a target's own
# debug log might; and, on request, a line longer than a pipe's buffer with a key at its
# end, and output with no line break at all.
_LOGGING_SERVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        print("auth:", self.headers.get("Authorization"), "body:", body, flush=True)
        print("x" * 200000 + " " + self.headers.get("Authorization"), flush=True)
        sys.stdout.write("no line break " + body)
        sys.stdout.flush()
        self.send_response(204)
        self.end_headers()

    def log_message(self, format, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def test_a_servers_own_output_reaches_its_log_redacted(tmp_path: Path) -> None:
    log = tmp_path / "target.log"
    key = "sk_test_" + "LoggedByTheTarget0001"
    server = start_on_free_port(
        "chatty",
        lambda port: [sys.executable, "-c", _LOGGING_SERVER, str(port)],
        log_path=log,
        tied_to_parent=True,
    )
    with server:
        answer = httpx.post(
            server.url + "/v1/charges",
            headers={"Authorization": f"Bearer {key}"},
            content="card[number]=4242424242424242&card[cvc]=123",
            trust_env=False,
        )
        assert answer.status_code == 204
    text = log.read_text()
    for secret in (key, "4242424242424242", "cvc]=123"):
        assert secret not in text
    marker = f"sk_test_<redacted:{fingerprint(key)}>"
    assert text.count(marker) == 2  # the short line and the end of the long one
    assert "card[number]=<redacted:card:4242>&card[cvc]=<redacted:cvc>" in text
    assert text.endswith("no line break card[number]=<redacted:card:4242>&card[cvc]=<redacted:cvc>")


def test_log_lines_are_redacted_whole_however_the_output_is_cut() -> None:
    key = "sk_test_" + "SplitAcrossChunks0001"
    output = f"first line\nBearer {key} and 4000 0566 5566 5556\nlast".encode()
    for cut in range(1, len(output)):
        lines = LogLines()
        written = lines.feed(output[:cut]) + lines.feed(output[cut:]) + lines.flush()
        assert written == redact_log(output)
    assert key.encode() not in redact_log(output)
    assert b"<redacted:card:5556>" in redact_log(output)


def test_ports_do_not_follow_the_random_module() -> None:
    """Hypothesis seeds `random` alike in every process, for each example: ports drawn
    from it matched in two test processes starting servers at once."""
    drawn = []
    for _ in range(2):
        random.seed(0)
        drawn.append([free_port() for _ in range(5)])
    assert drawn[0] != drawn[1]
