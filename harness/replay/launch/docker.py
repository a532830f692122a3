"""Targets started as containers through the docker SDK (`launch: {docker: ...}`).

The image is used if the engine has it and pulled otherwise, within `pull_timeout`. The
container gets the labels `stripe-shadow.run=<run id>` and `stripe-shadow.target=<name>`,
runs with host networking when the engine has no bridge (then the server must listen on
the port it is given through `{port}`) or on a network with its ports published on
127.0.0.1, and is ready once `ready_path` answers. From its creation on, a reaper process
(harness.replay.launch.reaper) follows its logs into `<target>.log` and, when `stop()` closes
its pipe or the replay dies in any way, SIGKILL included, stops and removes it.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import subprocess
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import docker
import httpx
import requests
from docker.errors import DockerException, ImageNotFound, NotFound
from docker.models.containers import Container
from pydantic import Field, field_validator, model_validator

from harness.errors import InfrastructureError, InputError, ShadowWarning
from harness.replay.launch.base import LAUNCHERS, LaunchContext, Launcher, LaunchOptions
from harness.replay.launch.process import free_port
from harness.replay.launch.targetlog import redact_log

if TYPE_CHECKING:
    from docker import DockerClient

# In command, entrypoint and env: the port the server must listen on (with host
# networking a free port of the machine, else the first of `ports`).
PORT = "{port}"
# ... and the address it must listen on: 127.0.0.1 with host networking, where the
# container shares the machine's interfaces; every address of its own on a network of
# its own, where only what the engine publishes on the machine's 127.0.0.1 reaches it.
HOST = "{host}"

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NETWORK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _argv(value: str | list[str] | None, field: str) -> list[str] | None:
    if value is None or isinstance(value, list):
        return value
    try:
        return shlex.split(value)
    except ValueError as exc:
        raise ValueError(f"{field}: cannot be split ({exc})") from None


class DockerLaunch(LaunchOptions):
    """Start an image as a container until the replay ends; its URL is derived."""

    kind: Literal["docker"] = "docker"
    image: str = Field(min_length=1)
    command: str | list[str] | None = None
    entrypoint: str | list[str] | None = None
    env: dict[str, str] = Field(default_factory=dict)
    pass_env: list[str] = Field(default_factory=list)
    ports: list[int] = Field(default_factory=list)
    network: str = "auto"
    base_path: str = ""
    ready_path: str = "/"
    ready_timeout: float = Field(default=60.0, gt=0, le=600)
    pull_timeout: float = Field(default=120.0, gt=0, le=3600)

    @field_validator("ports")
    @classmethod
    def _ports(cls, value: list[int]) -> list[int]:
        for port in value:
            if not 1 <= port <= 65535:
                raise ValueError(f"{port} is not a port (1-65535)")
        return value

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not _ENV_NAME.match(name):
                raise ValueError(f"{name!r} is not an environment variable name")
        return value

    @field_validator("pass_env")
    @classmethod
    def _pass_env(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _ENV_NAME.match(name):
                raise ValueError(f"{name!r} is not an environment variable name")
        return value

    @field_validator("network")
    @classmethod
    def _network(cls, value: str) -> str:
        if not _NETWORK.match(value):
            raise ValueError("expected auto, host, bridge or the name of a Docker network")
        return value

    @field_validator("ready_path")
    @classmethod
    def _ready_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with '/'")
        return value

    @field_validator("base_path")
    @classmethod
    def _base_path(cls, value: str) -> str:
        if value and not value.startswith("/"):
            raise ValueError("must start with '/' (the API's path prefix in the server)")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _a_port_to_reach(self) -> DockerLaunch:
        self.command_argv()
        self.entrypoint_argv()
        if not self.ports and not self.uses_port_placeholder():
            raise ValueError(
                "say where the server listens: `ports: [8080]` (its port in the container), "
                f"or {PORT} in command, entrypoint or env to pass it one"
            )
        return self

    def command_argv(self) -> list[str] | None:
        return _argv(self.command, "command")

    def entrypoint_argv(self) -> list[str] | None:
        return _argv(self.entrypoint, "entrypoint")

    def uses_port_placeholder(self) -> bool:
        parts = [*(self.command_argv() or []), *(self.entrypoint_argv() or []), *self.env.values()]
        return any(PORT in part for part in parts)

    def to_json(self) -> Any:
        return {"docker": self.model_dump(exclude={"kind"})}


LABEL_RUN = "stripe-shadow.run"
LABEL_TARGET = "stripe-shadow.target"

API_TIMEOUT = 30.0  # seconds any one call to the engine may take
STOP_GRACE = 5  # seconds between SIGTERM and SIGKILL when a container is stopped
_REAPER_WAIT = 60.0  # the reaper's stop, logs and removal together
_TAIL = 10  # log lines quoted in an error

# Words of the engine's pull errors that mean no registry answered at all.
_UNREACHABLE = (
    "dial tcp",
    "no such host",
    "lookup ",
    "i/o timeout",
    "connection refused",
    "network is unreachable",
    "tls handshake timeout",
    "client.timeout",
    "context deadline exceeded",
)


# Everything the Docker SDK raises for a call the engine could not answer: its own errors
# and those of the HTTP library under it. Caught only as this tuple, and told with _explain.
ENGINE_ERRORS = (DockerException, requests.exceptions.RequestException)


def engine_address() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def connect(timeout: float | None = API_TIMEOUT) -> DockerClient:
    """A client of the engine DOCKER_HOST names (or the local socket); `timeout` bounds
    every read, None waits as long as a stream lasts."""
    try:
        return docker.from_env(timeout=timeout)
    except ENGINE_ERRORS:
        raise InfrastructureError(
            f"docker: cannot reach the Docker engine at {engine_address()}: "
            "start dockerd or set DOCKER_HOST"
        ) from None


def _explain(exc: Exception) -> str:
    """The engine's own sentence for a failed call, on one line."""
    text = getattr(exc, "explanation", None) or str(exc)
    return " ".join(str(text).split())


