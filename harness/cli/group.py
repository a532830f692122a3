"""The `shadow` group: its help, its version, and how warnings are shown.

Each command module adds its command with `@main.command()`; harness/cli/__init__.py
imports them all.
"""

from __future__ import annotations

import warnings

import click

from harness import __version__
from harness.cli.output import show_warning


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
