"""`shadow report`: a compared run's HTML, JSON, JUnit and Markdown report."""

from __future__ import annotations

import click

from harness.cli.group import main
from harness.cli.output import print_report_written, reports_errors


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(dir_okay=True, file_okay=False),
    default=None,
    help="Directory for the report files (default: reports/<run name>/).",
)
@reports_errors
def report(run_dir: str, out_dir: str | None) -> None:
    """Write a compared run's report: index.html, summary.json, junit.xml, summary.md.

    index.html is one self-contained file to open offline or send to a customer; the
    other three are for CI. Everything written is redacted again. Needs `shadow compare`
    to have run on RUN_DIR.
    """
    from harness.report import write_report

    written = write_report(run_dir, out_dir)
    print_report_written(written)
