"""The `shadow` group: its help, its version, how warnings are shown, and which module
adds each command.

Each command module adds its command with `@main.command()`. The group imports a
module only when its command is asked for: `shadow compare` loads harness.cli.compare
and what it needs, never the proxy of `shadow record` or the engine of `shadow replay`.
`shadow --help` asks for every command, so it still lists them all.
"""

from __future__ import annotations

import gc
import importlib
import warnings
from typing import Any

import click

from harness import __version__
from harness.cli.output import show_warning

# Command name → the module of harness.cli that adds it (a new command gets a line here).
COMMAND_MODULES = {
    "accept": "accept",
    "compare": "compare",
    "demo": "demo",
    "gate": "gate",
    "import": "import_",
    "inspect": "inspect",
    "map": "map_",
    "plan": "plan",
    "reconcile": "reconcile",
    "record": "record",
    "replay": "replay",
    "report": "report",
    "run": "run",
    "upgrade-check": "upgrade_check",
    "validate": "validate",
}


class LazyGroup(click.Group):
    """A group whose commands are added when first asked for, by importing their
    module (click's "lazy loading of subcommands" pattern)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """The `shadow` program (its console script calls the group; CliRunner and other
        callers in a process that goes on call `main`).

        Once the command is done, everything it made is frozen out of the garbage
        collector: the process ends next, and the collections Python runs while it
        tears the interpreter down would walk every object of every module (aiohttp,
        pydantic, the harness) for nothing, 60 to 150 ms of a `shadow replay`'s end.
        The teardown itself (atexit, files closed, objects freed) is as before."""
        try:
            return self.main(*args, **kwargs)
        finally:
            gc.freeze()

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMAND_MODULES) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMAND_MODULES.get(cmd_name)
        if module is not None and cmd_name not in self.commands:
            importlib.import_module(f"harness.cli.{module}")
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="shadow")
def main() -> None:
    """stripe-shadow: record Stripe traffic, replay it against other setups, compare, report.

    \b
    Exit codes: 0 success or gate passed, 1 gate failed,
                2 bad input or usage, 3 infrastructure failure.
    """
    warnings.showwarning = show_warning
    # Libraries' deprecation notices (pyasn1 under mitmproxy, ...) mean nothing to a user.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
