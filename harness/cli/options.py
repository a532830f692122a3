"""The options more than one command takes, each declared once, as decorators.

Choices come from the code that owns them (the PII modes, the model's severities), so a
new value there is a new choice here without an edit. The owners are light modules:
this one is imported by `shadow --help`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from harness.capture.pii import PII_MODES
from harness.model import SEVERITIES

F = TypeVar("F", bound=Callable[..., Any])


# --- recordings ------------------------------------------------------------------------

recording_out_option = click.option(
    "--out", "-o", type=click.Path(dir_okay=False), help="Recording to write (.jsonl or .jsonl.gz)."
)

pii_option = click.option(
    "--pii",
    type=click.Choice(PII_MODES),
    default="keep",
    show_default=True,
    help="Keep personal data, or replace emails, names, phones and addresses with stable "
    "fakes. Secrets are always redacted.",
)

allow_truncated_option = click.option(
    "--allow-truncated",
    is_flag=True,
    help="Read a recording whose last line was cut off (a killed recorder), with a warning.",
)


# --- replays ---------------------------------------------------------------------------

run_dir_out_option = click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Run directory to create (default: runs/<scenario>-<time>).",
)

concurrency_option = click.option(
    "--concurrency",
    type=click.IntRange(1, 1024),
    help="Requests in flight per target (replaces every concurrency in the scenario).",
)

allow_live_option = click.option(
    "--allow-live",
    is_flag=True,
    help="Allow live-mode keys (the scenario must say allow_live: true too).",
)

no_progress_option = click.option(
    "--no-progress", is_flag=True, help="Print no progress while replaying."
)

cluster_option = click.option(
    "--cluster",
    metavar="tcp://HOST:PORT|local:N",
    help="Shard by journey over a Dask cluster: a running `dask scheduler`, or N local "
    "worker processes (needs stripe-shadow[distributed]; docs/distributed.md).",
)

rules_option = click.option(
    "--rules",
    type=click.Path(dir_okay=False),
    help="A rules file (the compare: section's fields) added to the scenario's rules.",
)


# --- the gate --------------------------------------------------------------------------

GATE_HELP = """\b
Gate: a regression is a group of differences (one cause: endpoint, JSON path,
kind) whose outcome is `difference` (not expected, not noise) and whose
severity is at or above --fail-on; the gate fails when a candidate has more
than --max-regressions of them (per-endpoint thresholds count the groups of
their endpoints separately). With --baseline-summary, groups that were
already differences in that earlier summary.json are let through: only new
ones count. Error rate = error outcomes / exchanges, per candidate; above
--max-error-rate the run cannot be judged (exit 3). The command line wins
over the scenario's gate: section.

\b
Exit codes: 0 gate passed, 1 gate failed, 2 bad input or usage,
            3 infrastructure failure (a target could not be started or
            reached, or too many errors to judge)."""


def _endpoint_threshold(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> list[dict[str, Any]]:
    """`--endpoint 'POST /v1/charges*=high:2'` → {endpoint, fail_on, max_regressions}."""
    thresholds = []
    for value in values:
        pattern, equals, limits = value.rpartition("=")
        severity, _, count = limits.partition(":")
        if (
            not equals
            or not pattern.strip()
            or severity not in SEVERITIES
            or (count and not (count.isascii() and count.isdigit() and len(count) <= 9))
        ):
            raise click.BadParameter(
                f"{value[:80]!r}: expected ENDPOINT=SEVERITY[:MAX], e.g. "
                f"'POST /v1/charges*=high:0' (severity: {', '.join(SEVERITIES)}; MAX: a "
                "count of at most 9 digits)",
                ctx,
                param,
            )
        threshold: dict[str, Any] = {"endpoint": pattern.strip(), "fail_on": severity}
        if count:
            threshold["max_regressions"] = int(count)
        thresholds.append(threshold)
    return thresholds


def _rate(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    from harness.gate import parse_rate

    if value is None:
        return None
    try:
        rate = float(parse_rate(value))
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None
    if not 0 <= rate <= 1:
        raise click.BadParameter(f"{value}: a rate between 0 and 1 (or 0% and 100%)", ctx, param)
    return rate


def gate_options(command: F) -> F:
    """The gate's options, shared by `shadow run` and `shadow gate`; `gate_values` reads them."""
    options = [
        click.option(
            "--max-regressions",
            type=click.IntRange(min=0),
            help="Regressions (groups) a candidate may have and still pass (default 0).",
        ),
        click.option(
            "--fail-on",
            type=click.Choice(SEVERITIES),
            help="Lowest severity that counts as a regression (default low: every difference).",
        ),
        click.option(
            "--endpoint",
            "endpoints",
            multiple=True,
            callback=_endpoint_threshold,
            metavar="ENDPOINT=SEVERITY[:MAX]",
            help="Thresholds for the endpoints a glob matches, e.g. "
            "'GET /v1/invoices*=high:2' (repeatable; first match wins).",
        ),
        click.option(
            "--max-error-rate",
            callback=_rate,
            metavar="RATE",
            help="Error outcomes / exchanges above which a candidate cannot be judged "
            "(0.05 or 5%; default 5%).",
        ),
        click.option(
            "--baseline-summary",
            type=click.Path(dir_okay=False),
            help="An earlier run's summary.json: fail only on groups it does not hold.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def gate_values(
    max_regressions: int | None,
    fail_on: str | None,
    endpoints: list[dict[str, Any]],
    max_error_rate: float | None,
    baseline_summary: str | None,
) -> dict[str, Any]:
    """The gate's options as the overrides `harness.run.gate_config` lays over a scenario's
    gate: section (None where not given)."""
    from pathlib import Path

    return {
        "max_regressions": max_regressions,
        "fail_on": fail_on,
        "endpoints": endpoints or None,
        "max_error_rate": max_error_rate,
        "baseline_summary": Path(baseline_summary).absolute() if baseline_summary else None,
    }