def choose_network(requested: str, available: set[str]) -> str:
    """`host` or the network to attach to: `auto` means the engine's default bridge when
    it has one, else host networking (dockerd --bridge=none)."""
    if requested == "auto":
        return "bridge" if "bridge" in available else "host"
    if requested != "host" and requested not in available:
        raise InfrastructureError(
            f"docker: the engine has no network {requested!r} "
            f"(it has: {', '.join(sorted(available))})"
        )
    return requested


@dataclass(frozen=True, slots=True)
class ContainerPlan:
    """How one container is started, with `{port}` filled in (pure data)."""

    network: str
    listen_port: int
    command: list[str] | None
    entrypoint: list[str] | None
    env: dict[str, str]
    published: tuple[int, ...]

    @property
    def host_network(self) -> bool:
        return self.network == "host"


def plan_container(spec: DockerLaunch, network: str, free: int) -> ContainerPlan:
    """Where the server listens and what it is told. With host networking it shares the
    machine's ports, so it listens on 127.0.0.1 (`{host}`) and on `free` when it is told a
    port through `{port}`; on a network of its own it listens on its first port, published
    on 127.0.0.1 only."""
    if network == "host":
        listen = free if spec.uses_port_placeholder() else spec.ports[0]
        published: tuple[int, ...] = ()
    else:
        listen = spec.ports[0] if spec.ports else free
        published = tuple(dict.fromkeys([listen, *spec.ports]))

    host = "127.0.0.1" if network == "host" else "0.0.0.0"

    def placed(text: str) -> str:
        return text.replace(PORT, str(listen)).replace(HOST, host)

    def fill(parts: list[str] | None) -> list[str] | None:
        return None if parts is None else [placed(part) for part in parts]

    return ContainerPlan(
        network=network,
        listen_port=listen,
        command=fill(spec.command_argv()),
        entrypoint=fill(spec.entrypoint_argv()),
        env={name: placed(value) for name, value in spec.env.items()},
        published=published,
    )


def _passed_env(target: str, names: list[str]) -> dict[str, str]:
    """The `pass_env` variables from the harness's own environment (never written)."""
    env: dict[str, str] = {}
    for name in names:
        value = os.environ.get(name)
        if value is None:
            raise InputError(f"target {target}: launch.docker.pass_env: {name} is not set")
        env[name] = value
    return env


