"""Local server processes the harness starts and must always stop: localstripe, a user's
own server, a stripe-mock binary. Used by the replay launchers, the demo and the tests."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

import httpx

from harness.errors import InfrastructureError

LOCALSTRIPE_TEST_KEY = "sk_test_shadowlocalstripe0000"

# Runs a command so that it gets SIGKILL when the process that started it dies (Linux
# PR_SET_PDEATHSIG), so a replay killed with SIGKILL leaves no server behind.
_DIE_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    "parent = int(sys.argv[1])\n"
    "try:\n"
    "    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)\n"
    "except (AttributeError, OSError):\n"
    "    pass\n"
    "if os.getppid() != parent:\n"
    "    sys.exit(1)\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


def die_with_parent(command: list[str]) -> list[str]:
    """`command`, wrapped so that it ends when this process ends (on Linux)."""
    if not sys.platform.startswith("linux"):
        return command
    return [sys.executable, "-c", _DIE_WITH_PARENT, str(os.getpid()), *command]


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the caller binds it soon after).

    Picked below the kernel's ephemeral range: a port from that range can be handed to an
    outgoing connection between this check and the server's bind (a slow-starting server
    such as localstripe, many connections in parallel tests), one below it cannot.
    """
    low, _ = _ephemeral_range()
    if low > 20000:
        for _ in range(64):
            port = random.randrange(10000, low)
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.bind((host, port))
                except OSError:
                    continue
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _tail(path: Path | None, lines: int = 10) -> str:
    if path is None or not path.exists():
        return ""
    text = path.read_text(errors="replace").strip().splitlines()
    return " | ".join(text[-lines:])


class LocalProcess:
    """A server started as a child process, in its own process group, until `stop()`.

    `start()` returns once an HTTP GET of `ready_path` gets any answer (a 404 is an answer:
    the server is up) and raises InfrastructureError, with the process's last output, if
    it exits first or does not answer within `ready_timeout` seconds.
    """

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        url: str,
        *,
        ready_path: str = "/",
        ready_timeout: float = 30.0,
        log_path: Path | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        tied_to_parent: bool = False,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.tied_to_parent = tied_to_parent
        self.url = url.rstrip("/")
        self.ready_path = ready_path
        self.ready_timeout = ready_timeout
        self.log_path = log_path
        self.env = env
        self.cwd = cwd
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: object | None = None

    def _check_program(self) -> None:
        """A missing program is named here, not hidden behind the wrapper that ties it to
        this process (which would exit with a Python traceback of its own)."""
        program = self.command[0] if self.command else ""
        if "/" in program:
            path = (self.cwd or Path.cwd()) / program
            found = path.is_file() and os.access(path, os.X_OK)
        else:
            found = shutil.which(program, path=(self.env or {}).get("PATH")) is not None
        if not found:
            raise InfrastructureError(
                f"target {self.name}: cannot start {program!r}: no such program"
                + (f" in {self.cwd}" if "/" in program and self.cwd else "")
            )

    def start(self) -> LocalProcess:
        self._check_program()
        command = die_with_parent(self.command) if self.tied_to_parent else self.command
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop())
        else:
            log = open(os.devnull, "wb")  # noqa: SIM115 (closed in stop())
        self._log_file = log
        try:
            self._process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(self.env or {})},
                cwd=self.cwd,
                start_new_session=True,  # its own process group: stop() ends its children too
            )
        except OSError as exc:
            log.close()
            raise InfrastructureError(
                f"target {self.name}: cannot start {self.command[0]!r}: {exc.strerror}"
            ) from None
        try:
            self._wait_ready()
        except BaseException:  # Ctrl-C or SIGTERM while it starts: it must not outlive us
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.ready_timeout
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while True:
                code = self._process.poll()
                if code is not None:  # start() stops it (closes the log) on any raise
                    tail = _tail(self.log_path)
                    raise InfrastructureError(
                        f"target {self.name}: {self.command[0]} exited with code {code} before it "
                        f"was ready" + (f"; last output: {tail}" if tail else "")
                    )
                try:
                    client.get(self.url + self.ready_path)
                    return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise InfrastructureError(
                        f"target {self.name}: {self.url}{self.ready_path} did not answer within "
                        f"{self.ready_timeout:.0f} s"
                    )
                time.sleep(0.05)

    @property
    def pid(self) -> int | None:
        """The process id, once started."""
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the process group, then kill it if it does not exit in `timeout`."""
        process = self._process
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._log_file is not None:
            self._log_file.close()  # type: ignore[attr-defined]
            self._log_file = None

    def __enter__(self) -> LocalProcess:
        """Start the process unless it is started already (start_on_free_port and
        localstripe() return it running); either way it is stopped on leaving the block."""
        if self._process is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def localstripe_command(port: int) -> list[str]:
    """localstripe on `port` with a fresh store. `--from-scratch` matters: without it the
    process loads /tmp/localstripe.pickle, which every instance on the machine shares."""
    script = shutil.which("localstripe", path=str(Path(sys.executable).parent)) or shutil.which(
        "localstripe"
    )
    if script is None:
        raise InfrastructureError(
            "localstripe is not installed: install it with `pip install 'stripe-shadow[local]'`"
        )
    return [script, "--port", str(port), "--from-scratch"]


def start_on_free_port(
    name: str,
    command_for: Callable[[int], list[str]],
    *,
    ready_path: str = "/",
    ready_timeout: float = 30.0,
    log_path: Path | None = None,
    tied_to_parent: bool = False,
    attempts: int = 3,
    env: dict[str, str] | None = None,
) -> LocalProcess:
    """Start `command_for(port)` on a free port of 127.0.0.1 and wait until it answers.

    A port picked free may be taken before the server binds it, so a start that fails is
    retried on another port, `attempts` times in all.
    """
    last: InfrastructureError | None = None
    for _ in range(attempts):
        port = free_port()
        process = LocalProcess(
            name,
            command_for(port),
            f"http://127.0.0.1:{port}",
            ready_path=ready_path,
            ready_timeout=ready_timeout,
            log_path=log_path,
            tied_to_parent=tied_to_parent,
            env=env,
        )
        try:
            return process.start()
        except InfrastructureError as exc:
            last = exc
    assert last is not None
    raise last


def localstripe(
    name: str = "localstripe", log_path: Path | None = None, *, tied_to_parent: bool = False
) -> LocalProcess:
    """Start localstripe on a free port on 127.0.0.1 with a store of its own; returns the
    running process."""
    return start_on_free_port(
        name,
        localstripe_command,
        ready_path="/v1/balance",
        log_path=log_path,
        tied_to_parent=tied_to_parent,
        # localstripe adds a period's months in the machine's time zone; Stripe, in UTC.
        env={"TZ": "UTC"},
    )
