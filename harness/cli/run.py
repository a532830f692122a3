"""`shadow run`: replay, compare, report and gate in one go."""

from __future__ import annotations

import sys
from typing import Any

import click

from harness.cli.group import main
from harness.cli.options import (
    GATE_HELP,
    allow_live_option,
    cluster_option,
    concurrency_option,
    gate_options,
    gate_values,
    no_progress_option,
    rules_option,
    run_dir_out_option,
)
from harness.cli.output import print_run, reports_errors


@main.command(epilog=GATE_HELP)
@click.argument("scenario", type=click.Path(dir_okay=False))
@run_dir_out_option
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False),
    help="Directory for the report (default: reports/<run name>/).",
)
@rules_option
@concurrency_option
@allow_live_option
@cluster_option
@no_progress_option
@gate_options
@reports_errors
def run(
    scenario: str,
    out: str | None,
    report_dir: str | None,
    rules: str | None,
    concurrency: int | None,
    allow_live: bool,
    cluster: str | None,
    no_progress: bool,
    **gate: Any,
) -> None:
    """Replay SCENARIO, compare, write the report and apply the gate, in one go.

    Prints one row per candidate (exchanges, matching, exchanges with regressions by
    severity, expected, noise, errors), the gate's verdict with its reasons, and where
    the report is. See the gate and the exit codes below.
    """
    from pathlib import Path

    from harness.distributed.replay import on_cluster_if
    from harness.replay.progress import progress_view
    from harness.run import run_scenario
    from harness.scenario import load_scenario

    with on_cluster_if(cluster, allow_live) as on:
        result = run_scenario(
            load_scenario(scenario),
            out=Path(out) if out else None,
            report_dir=Path(report_dir) if report_dir else None,
            rules=Path(rules) if rules else None,
            gate_options=gate_values(**gate),
            concurrency=concurrency,
            allow_live=allow_live,
            progress=None if no_progress else progress_view(),
            cluster=on,
        )
    print_run(result)
    sys.exit(result.verdict.exit_code)