def pull_image(image: str, timeout: float) -> None:
    """Pull `image`, giving up after `timeout` seconds; InfrastructureError says whether
    no registry could be reached or the registry refused.

    The SDK's pull waits on the engine without any timeout (and the engine itself waits
    about 25 s per registry that does not answer), so the pull runs in a thread of its
    own that is abandoned when the time is up.
    """
    client = connect()
    failures: list[str] = []

    def pull() -> None:
        try:
            for event in client.api.pull(image, stream=True, decode=True):
                if isinstance(event, dict) and event.get("error"):
                    failures.append(" ".join(str(event["error"]).split()))
                    return
        except ENGINE_ERRORS as exc:
            failures.append(_explain(exc))

    worker = threading.Thread(target=pull, name=f"pull {image}", daemon=True)
    worker.start()
    worker.join(timeout)
    client.close()
    if worker.is_alive():
        raise InfrastructureError(
            f"docker: image {image} is not on this machine and pulling it did not finish "
            f"within pull_timeout ({timeout:g} s): no registry answered in time; "
            "build it or `docker load` it first, or raise pull_timeout"
        )
    if failures:
        lowered = failures[0].lower()
        if any(word in lowered for word in _UNREACHABLE):
            why = "no registry could be reached"
        else:
            why = "the registry refused it"
        raise InfrastructureError(
            f"docker: image {image} is not on this machine and cannot be pulled: {why} "
            f"({failures[0]}); build it or `docker load` it first"
        )


def _container_logs(container: Container, tail: int | str = "all") -> str:
    """The container's output, redacted (it may print the key the harness sent it)."""
    try:
        raw = container.logs(stdout=True, stderr=True, tail=tail)
    except ENGINE_ERRORS:
        return ""
    return redact_log(bytes(raw)).decode("utf-8", errors="replace")


def _tail_of(container: Container) -> str:
    lines = _container_logs(container, _TAIL).strip().splitlines()
    return " | ".join(line.strip() for line in lines if line.strip())


