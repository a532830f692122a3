"""Local server processes the harness starts and must always stop (localstripe, a user's
own server, a stripe-mock binary), and `launch: {command: ...}`, the launcher of any local
server. Used by the other launchers, the demo and the tests."""

from __future__ import annotations

import contextlib
import os
import random
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import httpx
from pydantic import Field, field_validator

from harness.errors import InfrastructureError, InputError
from harness.replay.launch.base import LAUNCHERS, LaunchContext, Launcher, LaunchOptions
from harness.replay.launch.targetlog import RedactedLog
from harness.target import check_url

# Seconds a launched program's process group has between SIGTERM and SIGKILL.
STOP_GRACE = 3.0
# Seconds the last of a stopped program's output has to reach its log.
_LOG_WAIT = 5.0

# Runs a command under a small supervisor (Linux), the leader of the process group and
# session the command and everything it starts live in. The supervisor asks the kernel
# for SIGTERM when the harness dies, even by SIGKILL (PR_SET_PDEATHSIG), and to be given
# the orphans of its descendants (PR_SET_CHILD_SUBREAPER). Told to stop, or when the
# command exits, it sends SIGTERM to every process of its group and to every orphan it
# was given, then SIGKILL to what is left after STOP_GRACE seconds, reaps them all and
# exits with the command's exit code. So a wrapper script's `sleep 300 &` never
# outlives the replay: `stop()` waits for the supervisor, which waits for all of them.
_SUPERVISOR = r"""
import ctypes, os, signal, sys, time

parent, grace, argv = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]


STOPS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
stopping = []


class Stop(Exception):
    pass


def stop(signum, frame):
    if not stopping:
        stopping.append(signum)
        raise Stop


for signum in STOPS:
    signal.signal(signum, stop)
try:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    libc.prctl(36, 1)  # PR_SET_CHILD_SUBREAPER
except (AttributeError, OSError):
    pass


def others():
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/stat") as file:
                stat = file.read()
        except OSError:
            continue
        state, ppid, group = stat[stat.rindex(")") + 2 :].split()[:3]
        if state not in ("Z", "X") and me in (int(ppid), int(group)):
            found.append(int(entry))
    return found


def reap():
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def end_all():
    for signum, seconds in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        for pid in others():
            try:
                os.kill(pid, signum)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            reap()
            if not others():
                return
            time.sleep(0.02)


code = 0
try:
    if os.getppid() != parent:
        raise Stop  # the harness died before the kernel could be asked to tell us
    signal.pthread_sigmask(signal.SIG_BLOCK, STOPS)
    child = os.fork()
    if child == 0:
        for signum in STOPS:
            signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPS)
        try:
            os.execvp(argv[0], argv)
        except OSError as error:
            print(f"cannot start {argv[0]}: {error.strerror}", file=sys.stderr, flush=True)
        os._exit(127)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPS)
    while True:
        pid, status = os.waitpid(-1, 0)
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            code = 128 - code if code < 0 else code
            break
except (Stop, ChildProcessError):
    pass
stopping.append(0)
end_all()
sys.exit(code)
"""


def supervised(command: list[str]) -> list[str]:
    """`command` under the supervisor above, so that it and everything it starts end
    when the harness stops it or dies (on Linux; elsewhere `command` as it is)."""
    if not sys.platform.startswith("linux"):
        return command
    return [sys.executable, "-c", _SUPERVISOR, str(os.getpid()), str(STOP_GRACE), *command]


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


# Ports are drawn from the system's entropy, not from the `random` module: a property
# test seeds that module alike in every process (Hypothesis does, for each example), and
# two test processes starting servers at once then drew the same port, and one talked to
# the other's server.
_PORTS = random.SystemRandom()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the caller binds it soon after).

    Picked below the kernel's ephemeral range: a port from that range can be handed to an
    outgoing connection between this check and the server's bind (a slow-starting server
    such as localstripe, many connections in parallel tests), one below it cannot.
    """
    low, _ = _ephemeral_range()
    if low > 20000:
        for _ in range(64):
            port = _PORTS.randrange(10000, low)
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
        self._log: RedactedLog | None = None

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
        command = supervised(self.command) if self.tied_to_parent else self.command
        # The program's output goes to its log redacted: it may print the key it was sent.
        log = RedactedLog(self.log_path) if self.log_path is not None else None
        self._log = log
        try:
            self._process = subprocess.Popen(
                command,
                stdout=log.fileno() if log is not None else subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(self.env or {})},
                cwd=self.cwd,
                start_new_session=True,  # its own process group: stop() ends its children too
            )
        except OSError as exc:
            raise InfrastructureError(
                f"target {self.name}: cannot start {self.command[0]!r}: {exc.strerror}"
            ) from None
        finally:
            if log is not None:
                log.started()
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
                if code is not None:  # start() stops it on any raise
                    if self._log is not None:
                        self._log.wait(_LOG_WAIT)
                    tail = _tail(self.log_path)
                    raise InfrastructureError(
                        f"target {self.name}: {self.command[0]} exited with code {code} before it "
                        f"was ready" + (f"; last output: {tail}" if tail else "")
                    )
                try:
                    client.get(self.url + self.ready_path)
                except httpx.TransportError:
                    pass
                else:
                    # What answered is this process's server only if the process is
                    # still there: one that lost the port to another exits.
                    if self._process.poll() is None:
                        return
                    continue
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

    def stop(self, timeout: float = STOP_GRACE + 5.0) -> None:
        """Terminate the process group, then kill it if it does not exit in `timeout`
        (a supervised one is reaped whole by its supervisor before it exits)."""
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
        if self._log is not None and process is not None and process.poll() is not None:
            self._log.wait(_LOG_WAIT)

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


class CommandLaunch(LaunchOptions):
    """Start any local server: `{port}` in command and url is replaced by a free port."""

    kind: Literal["command"] = "command"
    command: str = Field(min_length=1)
    url: str
    ready_path: str = "/"
    ready_timeout: float = Field(default=30.0, gt=0, le=600)
    env: dict[str, str] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url(value)

    @field_validator("ready_path")
    @classmethod
    def _absolute_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with '/'")
        return value

    def to_json(self) -> Any:
        return self.model_dump()


def launch_command(spec: CommandLaunch, context: LaunchContext) -> LocalProcess:
    """Any local server: `{port}` in the command and the url becomes a free port."""
    port = str(free_port())
    try:
        command = [part.replace("{port}", port) for part in shlex.split(spec.command)]
    except ValueError as exc:
        raise InputError(
            f"target {context.target}: launch.command: cannot be split ({exc})"
        ) from None
    process = LocalProcess(
        context.target,
        command,
        spec.url.replace("{port}", port),
        ready_path=spec.ready_path,
        ready_timeout=spec.ready_timeout,
        log_path=context.log_path,
        env=spec.env,
        cwd=context.scenario_dir,
        tied_to_parent=True,
    )
    return process.start()


LAUNCHERS.register("command", Launcher(CommandLaunch, launch_command))
