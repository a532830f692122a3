"""`shadow compare`: each candidate of a run against the baseline."""

from __future__ import annotations

import click

from harness.cli.group import main
from harness.cli.options import cluster_option, rules_option
from harness.cli.output import print_comparison, reports_errors


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@rules_option
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes for diffing when many exchanges differ (default: 1, this one).",
)
@cluster_option
@reports_errors
def compare(run_dir: str, rules: str | None, workers: int | None, cluster: str | None) -> None:
    """Compare each candidate of a run with the baseline; write outcomes.jsonl and summary.json.

    Reads only the run directory, so it can be rerun with other rules without replaying.
    """
    from harness.compare.pipeline import compare_run

    if cluster is not None:
        from harness.distributed.compare import compare_on_cluster

        summary = compare_on_cluster(cluster, run_dir, rules)
    else:
        summary = compare_run(run_dir, rules, workers=workers)
    print_comparison(run_dir, summary)
