"""`shadow reconcile`: the customer's own records against Stripe."""

from __future__ import annotations

from pathlib import Path

import click

from harness.cli.group import main
from harness.cli.options import allow_truncated_option
from harness.cli.output import (
    print_end_states,
    print_json,
    print_reconciliation,
    print_verdict,
    reports_errors,
)


@main.command("reconcile")
@click.argument("run_dir", metavar="[RUN_DIR]", required=False, type=click.Path(file_okay=False))
@click.option(
    "--source",
    metavar="SOURCE",
    help="The customer's records: a SQLAlchemy URL (sqlite:///app.db, "
    "postgresql+psycopg://user@host/db), a SQLite file, a CSV file or a directory of "
    "<table>.csv files.",
)
@click.option(
    "--mapping",
    metavar="MAPPING.yaml",
    type=click.Path(dir_okay=False),
    help="Which table holds each Stripe object type, which column its Stripe id and each "
    "compared field, and how values convert (docs/reconcile.md).",
)
@click.option(
    "--stripe",
    "stripe",
    metavar="TARGET_OR_RECORDING",
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
@click.option(
    "--rules",
    type=click.Path(dir_okay=False),
    help="With RUN_DIR: a YAML file of extra compare rules (as `shadow compare --rules`).",
)
@click.option("--json", "as_json", is_flag=True, help="Print reconcile.json's content instead.")
@allow_truncated_option
@reports_errors
def reconcile_command(
    run_dir: str | None,
    source: str | None,
    mapping: str | None,
    stripe: str | None,
    api_key_env: str | None,
    rate: float,
    allow_live: bool,
    out: str,
    max_drift: int,
    rules: str | None,
    as_json: bool,
    allow_truncated: bool,
) -> None:
    """Reconcile final states, in one of two modes (docs/reconcile.md).

    shadow reconcile RUN_DIR: fetch the end state of every object the replay created or
    changed from every target of a run (through its id map, within its rate limit) into
    <target>.state.jsonl, compare each candidate's with the baseline's as compare does,
    and add the `reconciliation` section to the run's summary.json; the gate then
    applies (exit 0 passed, 1 failed, 3 a target does not answer). A launched target
    stops with its replay: for those, set `reconcile: true` in the scenario instead.

    shadow reconcile --source SOURCE --mapping MAPPING.yaml --stripe TARGET_OR_RECORDING:
    the customer's own records (the system of record for entitlements and revenue)
    against what Stripe holds: rows only in the source, objects only in Stripe, fields
    that differ (grouped as causes: object type, field, kind) and matches, with counts
    and samples. Streams both sides; writes reconcile.json and a self-contained
    index.html. Exits 0 when at most --max-drift records drift, 1 when more do, 2 on bad
    input, 3 when the database or target cannot be reached; nothing is written then.
    """
    from pathlib import Path

    from harness.errors import InputError
    from harness.reconcile.page import render_page
    from harness.reconcile.reconcile import StripeSide, reconcile, write_reconciliation

    if run_dir is not None:
        if source or mapping or stripe:
            raise InputError(
                "shadow reconcile: give RUN_DIR, or --source, --mapping and --stripe, not both"
            )
        reconcile_run(run_dir, rules)
        return
    if not (source and mapping and stripe):
        raise InputError(
            "shadow reconcile: give RUN_DIR, or all of --source, --mapping and --stripe"
        )

    side = StripeSide(stripe, api_key_env, rate, allow_live, allow_truncated)
    document = reconcile(source, mapping, side)
    write_reconciliation(document, Path(out), render_page(document))
    if as_json:
        print_json(document)
    else:
        print_reconciliation(document, out)
    if document["drift"] > max_drift:
        raise SystemExit(1)


def reconcile_run(run_dir: str, rules: str | None) -> None:
    """`shadow reconcile RUN_DIR`: fetch, compare, gate."""
    import sys

    from harness.gate import apply_gate
    from harness.reconcile.endstates import fetch_run_end_states
    from harness.reconcile.states import compare_end_states
    from harness.run import gate_config, scenario_gate

    fetch_run_end_states(run_dir)
    section = compare_end_states(run_dir, rules)
    from harness.formats.summary import load_summary

    summary = load_summary(Path(run_dir))
    config = gate_config(scenario_gate(summary), {})
    verdict = apply_gate(summary, config)
    print_end_states(section)
    print_verdict(verdict, config)
    sys.exit(verdict.exit_code)
