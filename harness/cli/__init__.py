"""The `shadow` command line: one module per command, each parsing its options, calling
one stage and setting the exit code; options.py declares the options several commands
share, output.py words what they print.

Exit codes: 0 success (or gate passed), 1 gate failed, 2 bad input or usage,
3 infrastructure failure (a target could not be started or reached).

To add a command: write its module (`@main.command()` from group.py, `@reports_errors`
from output.py) and name it in group.COMMAND_MODULES, which imports it only when its
command is run (or `shadow --help` lists them all).
"""

from harness.cli.group import main

__all__ = ["main"]
