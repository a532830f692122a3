"""`shadow plan`: how a recording splits into journeys, and the parallelism available."""

from __future__ import annotations

import click

from harness.cli.group import main
from harness.cli.output import plan_figures, print_json, print_plan, reports_errors


@main.command()
@click.argument("source", metavar="SCENARIO|RECORDING", type=click.Path(dir_okay=False))
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the plan as JSON, with every barrier read: what it waits for and why.",
)
@reports_errors
def plan(source: str, as_json: bool) -> None:
    """Show how a recording splits into journeys: how many, the largest, how much
    parallelism a replay can use (exchanges per exchange of the largest journey, and per
    step of the longest chain of exchanges that wait for one another), and the barriers
    between journeys."""
    from pathlib import Path

    from harness.replay.idmap import target_seeds
    from harness.scenario import load_scenario

    recording = Path(source)
    known: set[str] = set()
    if recording.suffix.lower() in (".yaml", ".yml"):
        scenario = load_scenario(recording)
        recording = scenario.recording
        for target in scenario.targets:
            known.update(target_seeds(target))
    data = plan_figures(recording, known, details=as_json)
    if as_json:
        print_json(data)
        return
    print_plan(recording, data)