class ContainerTarget:
    """One container started for a target, until `stop()` (which never raises)."""

    def __init__(self, spec: DockerLaunch, context: LaunchContext) -> None:
        self.name = context.target
        self.spec = spec
        self.context = context
        self.url = ""
        self.container_name = f"stripe-shadow-{context.target}-{secrets.token_hex(4)}"
        self._client: DockerClient | None = None
        self._container: Container | None = None
        self._reaper: subprocess.Popen[bytes] | None = None

    def start(self) -> ContainerTarget:
        env = _passed_env(self.name, self.spec.pass_env)
        try:
            client = self._client = connect()
            self._ensure_image(client)
            networks = {network.name for network in client.networks.list()}
            plan = plan_container(
                self.spec, choose_network(self.spec.network, networks), free_port()
            )
            deadline = time.monotonic() + self.spec.ready_timeout
            container = self._create(client, plan, env)
            self._reaper = _start_reaper(container.id, self.context)
            container.start()
            self.url = self._url(container, plan, deadline) + self.spec.base_path
            self._wait_ready(container, deadline)
        except ENGINE_ERRORS as exc:
            self.stop()
            raise InfrastructureError(f"target {self.name}: docker: {_explain(exc)}") from None
        except InfrastructureError as exc:
            self.stop()
            message = str(exc)
            if not message.startswith(f"target {self.name}:"):
                message = f"target {self.name}: {message}"
            raise InfrastructureError(message) from None
        except BaseException:  # Ctrl-C while starting: nothing may be left behind
            self.stop()
            raise
        return self

    def _ensure_image(self, client: DockerClient) -> None:
        try:
            client.images.get(self.spec.image)
        except ImageNotFound:
            pull_image(self.spec.image, self.spec.pull_timeout)

    def _create(self, client: DockerClient, plan: ContainerPlan, env: dict[str, str]) -> Container:
        options: dict[str, Any] = {
            "name": self.container_name,
            "command": plan.command,
            "entrypoint": plan.entrypoint,
            "environment": {**plan.env, **env},
            "labels": {LABEL_RUN: self.context.run_id, LABEL_TARGET: self.name},
            "detach": True,
        }
        if plan.host_network:
            options["network_mode"] = "host"
        else:
            options["network"] = plan.network
            options["ports"] = {f"{port}/tcp": ("127.0.0.1", None) for port in plan.published}
        self._container = client.containers.create(self.spec.image, **options)
        return self._container

    def _url(self, container: Container, plan: ContainerPlan, deadline: float) -> str:
        if plan.host_network:
            return f"http://127.0.0.1:{plan.listen_port}"
        key = f"{plan.listen_port}/tcp"
        while True:  # the engine reports the published port shortly after the start
            container.reload()
            bindings = (container.ports or {}).get(key) or []
            for binding in bindings:
                if binding.get("HostPort"):
                    return f"http://127.0.0.1:{binding['HostPort']}"
            self._check_running(container)
            if time.monotonic() > deadline:
                raise InfrastructureError(
                    f"container {self.container_name} has no host port for {key} after "
                    f"{self.spec.ready_timeout:g} s"
                )
            time.sleep(0.05)

    def _check_running(self, container: Container) -> None:
        if container.status in ("exited", "dead"):
            code = (container.attrs.get("State") or {}).get("ExitCode")
            tail = _tail_of(container)
            raise InfrastructureError(
                f"container {self.container_name} ({self.spec.image}) exited with code {code} "
                "before it was ready" + (f"; last log lines: {tail}" if tail else "")
            )

    def _wait_ready(self, container: Container, deadline: float) -> None:
        ready = self.url + self.spec.ready_path
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while True:
                container.reload()
                self._check_running(container)
                try:
                    client.get(ready)
                    return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    tail = _tail_of(container)
                    raise InfrastructureError(
                        f"container {self.container_name} ({self.spec.image}): {ready} did not "
                        f"answer within {self.spec.ready_timeout:g} s"
                        + (f"; last log lines: {tail}" if tail else "")
                    )
                time.sleep(0.1)

    def stop(self) -> None:
        """Stop and remove the container and keep its logs: through the reaper when it
        runs, else here. A failure is a warning naming what to remove by hand."""
        reaper, self._reaper = self._reaper, None
        container, self._container = self._container, None
        if reaper is not None and _reaper_done(reaper):
            container = None
        if container is not None:
            try:
                _write_logs(container, self.context)
                container.remove(force=True, v=True)
            except NotFound:
                pass
            except ENGINE_ERRORS as exc:
                warnings.warn(
                    f"target {self.name}: could not remove container {self.container_name} "
                    f"({_explain(exc)}); remove it with `docker rm -f {self.container_name}`",
                    ShadowWarning,
                    stacklevel=2,
                )
        if self._client is not None:
            self._client.close()
            self._client = None


def _write_logs(container: Container, context: LaunchContext) -> None:
    if context.log_path is None:
        return
    logs = _container_logs(container)
    context.log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(context.log_path, "a", encoding="utf-8") as log:
        log.write(logs)


def _start_reaper(container_id: str, context: LaunchContext) -> subprocess.Popen[bytes]:
    log = str(context.log_path) if context.log_path is not None else ""
    return subprocess.Popen(
        [sys.executable, "-m", "harness.replay.launch.reaper", container_id, log, str(STOP_GRACE)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C in a terminal reaches the replay, not the reaper
    )


def _reaper_done(reaper: subprocess.Popen[bytes]) -> bool:
    """Close the reaper's pipe and wait for it; True when it removed the container."""
    assert reaper.stdin is not None
    try:
        reaper.stdin.close()
        return reaper.wait(_REAPER_WAIT) == 0
    except subprocess.TimeoutExpired:
        reaper.kill()
        reaper.wait()
        return False


def launch_docker(spec: DockerLaunch, context: LaunchContext) -> ContainerTarget:
    """`launch: {docker: {...}}`: the target's container, running and ready."""
    return ContainerTarget(spec, context).start()


LAUNCHERS.register("docker", Launcher(DockerLaunch, launch_docker))
