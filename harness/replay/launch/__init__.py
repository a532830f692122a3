"""Launchers: how a target is started, one module per launch kind (docs/scenario-format.md,
"Launchers"). base.py holds the context, what a launcher returns and the registry; each
kind registers itself when its module is imported, which this package does."""

from harness.replay.launch import docker as docker
from harness.replay.launch import localstripe as localstripe
from harness.replay.launch import process as process
from harness.replay.launch import stripemock as stripemock
from harness.replay.launch.base import (
    LAUNCHERS,
    LaunchContext,
    Launched,
    Launcher,
    LaunchOptions,
    launch,
    launch_options,
)

__all__ = [
    "LAUNCHERS",
    "LaunchContext",
    "LaunchOptions",
    "Launched",
    "Launcher",
    "check_launch",
    "launch",
    "launch_options",
]


def check_launch(value: object, context: dict[str, object]) -> LaunchOptions | None:
    """A target's `launch:` as its kind's options: the scenario's check of the section
    (harness.scenario.SECTIONS); a mistake is a ScenarioProblem."""
    del context  # a launch's options need nothing beyond themselves
    return launch_options(value)
