"""`shadow validate`: check a scenario file and the id map files it names."""

from __future__ import annotations

import click

from harness.cli.group import main
from harness.cli.output import print_valid, reports_errors


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@reports_errors
def validate(scenario: str) -> None:
    """Check a scenario file: keys, targets, roles, paths and id map files.

    Exit code 0 when valid; 2 with one line per mistake (`FILE: targets[1].url: not a
    URL`) otherwise.
    """
    from harness.replay.idmap import target_seeds
    from harness.scenario import load_scenario

    loaded = load_scenario(scenario)
    for target in loaded.targets:
        target_seeds(target)
    print_valid(scenario, loaded)
