"""`shadow reconcile`: the customer's own records against Stripe."""

from __future__ import annotations

import click

from harness.cli.group import main
from harness.cli.options import allow_truncated_option
from harness.cli.output import print_json, print_reconciliation, reports_errors


@main.command("reconcile")
@click.option(
    "--source",
    metavar="SOURCE",
    required=True,
    help="The customer's records: a SQLAlchemy URL (sqlite:///app.db, "
    "postgresql+psycopg://user@host/db), a SQLite file, a CSV file or a directory of "
    "<table>.csv files.",
)
@click.option(
    "--mapping",
    metavar="MAPPING.yaml",
    required=True,
    type=click.Path(dir_okay=False),
    help="Which table holds each Stripe object type, which column its Stripe id and each "
    "compared field, and how values convert (docs/reconcile.md).",
)
@click.option(
    "--stripe",
    "stripe",
    metavar="TARGET_OR_RECORDING",
    required=True,
    help="Stripe's side: a recording (each object's last known state in it), or a live "
    "target's URL (its paged lists; the key comes from --api-key-env).",
)
@click.option(
    "--api-key-env",
    metavar="NAME",
    help="The environment variable holding the live target's API key.",
)
@click.option(
    "--rate",
    type=float,
    default=20.0,
    show_default=True,
    help="Requests per second at most to a live target (Stripe allows 25 in test mode).",
)
@click.option("--allow-live", is_flag=True, help="Read a live target with a live-mode key.")
@click.option(
    "--out",
    "-o",
    type=click.Path(file_okay=False),
    default="reconcile",
    show_default=True,
    help="Directory for reconcile.json and index.html.",
)
@click.option(
    "--max-drift",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Exit 1 when more records than this do not match.",
)
@click.option("--json", "as_json", is_flag=True, help="Print reconcile.json's content instead.")
@allow_truncated_option
@reports_errors
def reconcile_command(
    source: str,
    mapping: str,
    stripe: str,
    api_key_env: str | None,
    rate: float,
    allow_live: bool,
    out: str,
    max_drift: int,
    as_json: bool,
    allow_truncated: bool,
) -> None:
    """Reconcile the customer's own records (the system of record for entitlements and
    revenue) with what Stripe holds: rows only in the source, objects only in Stripe,
    fields that differ (grouped as causes: object type, field, kind) and matches, with
    counts and samples. Streams both sides; writes reconcile.json and a self-contained
    index.html. Exits 0 when at most --max-drift records drift, 1 when more do, 2 on bad
    input, 3 when the database or target cannot be reached; nothing is written then.
    """
    from pathlib import Path

    from harness.reconcile.page import render_page
    from harness.reconcile.reconcile import StripeSide, reconcile, write_reconciliation

    side = StripeSide(stripe, api_key_env, rate, allow_live, allow_truncated)
    document = reconcile(source, mapping, side)
    write_reconciliation(document, Path(out), render_page(document))
    if as_json:
        print_json(document)
    else:
        print_reconciliation(document, out)
    if document["drift"] > max_drift:
        raise SystemExit(1)
