"""The shape of the `shadow` command line: one module per command, and a fast `--help`.

What each command does is tested with its stage; these tests keep the package's rules.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

import harness.cli
from harness.cli import main
from harness.cli.group import COMMAND_MODULES

SHARED_MODULES = {"__init__", "group", "options", "output"}
# The libraries the stages need; `shadow --help` must not pay for importing them.
STAGE_LIBRARIES = (
    "aiohttp",
    "deepdiff",
    "docker",
    "httpx",
    "ijson",
    "jinja2",
    "mitmproxy",
    "pydantic",
    "rich",
    "ruamel",
    "yaml",
)


def test_every_command_module_adds_exactly_its_command() -> None:
    package = Path(harness.cli.__file__).parent
    command_modules = {f"harness.cli.{p.stem}" for p in package.glob("*.py")} - {
        f"harness.cli.{name}" for name in SHARED_MODULES
    }
    context = click.Context(main)
    by_module: dict[str, list[str]] = {}
    for name in main.list_commands(context):
        command = main.get_command(context, name)
        assert command is not None and command.callback is not None, name
        by_module.setdefault(command.callback.__module__, []).append(name)
        assert command.callback.__module__ == f"harness.cli.{COMMAND_MODULES[name]}"
    assert set(by_module) == command_modules
    assert all(len(names) == 1 for names in by_module.values()), by_module
    assert set(main.commands) == set(COMMAND_MODULES)


def _shadow_in_a_fresh_process(args: list[str]) -> tuple[str, set[str]]:
    """What `shadow ARGS` prints in a fresh interpreter, and the modules it imported."""
    listing = (
        "import json, sys\n"
        "from harness.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", listing], capture_output=True, text=True, check=True, timeout=60
    )
    return shown.stdout, set(json.loads(shown.stdout.splitlines()[-1]))


def test_a_command_loads_only_its_own_module() -> None:
    _, modules = _shadow_in_a_fresh_process(["compare", "--help"])
    assert {m for m in modules if m.startswith("harness.cli.")} == {
        "harness.cli.compare",
        "harness.cli.group",
        "harness.cli.options",
        "harness.cli.output",
    }


def test_help_imports_no_stage() -> None:
    shown, modules = _shadow_in_a_fresh_process(["--help"])
    assert "Commands:" in shown
    loaded = {m.split(".")[0] for m in modules}
    assert loaded.isdisjoint(STAGE_LIBRARIES), sorted(loaded & set(STAGE_LIBRARIES))


def test_the_program_ends_with_its_objects_frozen_out_of_the_collector() -> None:
    """Called as the `shadow` console script calls it, the group freezes what the command
    left before the interpreter's teardown, which would otherwise collect it all for
    nothing; called as CliRunner and the bench call it (`main`), in a process that goes
    on, it leaves the collector alone."""
    frozen = gc.get_freeze_count()
    try:
        with pytest.raises(SystemExit) as stop:
            main.main(["--version"], prog_name="shadow")
        assert stop.value.code == 0
        assert gc.get_freeze_count() == frozen
        with pytest.raises(SystemExit) as stop:
            main(["--version"], prog_name="shadow")
        assert stop.value.code == 0
        assert gc.get_freeze_count() > frozen
    finally:
        if not frozen:
            gc.unfreeze()
