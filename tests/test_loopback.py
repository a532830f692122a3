"""Launched targets listen on 127.0.0.1 only, and two of a kind side by side share nothing:
the listening sockets of each launched kind, read from the kernel (psutil). The container
kind is checked in test_containers.py, against a real engine."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sockets import is_loopback, listening
from test_stripemock import install_stand_in

from harness.replay.launch import LaunchContext, launch, launch_options
from harness.replay.launch.localstripe import LOCALSTRIPE_TEST_KEY, LOOPBACK_WRAPPER, SHARED_STORE
from harness.replay.launch.loopback import loopback_address
from harness.replay.launch.process import LocalProcess

LOOPBACK_SCRIPT = str(LOOPBACK_WRAPPER)


@pytest.mark.parametrize(
    ("family", "address", "expected"),
    [
        (socket.AF_INET, ("", 80), ("127.0.0.1", 80)),
        (socket.AF_INET, ("0.0.0.0", 0), ("127.0.0.1", 0)),
        (socket.AF_INET6, ("::", 8420), ("::ffff:127.0.0.1", 8420)),
        (socket.AF_INET6, ("", 8420, 0, 0), ("::ffff:127.0.0.1", 8420, 0, 0)),
        # Addresses chosen by the program stay as they are, and so does a unix socket.
        (socket.AF_INET, ("127.0.0.1", 80), ("127.0.0.1", 80)),
        (socket.AF_INET, ("10.1.2.3", 80), ("10.1.2.3", 80)),
        (socket.AF_INET6, ("::1", 80), ("::1", 80)),
        (socket.AF_UNIX, "/tmp/server.sock", "/tmp/server.sock"),
    ],
)
def test_wildcard_binds_become_loopback_binds(
    family: int, address: object, expected: object
) -> None:
    assert loopback_address(family, address) == expected


BINDING_PROGRAM = """
import socket, sys
every_v4 = socket.socket(socket.AF_INET)
every_v4.bind(("", 0))
every_v6 = socket.socket(socket.AF_INET6)
every_v6.bind(("::", 0))
with open(sys.argv[1], "wb") as store:
    store.write(b"the whole store")
print(every_v4.getsockname()[0], every_v6.getsockname()[0], __name__)
"""


def test_the_wrapper_confines_binds_and_discards_the_named_file(tmp_path: Path) -> None:
    program = tmp_path / "server.py"
    program.write_text(BINDING_PROGRAM)
    store, kept = tmp_path / "store.pickle", tmp_path / "kept.pickle"
    done = subprocess.run(
        [sys.executable, LOOPBACK_SCRIPT, "--discard", str(store), "--", str(program), str(store)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.split() == ["127.0.0.1", "::ffff:127.0.0.1", "__main__"]
    assert not store.exists()
    # Any other file is written as the program says.
    subprocess.run(
        [sys.executable, LOOPBACK_SCRIPT, "--discard", str(store), str(program), str(kept)],
        check=True,
        timeout=60,
    )
    assert kept.read_bytes() == b"the whole store"


def _listening_of(process: object) -> set[tuple[str, int]]:
    assert isinstance(process, LocalProcess) and process.pid is not None
    return listening([process.pid])


@pytest.mark.e2e
def test_two_localstripes_listen_on_loopback_only_and_share_no_store(tmp_path: Path) -> None:
    options = launch_options("localstripe")
    assert options is not None
    first = launch(options, LaunchContext("first", tmp_path, tmp_path / "first.log"))
    second = None
    try:
        second = launch(options, LaunchContext("second", tmp_path, tmp_path / "second.log"))
        sockets = {name: _listening_of(p) for name, p in (("first", first), ("second", second))}
        for name, process in (("first", first), ("second", second)):
            port = int(process.url.rsplit(":", 1)[1])
            # One listener each, on its own port, reachable on 127.0.0.1 only.
            assert sockets[name] == {("::ffff:127.0.0.1", port)}, sockets
        headers = {"Authorization": f"Bearer {LOCALSTRIPE_TEST_KEY}"}
        made = httpx.post(
            first.url + "/v1/customers", data={"email": "a@example.com"}, headers=headers
        )
        assert made.status_code == 200
        listed = {
            name: httpx.get(p.url + "/v1/customers", headers=headers).json()["data"]
            for name, p in (("first", first), ("second", second))
        }
        assert [c["id"] for c in listed["first"]] == [made.json()["id"]]
        assert listed["second"] == []
        # Neither wrote the store file every localstripe on the machine would share.
        for process in (first, second):
            assert isinstance(process, LocalProcess)
            assert SHARED_STORE in process.command and "--discard" in process.command
    finally:
        first.stop()
        if second is not None:
            second.stop()


@pytest.mark.e2e
def test_two_stripe_mocks_listen_on_loopback_only_on_ports_of_their_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """stripe-mock's HTTPS listener would be `[::]:12112` for every instance; each is
    given a port of 127.0.0.1 the kernel picks (a stand-in binary that binds what it is
    told, as stripe-mock does)."""
    folder = install_stand_in(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{folder}:{sys.exec_prefix}/bin:/usr/bin:/bin")
    options = launch_options("stripe-mock")
    assert options is not None
    mocks = []
    try:
        for name in ("first", "second"):
            mocks.append(launch(options, LaunchContext(name, tmp_path, tmp_path / f"{name}.log")))
        sockets = [_listening_of(mock) for mock in mocks]
        for mock, found in zip(mocks, sockets, strict=True):
            port = int(mock.url.rsplit(":", 1)[1])
            assert len(found) == 2 and ("127.0.0.1", port) in found, found
            assert all(is_loopback(host) for host, _ in found), found
        assert not sockets[0] & sockets[1]
    finally:
        for mock in mocks:
            mock.stop()
