"""A PostgreSQL server of a test's own: initdb into a fresh directory, started with
pg_ctl on 127.0.0.1 and a free port, trusting local connections, stopped and removed at
the end. As root (CI) the server runs as the `postgres` user, since PostgreSQL refuses
to run as root."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from parts import postgres_bin

START_TIMEOUT = 60  # seconds pg_ctl waits for the server


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def postgres_server() -> Iterator[str]:
    """A running server; yields a SQLAlchemy URL of its database `postgres`."""
    binaries = postgres_bin()
    directory = Path(tempfile.mkdtemp(prefix="shadow-postgres-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(directory, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data = directory / "data"
    port = _free_port()

    def run(*command: str) -> None:
        subprocess.run(
            [*as_user, *command], check=True, capture_output=True, text=True, timeout=120
        )

    try:
        run(str(binaries / "initdb"), "-D", str(data), "-U", "shadow", "-A", "trust", "-E", "UTF8")
        run(
            str(binaries / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(directory / "server.log"),
            "-w",
            "-t",
            str(START_TIMEOUT),
            "-o",
            f"-h 127.0.0.1 -p {port} -k {directory} -c fsync=off",
            "start",
        )
        try:
            yield f"postgresql+psycopg://shadow@127.0.0.1:{port}/postgres"
        finally:
            run(str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
