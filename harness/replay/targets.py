"""Targets: where each one's requests go, with which key, and how it is started.

Launchers are a registry keyed by the scenario's `launch` kind, each a function that
starts a server and returns it running (a harness.process.LocalProcess, or a container:
harness.replay.container). Every launched target is stopped by the caller's ExitStack on
success, failure and Ctrl-C, and ends with the replay even when the replay itself is
killed with SIGKILL.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from harness.containerspec import STRIPE_MOCK_TEST_KEY
from harness.errors import InputError, LiveModeRefused
from harness.process import LOCALSTRIPE_TEST_KEY, LocalProcess, free_port, localstripe
from harness.replay.container import launch_docker
from harness.replay.stripemock import launch_stripe_mock
from harness.scenario import CommandLaunch, Scenario, TargetSpec
from harness.stripe import bare_key, is_live_key


@dataclass(slots=True, frozen=True)
class LaunchContext:
    """What a launcher may use: the scenario's folder (a command's working directory),
    where the server's output goes, and the run's id (a container's label)."""

    scenario_dir: Path
    log_path: Path | None
    run_id: str = ""


class Launched(Protocol):
    """A target a launcher started: where it answers, and how to stop it."""

    url: str

    def stop(self) -> None: ...


Launcher = Callable[[TargetSpec, LaunchContext], Launched]


def launch_localstripe(target: TargetSpec, context: LaunchContext) -> LocalProcess:
    """localstripe on a free port with a store of its own (`--from-scratch`: nothing is
    read from the pickle file that every instance on the machine writes)."""
    return localstripe(target.name, context.log_path, tied_to_parent=True)


def launch_command(target: TargetSpec, context: LaunchContext) -> LocalProcess:
    """Any local server: `{port}` in the command and the url becomes a free port."""
    spec = target.launch
    assert isinstance(spec, CommandLaunch)
    port = str(free_port())
    try:
        command = [part.replace("{port}", port) for part in shlex.split(spec.command)]
    except ValueError as exc:
        raise InputError(f"target {target.name}: launch.command: cannot be split ({exc})") from None
    process = LocalProcess(
        target.name,
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


LAUNCHERS: dict[str, Launcher] = {
    "localstripe": launch_localstripe,
    "command": launch_command,
    "docker": launch_docker,
    "stripe-mock": launch_stripe_mock,
}

# Launched emulators that accept one fixed test key and refuse requests without one.
FIXED_KEYS = {"localstripe": LOCALSTRIPE_TEST_KEY, "stripe-mock": STRIPE_MOCK_TEST_KEY}


def launch(target: TargetSpec, context: LaunchContext) -> Launched:
    kind = target.launch_kind
    if kind is None or kind not in LAUNCHERS:
        raise InputError(f"target {target.name}: no launcher for {kind!r}")
    return LAUNCHERS[kind](target, context)


def target_key(target: TargetSpec) -> str | None:
    """The key a target is sent: from its api_key_env, the fixed key of an emulator it
    launches (localstripe, stripe-mock), or none. Never from the recording."""
    if target.api_key_env:
        value = bare_key(os.environ.get(target.api_key_env, ""))
        if not value:
            raise InputError(
                f"target {target.name}: api_key_env: {target.api_key_env} is not set; "
                f"export the target's API key in it"
            )
        return value
    return FIXED_KEYS.get(target.launch_kind or "")


def target_keys(scenario: Scenario, allow_live: bool) -> dict[str, str | None]:
    """Every target's key, refusing live-mode keys unless both the scenario
    (`allow_live: true`) and the command line (`--allow-live`) say so."""
    keys: dict[str, str | None] = {}
    for target in scenario.targets:
        key = target_key(target)
        if key is not None and is_live_key(key) and not (scenario.allow_live and allow_live):
            missing = []
            if not scenario.allow_live:
                missing.append(f"allow_live: true in {scenario.path}")
            if not allow_live:
                missing.append("--allow-live on the command line")
            raise LiveModeRefused(
                f"target {target.name}: {target.api_key_env} holds a live-mode key "
                f"({key[:8]}…); a replay creates real objects and moves real money. "
                f"To go ahead anyway, give {' and '.join(missing)}"
            )
        keys[target.name] = key
    return keys
