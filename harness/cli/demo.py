"""`shadow demo`: the whole job on the shipped demo recording."""

from __future__ import annotations

import click

from harness.cli.group import main
from harness.cli.options import no_progress_option
from harness.cli.output import print_demo, reports_errors


@main.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="runs/demo",
    show_default=True,
    help="Directory for the demo's scenario, run and report (a previous demo's is replaced).",
)
@no_progress_option
@reports_errors
def demo(out: str, no_progress: bool) -> None:
    """Show the whole job on the shipped demo recording: no Stripe account, no network.

    Two validation runs against local targets (replay, compare, report, gate): the demo
    recording against a baseline localstripe, a control candidate set up the same way and
    a simulated API upgrade; then the Charges → PaymentIntents rehearsal of
    scenarios/charges-to-payment-intents.yaml; then the integration map of the demo
    recording, and the demo app's own database reconciled with the recording (three
    planted drifts). Prints each run's table, verdict and report, the map's findings, and a
    paragraph that reads the result. Exits 0 when the demo ran, whatever the gates say
    (the upgrade is meant to fail its gate); 3 if a target could not start.
    """
    from pathlib import Path

    from harness.demo.run import map_demo, reading, reconcile_demo, run_demo
    from harness.replay.progress import progress_view

    parts = run_demo(Path(out), None if no_progress else progress_view())
    mapped = map_demo(Path(out))
    reconciled = reconcile_demo(Path(out))
    runs = [(p.result.summary, p.result.verdict, str(p.result.gate.fail_on)) for p in parts]
    print_demo(parts, mapped, reading(runs, mapped, reconciled), reconciled, out)
