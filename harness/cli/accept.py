"""`shadow accept`: an expect rule for a group of differences, with its reason."""

from __future__ import annotations

import click

from harness.cli.group import main
from harness.cli.output import print_accepted, reports_errors


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("group_id")
@click.option(
    "--reason",
    required=True,
    help="Why this change is expected; the report shows it beside the group.",
)
@reports_errors
def accept(run_dir: str, group_id: str, reason: str) -> None:
    """Accept a known change: write an expect rule for GROUP_ID (from RUN_DIR's
    summary.json) into the scenario's compare: section, or into the rules file it names.

    The next compare (`shadow compare RUN_DIR` or the next run) shows the group as
    expected, with the reason. The rule matches the group's endpoint, path and kind for
    every candidate.
    """
    from harness.accept import accept_group

    accepted = accept_group(run_dir, group_id, reason)
    print_accepted(run_dir, group_id, accepted)
