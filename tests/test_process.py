"""Local server processes: started, checked, always stopped."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

from harness.errors import InfrastructureError
from harness.replay.launch.process import LocalProcess, free_port, start_on_free_port


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
