"""`shadow gate`: the gate applied to a compared run's summary.json."""

from __future__ import annotations

import sys
from typing import Any

import click

from harness.cli.group import main
from harness.cli.options import GATE_HELP, gate_options, gate_values
from harness.cli.output import print_verdict, reports_errors


@main.command(epilog=GATE_HELP)
@click.argument("summary_json", metavar="SUMMARY_JSON", type=click.Path(dir_okay=False))
@gate_options
@reports_errors
def gate(summary_json: str, **options: Any) -> None:
    """Apply the gate to a compared run's summary.json (the run's, or a report's copy).

    The gate: section of the scenario the run came from applies, with the options given
    here over it.
    """
    from harness.formats.summary import read_summary_file
    from harness.gate import apply_gate
    from harness.run import baseline_summary, gate_config, scenario_gate

    summary = read_summary_file(summary_json)
    config = gate_config(scenario_gate(summary), gate_values(**options))
    verdict = apply_gate(summary, config, baseline_summary(config))
    print_verdict(verdict, config)
    sys.exit(verdict.exit_code)
