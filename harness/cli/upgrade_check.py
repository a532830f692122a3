"""`shadow upgrade-check`: what recorded traffic meets on another API version."""

from __future__ import annotations

import click

from harness.cli.group import main
from harness.cli.options import allow_truncated_option
from harness.cli.output import print_json, print_upgrade_check, reports_errors


@main.command("upgrade-check")
@click.argument("recording", type=click.Path(dir_okay=False))
@click.option(
    "--to",
    "to_version",
    required=True,
    metavar="VERSION",
    help="The API version to check against, e.g. 2025-03-31.basil (docs/catalogue.md).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@allow_truncated_option
@reports_errors
def upgrade_check(recording: str, to_version: str, as_json: bool, allow_truncated: bool) -> None:
    """List what the recorded traffic will meet on another API version, before any replay:
    parameters it sends that the version removes or renames, fields it was answered that
    the version removes, moves or retypes, endpoints it drops; with exchanges, endpoints
    and an example for each. From the catalogues Stripe's SDKs describe; exits 0 (it
    informs, it does not gate)."""
    from harness.upgrade.check import check_recording

    report = check_recording(recording, to_version, allow_truncated=allow_truncated)
    if as_json:
        print_json(report.to_json())
        return
    print_upgrade_check(recording, report)
