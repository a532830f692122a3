"""The container launch kinds of a scenario (docs/scenario-format.md): `docker` starts any
image as a target, `stripe-mock` is the preset for Stripe's official emulator.

Models only, validated with the rest of the scenario; the replay starts them
(harness.replay.container, harness.replay.stripemock).
"""

from __future__ import annotations

import re
import shlex
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# In command, entrypoint and env: the port the server must listen on (with host
# networking a free port of the machine, else the first of `ports`).
PORT = "{port}"

STRIPE_MOCK_IMAGE = "stripe/stripe-mock:latest"
STRIPE_MOCK_PORT = 12111
# stripe-mock accepts any test-mode key and refuses requests without one.
STRIPE_MOCK_TEST_KEY = "sk_test_123"

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NETWORK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _argv(value: str | list[str] | None, field: str) -> list[str] | None:
    if value is None or isinstance(value, list):
        return value
    try:
        return shlex.split(value)
    except ValueError as exc:
        raise ValueError(f"{field}: cannot be split ({exc})") from None


class DockerLaunch(_Strict):
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


class StripeMockLaunch(_Strict):
    """Stripe's official emulator: a `stripe-mock` binary on PATH as a local process, else
    the image as a container."""

    kind: Literal["stripe-mock"] = "stripe-mock"
    image: str = Field(default=STRIPE_MOCK_IMAGE, min_length=1)
    network: str = "auto"
    ready_timeout: float = Field(default=60.0, gt=0, le=600)
    pull_timeout: float = Field(default=120.0, gt=0, le=3600)

    def container(self) -> DockerLaunch:
        """The container that runs it; the image's own entrypoint fixes both ports, so it
        is replaced by one that serves plain HTTP on the port given."""
        return DockerLaunch(
            image=self.image,
            entrypoint=["/bin/stripe-mock", "-http-port", PORT],
            ports=[STRIPE_MOCK_PORT],
            network=self.network,
            ready_path="/v1/balance",
            ready_timeout=self.ready_timeout,
            pull_timeout=self.pull_timeout,
        )

    def to_json(self) -> Any:
        options = self.model_dump(exclude={"kind"}, exclude_defaults=True)
        return {"stripe-mock": options} if options else "stripe-mock"
