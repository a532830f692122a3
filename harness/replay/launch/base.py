"""How a target is started: the context a launcher gets, what it returns, and the one
registry of launch kinds, each an options model (checked with the rest of the scenario)
and the function that starts it (docs/scenario-format.md, "Launchers").

A new launch kind is one module of this package: a model of its options (a LaunchOptions
whose `kind` is its name) and a function `start(options, context) -> Launched`, registered
with `LAUNCHERS.register(name, Launcher(Options, start))`; another package declares it in
the `stripe_shadow.launchers` entry point group. Every launched target is stopped by the
caller on success, failure and Ctrl-C, and ends with the replay even when the replay
itself is killed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from harness.errors import InputError, NotRegistered, ScenarioProblem
from harness.registry import Registry
from harness.validation import error_message, field_path


@dataclass(slots=True, frozen=True)
class LaunchContext:
    """What a launcher may use: the target's name, the scenario's folder (a command's
    working directory), where the server's output goes, and the run's id (a container's
    label)."""

    target: str
    scenario_dir: Path
    log_path: Path | None
    run_id: str = ""


class Launched(Protocol):
    """A target a launcher started: where it answers, and how to stop it."""

    url: str

    def stop(self) -> None: ...


class LaunchOptions(BaseModel):
    """A launch kind's options as a scenario gives them; `kind` is the kind's name."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: str
    # The one key an emulator launched this way accepts (it refuses requests without a
    # key), or None: the target's api_key_env says.
    fixed_key: ClassVar[str | None] = None
    # Whether `subscribe_webhooks` can have a target launched this way send its events.
    sends_webhooks: ClassVar[bool] = False

    def to_json(self) -> Any:
        """As run.json records the launch."""
        return self.model_dump()

    def subscribe_webhooks(self, url: str, endpoint: str, secret: str) -> None:
        """Have the target launched at `url` send its events to `endpoint`, signed with
        `secret` (only kinds that say `sends_webhooks` can)."""
        raise NotImplementedError(f"launch kind {self.kind} cannot subscribe webhooks")


@dataclass(frozen=True, slots=True)
class Launcher:
    """A launch kind: the model of its options, and what starts a target with them."""

    options: type[LaunchOptions]
    start: Callable[[Any, LaunchContext], Launched]


LAUNCHERS: Registry[Launcher] = Registry("launch kind", "stripe_shadow.launchers")


def _kind_with_options(value: Any) -> bool:
    if not isinstance(value, dict) or len(value) != 1:
        return False
    kind, options = next(iter(value.items()))
    return kind in LAUNCHERS and (options is None or isinstance(options, dict))


def launch_options(value: Any) -> LaunchOptions | None:
    """A scenario's `launch:` as the options of its kind: a kind's name (`localstripe`),
    `{kind: {options}}`, or a mapping with a `command` (or a `kind`). ScenarioProblem,
    located below `launch`, for a mistake."""
    if value is None or isinstance(value, LaunchOptions):
        return value
    prefix: tuple[str, ...] = ()
    if isinstance(value, str):
        data: dict[str, Any] = {"kind": value}
        prefix = (value,)
    elif _kind_with_options(value):
        # `{docker: {image: ...}}`: the kind as the only key, its options beneath
        kind, options = next(iter(value.items()))
        data = {**(options or {}), "kind": kind}
        prefix = (kind,)
    elif isinstance(value, dict):
        data = dict(value)
        data.setdefault("kind", "command" if "command" in data else None)
    else:
        raise ScenarioProblem(
            (),
            "expected a launch kind (localstripe, stripe-mock), a mapping with a command, "
            "or {docker: {image: ...}}",
        )
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in LAUNCHERS:
        raise ScenarioProblem((), LAUNCHERS.unknown(str(kind)))
    try:
        options = LAUNCHERS.named(kind).options
    except NotRegistered as exc:
        raise ScenarioProblem((), str(exc)) from None
    try:
        return options.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = field_path(first["loc"], ".".join(prefix)) if first["loc"] else ".".join(prefix)
        message = error_message(first, options)
        raise ScenarioProblem((), f"{where}: {message}" if where else message) from None


def launch(options: LaunchOptions, context: LaunchContext) -> Launched:
    """Start a target with its launch options."""
    try:
        launcher = LAUNCHERS.named(options.kind)
    except NotRegistered as exc:
        raise InputError(f"target {context.target}: {exc}") from None
    return launcher.start(options, context)
