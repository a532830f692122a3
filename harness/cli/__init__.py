"""The `shadow` command line: parses options, calls one stage, sets the exit code.

Exit codes: 0 success (or gate passed), 1 gate failed, 2 bad input or usage,
3 infrastructure failure (a target could not be started or reached).
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

import click

from harness import __version__
from harness.cli import output
from harness.cli.options import (
    GATE_HELP,
    allow_live_option,
    allow_truncated_option,
    concurrency_option,
    gate_options,
    gate_values,
    no_progress_option,
    pii_option,
    recording_out_option,
    rules_option,
    run_dir_out_option,
)
from harness.cli.output import reports_errors
from harness.record.proxy import DEFAULT_UPSTREAM, MODES


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="shadow")
def main() -> None:
    """stripe-shadow: record Stripe traffic, replay it against other setups, compare, report.

    \b
    Exit codes: 0 success or gate passed, 1 gate failed,
                2 bad input or usage, 3 infrastructure failure.
    """
    warnings.showwarning = output.show_warning
    # Libraries' deprecation notices (pyasn1 under mitmproxy, ...) mean nothing to a user.
    warnings.filterwarnings("ignore", category=DeprecationWarning)


# --- capture ---------------------------------------------------------------------------


def _print_addon_path(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        from harness.record.addon import addon_path

        click.echo(addon_path())
        ctx.exit()


@main.command()
@recording_out_option
@click.option(
    "--mode",
    type=click.Choice(MODES),
    default="reverse",
    show_default=True,
    help="reverse: clients point their API base at the proxy. forward: an HTTP(S) proxy "
    "that records only Stripe's hosts and passes everything else through.",
)
@click.option(
    "--upstream",
    default=DEFAULT_UPSTREAM,
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
@pii_option
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

    count = run_recorder(settings, output.announce_listening)
    output.print_recorded(count, out)


@main.command()
@click.argument("recording", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@allow_truncated_option
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
        output.print_json(data)
        return
    output.print_inspection(recording, header, result)


@main.command("upgrade-check")
@click.argument("recording", type=click.Path(dir_okay=False))
@click.option(
    "--to",
    "to_version",
    required=True,
    metavar="VERSION",
    help="The API version to check against, e.g. 2025-03-31.basil (docs/catalogue.md).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@allow_truncated_option
@reports_errors
def upgrade_check(recording: str, to_version: str, as_json: bool, allow_truncated: bool) -> None:
    """List what the recorded traffic will meet on another API version, before any replay:
    parameters it sends that the version removes or renames, fields it was answered that
    the version removes, moves or retypes, endpoints it drops; with exchanges, endpoints
    and an example for each. From the catalogues Stripe's SDKs describe; exits 0 (it
    informs, it does not gate)."""
    from harness.upgrade.check import check_recording

    report = check_recording(recording, to_version, allow_truncated=allow_truncated)
    if as_json:
        output.print_json(report.to_json())
        return
    output.print_upgrade_check(recording, report)


@main.command("import")
@click.argument("paths", metavar="FILE_OR_DIR...", nargs=-1, required=True)
@recording_out_option
@click.option(
    "--format",
    "format_name",
    default="auto",
    show_default=True,
    help="auto recognises each file from its content; else an importer's name (vcrpy, "
    "ruby-vcr, …: docs/import.md) reads every file.",
)
@click.option(
    "--host",
    "hosts",
    multiple=True,
    help="Also keep exchanges with this host (repeatable); api, files and connect.stripe.com "
    "are always kept, every other host is dropped and counted.",
)
@click.option(
    "--placeholder",
    "placeholders",
    multiple=True,
    metavar="'NAME=VALUE' | @FILE",
    help="Put VALUE back wherever a cassette's filter wrote NAME, before anything is parsed, "
    "e.g. '<VENDOR_ID>=1' (repeatable; @FILE has one NAME=VALUE a line). --scan lists them.",
)
@click.option(
    "--scan",
    is_flag=True,
    help="List the placeholders the files hold, with examples; write nothing.",
)
@click.option(
    "--strict", is_flag=True, help="End the import at the first problem, writing nothing."
)
@pii_option
@reports_errors
def import_command(
    paths: tuple[str, ...],
    out: str | None,
    format_name: str,
    hosts: tuple[str, ...],
    placeholders: tuple[str, ...],
    scan: bool,
    strict: bool,
    pii: str,
) -> None:
    """Import recordings a customer already has into one redacted recording: VCR cassettes
    (VCR.py, Ruby VCR, ExVCR, go-vcr), HAR files and mitmproxy flow files, recognised
    from their content; directories are walked.

    Exchanges are written in recorded order, placeholders undone, secrets redacted, and
    only Stripe's hosts kept. A file that cannot be read is refused with one line and the
    rest goes on; the exit code is then 2. Prints the import's figures, then the plan's.
    """
    from harness.errors import InputError
    from harness.record.importers import (
        ImportOptions,
        format_named,
        import_paths,
        placeholders_from_options,
        scan_paths,
    )
    from harness.record.importers.summary import scan_lines, summary_lines
    from harness.record.redact import RedactionPolicy

    if format_name != "auto":
        format_named(format_name)
    options = ImportOptions(
        format=format_name,
        hosts=hosts,
        placeholders=placeholders_from_options(placeholders),
        strict=strict,
        policy=RedactionPolicy(pii=pii),
    )
    if scan:
        result = scan_paths(paths, options)
        lines = scan_lines(result)
    else:
        if out is None:
            raise InputError("shadow import: --out FILE is required (the recording to write)")
        result = import_paths(paths, out, options)
        lines = summary_lines(result)
    output.print_import(result, lines)
    if not scan and out is not None:
        from harness.inspection import inspect_exchanges
        from harness.recording import RecordingReader

        with RecordingReader(out) as reader:
            versions = inspect_exchanges(reader).api_versions
        output.print_imported(out, versions, output.plan_figures(out))
    sys.exit(result.exit_code)


# --- replay ----------------------------------------------------------------------------


@main.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@reports_errors
def validate(scenario: str) -> None:
    """Check a scenario file: keys, targets, roles, paths and id map files.

    Exit code 0 when valid; 2 with one line per mistake (`FILE: targets[1].url: not a
    URL`) otherwise.
    """
    from harness.replay.idmap import read_id_map_file
    from harness.scenario import load_scenario

    loaded = load_scenario(scenario)
    for target in loaded.targets:
        if target.id_map is not None:
            read_id_map_file(target.id_map)
    output.print_valid(scenario, loaded)


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

    from harness.replay.idmap import read_id_map_file
    from harness.scenario import load_scenario

    recording = Path(source)
    known: set[str] = set()
    if recording.suffix.lower() in (".yaml", ".yml"):
        scenario = load_scenario(recording)
        recording = scenario.recording
        for target in scenario.targets:
            if target.id_map is not None:
                known.update(read_id_map_file(target.id_map))
    data = output.plan_figures(recording, known, details=as_json)
    if as_json:
        output.print_json(data)
        return
    output.print_plan(recording, data)


@main.command()
@click.argument("scenario", required=False, type=click.Path(dir_okay=False))
@run_dir_out_option
@concurrency_option
@click.option(
    "--resume",
    "resume_dir",
    type=click.Path(file_okay=False),
    help="Finish an interrupted run in RUN_DIR.",
)
@allow_live_option
@no_progress_option
@reports_errors
def replay(
    scenario: str | None,
    out: str | None,
    concurrency: int | None,
    resume_dir: str | None,
    allow_live: bool,
    no_progress: bool,
) -> None:
    """Replay a scenario's recording against all its targets at once; prints the run
    directory. With --resume RUN_DIR, finish a run that was interrupted."""
    from pathlib import Path

    from harness.errors import InputError
    from harness.replay.progress import progress_view
    from harness.replay.session import resume_replay, start_replay
    from harness.run import check_reachable
    from harness.scenario import load_scenario

    progress = None if no_progress else progress_view()
    if (scenario is None) == (resume_dir is None):
        raise InputError("give a SCENARIO to start a replay, or --resume RUN_DIR to finish one")
    if resume_dir is not None:
        if out is not None:
            raise InputError("--out: a resumed run stays in its own directory")
        result = resume_replay(
            Path(resume_dir), concurrency=concurrency, allow_live=allow_live, progress=progress
        )
    else:
        assert scenario is not None
        result = start_replay(
            load_scenario(scenario),
            out=Path(out) if out else None,
            concurrency=concurrency,
            allow_live=allow_live,
            progress=progress,
        )
    output.print_replay(result)
    check_reachable(result)


# --- compare ---------------------------------------------------------------------------


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@rules_option
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
    output.print_comparison(run_dir, summary)


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

    written = write_report(run_dir, out_dir)
    output.print_report_written(written)


# --- run -------------------------------------------------------------------------------


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
    no_progress: bool,
    **gate: Any,
) -> None:
    """Replay SCENARIO, compare, write the report and apply the gate, in one go.

    Prints one row per candidate (exchanges, matching, exchanges with regressions by
    severity, expected, noise, errors), the gate's verdict with its reasons, and where
    the report is. See the gate and the exit codes below.
    """
    from pathlib import Path

    from harness.replay.progress import progress_view
    from harness.run import run_scenario
    from harness.scenario import load_scenario

    result = run_scenario(
        load_scenario(scenario),
        out=Path(out) if out else None,
        report_dir=Path(report_dir) if report_dir else None,
        rules=Path(rules) if rules else None,
        gate_options=gate_values(**gate),
        concurrency=concurrency,
        allow_live=allow_live,
        progress=None if no_progress else progress_view(),
    )
    output.print_run(result)
    sys.exit(result.verdict.exit_code)


@main.command(epilog=GATE_HELP)
@click.argument("summary_json", metavar="SUMMARY_JSON", type=click.Path(dir_okay=False))
@gate_options
@reports_errors
def gate(summary_json: str, **options: Any) -> None:
    """Apply the gate to a compared run's summary.json (the run's, or a report's copy).

    The gate: section of the scenario the run came from applies, with the options given
    here over it.
    """
    from harness.gate import apply_gate
    from harness.report.write import read_summary_file
    from harness.run import baseline_summary, gate_config, scenario_gate

    summary = read_summary_file(summary_json)
    config = gate_config(scenario_gate(summary), gate_values(**options))
    verdict = apply_gate(summary, config, baseline_summary(config))
    output.print_verdict(verdict, config)
    sys.exit(verdict.exit_code)


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("group_id")
@click.option(
    "--reason",
    required=True,
    help="Why this change is expected; the report shows it beside the group.",
)
@reports_errors
def accept(run_dir: str, group_id: str, reason: str) -> None:
    """Accept a known change: write an expect rule for GROUP_ID (from RUN_DIR's
    summary.json) into the scenario's compare: section, or into the rules file it names.

    The next compare (`shadow compare RUN_DIR` or the next run) shows the group as
    expected, with the reason. The rule matches the group's endpoint, path and kind for
    every candidate.
    """
    from harness.accept import accept_group

    accepted = accept_group(run_dir, group_id, reason)
    output.print_accepted(run_dir, group_id, accepted)


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
    scenarios/charges-to-payment-intents.yaml. Prints each run's table, verdict and
    report, and a paragraph that reads the result. Exits 0 when the demo ran, whatever
    the gates say (the upgrade is meant to fail its gate); 3 if a target could not start.
    """
    from pathlib import Path

    from harness.demo import reading, run_demo
    from harness.replay.progress import progress_view

    parts = run_demo(Path(out), None if no_progress else progress_view())
    text = reading([(p.result.summary, p.result.verdict, p.result.gate.fail_on) for p in parts])
    output.print_demo(parts, text)
