"""The `shadow` command line: parses options, calls one stage, sets the exit code.

Exit codes: 0 success (or gate passed), 1 gate failed, 2 bad input or usage,
3 infrastructure failure (a target could not be started or reached).
"""

from __future__ import annotations

import functools
import json
import sys
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import click

from harness import __version__
from harness.errors import ShadowError

F = TypeVar("F", bound=Callable[..., Any])


def reports_errors(command: F) -> F:
    """Turn a ShadowError into one line on stderr and its exit code: never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ShadowError as exc:
            click.echo(f"shadow: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("shadow: interrupted", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def _show_warning(message: Any, category: Any, *_: Any, **__: Any) -> None:
    click.echo(f"shadow: warning: {message}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="shadow")
def main() -> None:
    """stripe-shadow: record Stripe traffic, replay it against other setups, compare, report.

    \b
    Exit codes: 0 success or gate passed, 1 gate failed,
                2 bad input or usage, 3 infrastructure failure.
    """
    warnings.showwarning = _show_warning


# --- capture ---------------------------------------------------------------------------


def _print_addon_path(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        from harness.record.addon import addon_path

        click.echo(addon_path())
        ctx.exit()


@main.command()
@click.option(
    "--out", "-o", type=click.Path(dir_okay=False), help="Recording to write (.jsonl or .jsonl.gz)."
)
@click.option(
    "--mode",
    type=click.Choice(["reverse", "forward"]),
    default="reverse",
    show_default=True,
    help="reverse: clients point their API base at the proxy. forward: an HTTP(S) proxy "
    "that records only Stripe's hosts and passes everything else through.",
)
@click.option(
    "--upstream",
    default="https://api.stripe.com",
    show_default=True,
    help="Where a reverse proxy sends requests.",
)
@click.option(
    "--listen",
    default="127.0.0.1:8080",
    show_default=True,
    help="HOST:PORT to listen on; port 0 picks a free port.",
)
@click.option(
    "--capture-host",
    "capture_hosts",
    multiple=True,
    help="In forward mode, also record this host (repeatable).",
)
@click.option(
    "--pii",
    type=click.Choice(["keep", "pseudonymize"]),
    default="keep",
    show_default=True,
    help="Keep personal data, or replace emails, names, phones and addresses with stable "
    "fakes. Secrets are always redacted.",
)
@click.option(
    "--confdir",
    type=click.Path(file_okay=False),
    help="mitmproxy's directory, where its CA is created (default ~/.mitmproxy).",
)
@click.option(
    "--upstream-ca",
    type=click.Path(dir_okay=False, exists=True),
    help="Trust only this CA (PEM) for upstream servers, e.g. a local test server.",
)
@click.option(
    "--addon-path",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_addon_path,
    help="Print the recorder addon's file for `mitmdump -s` and exit.",
)
@reports_errors
def record(
    out: str | None,
    mode: str,
    upstream: str,
    listen: str,
    capture_hosts: tuple[str, ...],
    pii: str,
    confdir: str | None,
    upstream_ca: str | None,
) -> None:
    """Record Stripe traffic through mitmproxy into a redacted recording.

    Prints `listening on http://HOST:PORT` once ready; stop with Ctrl-C (or SIGTERM),
    which leaves the recording complete.
    """
    from pathlib import Path

    from harness.errors import InputError
    from harness.record.proxy import RecorderSettings, parse_listen, run_recorder

    if out is None:
        raise InputError("shadow record: --out FILE is required (the recording to write)")
    host, port = parse_listen(listen)
    settings = RecorderSettings(
        out=Path(out),
        mode=mode,
        upstream=upstream,
        listen_host=host,
        listen_port=port,
        capture_hosts=list(capture_hosts),
        pii=pii,
        confdir=Path(confdir).expanduser() if confdir else None,
        upstream_ca=Path(upstream_ca) if upstream_ca else None,
    )

    def announce(bound_host: str, bound_port: int) -> None:
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        click.echo(f"listening on http://{shown}:{bound_port}")
        sys.stdout.flush()

    count = run_recorder(settings, announce)
    click.echo(f"recorded {count} exchanges to {out}", err=True)


@main.command()
@click.argument("recording", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option(
    "--allow-truncated",
    is_flag=True,
    help="Read a recording whose last line was cut off (a killed recorder), with a warning.",
)
@reports_errors
def inspect(recording: str, as_json: bool, allow_truncated: bool) -> None:
    """Summarise a recording: exchanges, time span, API versions, endpoints, errors."""
    from harness.inspection import inspect_exchanges
    from harness.recording import RecordingReader

    with RecordingReader(recording, allow_truncated=allow_truncated) as reader:
        result = inspect_exchanges(reader)
        header = reader.header
    if as_json:
        data = result.to_json()
        data["header"] = header.to_json()
        click.echo(json.dumps(data, indent=2))
        return
    from harness.terminal import print_inspection

    print_inspection(recording, header, result)


# --- compare ---------------------------------------------------------------------------


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option(
    "--rules",
    type=click.Path(dir_okay=False),
    help="A rules file (the compare: section's fields) added to the scenario's rules.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes for diffing when many exchanges differ (default: one per CPU).",
)
@reports_errors
def compare(run_dir: str, rules: str | None, workers: int | None) -> None:
    """Compare each candidate of a run with the baseline; write outcomes.jsonl and summary.json.

    Reads only the run directory, so it can be rerun with other rules without replaying.
    """
    from harness.compare.pipeline import compare_run

    summary = compare_run(run_dir, rules, workers=workers)
    for name, candidate in summary["candidates"].items():
        counts = ", ".join(f"{n} {kind}" for kind, n in candidate["outcomes"].items())
        real = sum(1 for g in candidate["groups"] if g["outcome"] == "difference")
        click.echo(
            f"{name} vs {summary['baseline']}: {candidate['exchanges']} exchanges: {counts}; "
            f"{real} difference group{'s' if real != 1 else ''}"
        )
        for group in candidate["groups"]:
            if group["outcome"] == "difference":
                click.echo(
                    f"  {group['severity']:<8} {group['kind']:<7} {group['endpoint']} "
                    f"{group['path']}  ({group['count']} exchanges)"
                )
    click.echo(f"wrote {run_dir.rstrip('/')}/outcomes.jsonl and summary.json")


# --- report ----------------------------------------------------------------------------


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
    from harness.report.phrasing import verdict, verdict_line

    written = write_report(run_dir, out_dir)
    for name, candidate in written.summary["candidates"].items():
        click.echo(f"{name}: {verdict(candidate)}: {verdict_line(candidate)}")
    size = written.html_bytes / 1024
    click.echo(
        f"wrote {written.directory}/: index.html ({size:,.0f} KiB), summary.json, junit.xml, "
        "summary.md"
    )
