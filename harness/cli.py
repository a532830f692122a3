"""The `shadow` command line: parses options, calls one stage, sets the exit code.

Exit codes: 0 success (or gate passed), 1 gate failed, 2 bad input or usage,
3 infrastructure failure (a target could not be started or reached).
"""

from __future__ import annotations

import functools
import json
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import click

from harness import __version__
from harness.errors import ShadowError, ShadowWarning

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


_default_showwarning = warnings.showwarning


def _show_warning(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
    """The harness's own warnings as one line; anything else as Python would show it."""
    if isinstance(category, type) and issubclass(category, ShadowWarning):
        click.echo(f"shadow: warning: {message}", err=True)
    else:
        _default_showwarning(message, category, *args, **kwargs)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="shadow")
def main() -> None:
    """stripe-shadow: record Stripe traffic, replay it against other setups, compare, report.

    \b
    Exit codes: 0 success or gate passed, 1 gate failed,
                2 bad input or usage, 3 infrastructure failure.
    """
    warnings.showwarning = _show_warning
    # Libraries' deprecation notices (pyasn1 under mitmproxy, ...) mean nothing to a user.
    warnings.filterwarnings("ignore", category=DeprecationWarning)


# --- capture ---------------------------------------------------------------------------


pii_option = click.option(
    "--pii",
    type=click.Choice(["keep", "pseudonymize"]),
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

    def announce(bound_host: str, bound_port: int) -> None:
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        click.echo(f"listening on http://{shown}:{bound_port}")
        sys.stdout.flush()

    count = run_recorder(settings, announce)
    click.echo(f"recorded {count} exchanges to {out}", err=True)


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
        click.echo(json.dumps(data, indent=2))
        return
    from harness.terminal import print_inspection

    print_inspection(recording, header, result)


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
        click.echo(json.dumps(report.to_json(), indent=2))
        return
    from harness.terminal import print_upgrade_check

    print_upgrade_check(recording, report)


@main.command("map")
@click.argument("recordings", metavar="RECORDING...", nargs=-1)
@click.option(
    "--out",
    "-o",
    type=click.Path(file_okay=False),
    help="Directory for map.json and index.html (default: maps/<first recording's name>/, "
    "or the map's own directory with --update).",
)
@click.option(
    "--since",
    metavar="WHEN",
    help="Only the exchanges that started at or after WHEN: a date (2026-11-20), a time "
    "(2026-11-20T12:00Z) or a duration before now (7d, 12h, 30m).",
)
@click.option(
    "--update",
    "update",
    type=click.Path(dir_okay=False),
    metavar="MAP_JSON",
    help="Add the recordings to this map.json (written by shadow map) without reading the "
    "recordings it holds again.",
)
@click.option("--json", "as_json", is_flag=True, help="Print map.json's content instead.")
@allow_truncated_option
@reports_errors
def map_command(
    recordings: tuple[str, ...],
    out: str | None,
    since: str | None,
    update: str | None,
    as_json: bool,
    allow_truncated: bool,
) -> None:
    """Map what an integration does with Stripe, from its recorded traffic, and where it
    departs from what Stripe documents: endpoints, objects, flows, API versions, Connect
    accounts, idempotency, expand and pagination, clients and rates; findings with their
    evidence and Stripe's page; and what the upgrade check says of the newest API version.

    Writes map.json (docs/map.md) and a self-contained index.html. Maps merge: the map of
    several recordings equals the map of their concatenation, and --update adds new ones
    to a map. Exits 0 (it informs, it does not gate), 2 on bad input.
    """
    from datetime import UTC, datetime
    from pathlib import Path

    from harness.errors import InputError
    from harness.map.build import (
        default_settings,
        map_document,
        map_recordings,
        parse_since,
        read_map,
        write_map,
    )

    if not recordings:
        raise InputError("shadow map: give at least one RECORDING (a .jsonl or .jsonl.gz)")
    since_time = parse_since(since, datetime.now(UTC)) if since is not None else None
    if update is not None:
        found = read_map(update)
        if since_time is not None and since_time != found.settings.since:
            raise InputError(
                f"--since: {update} was built with since={found.settings.since}; an update "
                "keeps the map's own (leave --since out)"
            )
        found.merge(map_recordings(recordings, found.settings, allow_truncated=allow_truncated))
        directory = Path(out) if out is not None else Path(update).parent
    else:
        found = map_recordings(
            recordings, default_settings(since_time), allow_truncated=allow_truncated
        )
        name = Path(recordings[0]).name.split(".")[0] or "map"
        directory = Path(out) if out is not None else Path("maps") / name
    written = write_map(found, directory)
    if as_json:
        click.echo(json.dumps(map_document(found, written.findings), indent=1))
        return
    from harness.terminal import print_map

    print_map(found, written)


@main.command("import")
@click.argument("paths", metavar="FILE_OR_DIR...", nargs=-1, required=True)
@click.option(
    "--out", "-o", type=click.Path(dir_okay=False), help="Recording to write (.jsonl or .jsonl.gz)."
)
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
    for problem in result.problems:
        click.echo(f"shadow: refused: {problem}", err=True)
    for line in lines:
        click.echo(line)
    if not scan and out is not None:
        from harness.inspection import inspect_exchanges
        from harness.recording import RecordingReader

        with RecordingReader(out) as reader:
            versions = inspect_exchanges(reader).api_versions
        shown = ", ".join(f"{v} ({n})" for v, n in versions.most_common(8)) or "none sent"
        click.echo(f"API versions: {shown}")
        _print_plan(out, _plan_figures(out))
        click.echo(f"wrote {out}")
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
    targets = ", ".join(f"{t.name} ({t.role})" for t in loaded.targets)
    click.echo(f"{scenario}: valid: {loaded.name}, baseline {loaded.baseline}; targets {targets}")


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
    data = _plan_figures(recording, known, details=as_json)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    _print_plan(recording, data)


def _plan_figures(
    recording: str | os.PathLike[str], known: set[str] | None = None, *, details: bool = False
) -> dict[str, Any]:
    """What `shadow plan` says of a recording, the longest chain of waits included."""
    from harness.replay.gates import GateLayout
    from harness.replay.plan import plan_recording

    result = plan_recording(recording, known or ())
    data = result.to_json(details=details)
    steps = GateLayout(result).critical_path()
    data["critical_path"] = steps
    data["ordered_parallelism"] = round(result.exchanges / steps, 1) if steps else 0.0
    return data


def _print_plan(recording: object, data: dict[str, Any]) -> None:
    """The figures of `shadow plan`, also printed after `shadow import`."""
    largest = data["largest_journey"]
    click.echo(f"{recording}: {data['exchanges']} exchanges in {data['journeys']} journeys")
    click.echo(
        f"largest journey: {data['largest']} exchanges (journey {largest['journey']}, "
        f"from seq {largest['first_seq']})"
    )
    click.echo(
        f"parallelism available: {data['parallelism']}x by journeys, "
        f"{data['ordered_parallelism']}x with the orderings between them "
        f"(longest chain: {data['critical_path']} exchanges)"
    )
    click.echo(
        f"barriers: {data['barriers']} id-less reads ({data['pages']} of them pages of a "
        f"longer list); {data['ordered_by_listed_ids']} requests wait for the list that "
        f"named an id they use; catalogue ids ordered, not joined: {data['catalogue_ids']}"
    )
    unproduced = data["unproduced"]
    if unproduced["count"]:
        click.echo(
            f"ids used but never created or listed in the recording: {unproduced['count']} "
            f"(e.g. {', '.join(unproduced['examples'][:3])}); a replay skips the requests "
            "that use them unless on_unresolved: send or an id_map provides them"
        )


@main.command()
@click.argument("scenario", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Run directory to create (default: runs/<scenario>-<time>).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 1024),
    help="Requests in flight per target (replaces every concurrency in the scenario).",
)
@click.option(
    "--resume",
    "resume_dir",
    type=click.Path(file_okay=False),
    help="Finish an interrupted run in RUN_DIR.",
)
@click.option(
    "--allow-live",
    is_flag=True,
    help="Allow live-mode keys (the scenario must say allow_live: true too).",
)
@click.option("--no-progress", is_flag=True, help="Print no progress while replaying.")
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
    for c in result.counters:
        click.echo(
            f"{c.name}: {c.done} exchanges, {c.answered} answered, {c.errors} errors, "
            f"{c.skipped} skipped, {c.retries} retries, "
            f"{c.idempotent_replayed} idempotent replays, {c.times_shifted} times moved",
            err=True,
        )
    if result.time_shift:
        from harness.stripe.times import describe_distance

        click.echo(
            f"absolute times in requests moved by {describe_distance(result.time_shift)} "
            "(the replay's start less the recording's; `time: keep` sends them as recorded)",
            err=True,
        )
    click.echo(str(result.run_dir))
    check_reachable(result)


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
                count = group["count"]
                click.echo(
                    f"  {group['severity']:<8} {group['kind']:<7} {group['endpoint']} "
                    f"{group['path']}  ({count} exchange{'s' if count != 1 else ''})"
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


# --- run -------------------------------------------------------------------------------

_GATE_HELP = """\b
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
    from harness.model import SEVERITIES

    thresholds = []
    for value in values:
        pattern, equals, limits = value.rpartition("=")
        severity, _, count = limits.partition(":")
        if (
            not equals
            or not pattern.strip()
            or severity not in SEVERITIES
            or (count and not count.isdigit())
        ):
            raise click.BadParameter(
                f"{value!r}: expected ENDPOINT=SEVERITY[:MAX], e.g. 'POST /v1/charges*=high:0' "
                f"(severity: {', '.join(SEVERITIES)})",
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
    """The gate's options, shared by `shadow run` and `shadow gate`."""
    options = [
        click.option(
            "--max-regressions",
            type=click.IntRange(min=0),
            help="Regressions (groups) a candidate may have and still pass (default 0).",
        ),
        click.option(
            "--fail-on",
            type=click.Choice(["critical", "high", "medium", "low"]),
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


def _gate_values(
    max_regressions: int | None,
    fail_on: str | None,
    endpoints: list[dict[str, Any]],
    max_error_rate: float | None,
    baseline_summary: str | None,
) -> dict[str, Any]:
    from pathlib import Path

    return {
        "max_regressions": max_regressions,
        "fail_on": fail_on,
        "endpoints": endpoints or None,
        "max_error_rate": max_error_rate,
        "baseline_summary": Path(baseline_summary).absolute() if baseline_summary else None,
    }


def _print_verdict(verdict: Any, config: Any) -> None:
    from harness.gate import verdict_lines

    for line in verdict_lines(verdict, config):
        click.echo(line)


@main.command(epilog=_GATE_HELP)
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Run directory to create (default: runs/<scenario>-<time>).",
)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False),
    help="Directory for the report (default: reports/<run name>/).",
)
@click.option(
    "--rules",
    type=click.Path(dir_okay=False),
    help="A rules file (the compare: section's fields) added to the scenario's rules.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 1024),
    help="Requests in flight per target (replaces every concurrency in the scenario).",
)
@click.option(
    "--allow-live",
    is_flag=True,
    help="Allow live-mode keys (the scenario must say allow_live: true too).",
)
@click.option("--no-progress", is_flag=True, help="Print no progress while replaying.")
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
    from harness.run import run_scenario, summary_table
    from harness.scenario import load_scenario

    result = run_scenario(
        load_scenario(scenario),
        out=Path(out) if out else None,
        report_dir=Path(report_dir) if report_dir else None,
        rules=Path(rules) if rules else None,
        gate_options=_gate_values(**gate),
        concurrency=concurrency,
        allow_live=allow_live,
        progress=None if no_progress else progress_view(),
    )
    for line in summary_table(result.summary, result.verdict):
        click.echo(line)
    _print_verdict(result.verdict, result.gate)
    click.echo(f"run: {result.run_dir}")
    click.echo(f"report: {result.report.directory / 'index.html'}")
    sys.exit(result.verdict.exit_code)


@main.command(epilog=_GATE_HELP)
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
    config = gate_config(scenario_gate(summary), _gate_values(**options))
    verdict = apply_gate(summary, config, baseline_summary(config))
    _print_verdict(verdict, config)
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
    rule = accepted.rule
    click.echo(
        f"accepted {group_id}: {rule['kind']} {rule['endpoint']} {rule['path']} "
        f"(seen in {', '.join(accepted.candidates)})"
    )
    if accepted.added:
        click.echo(f"wrote an expect rule to {accepted.file}")
    else:
        click.echo(f"{accepted.file} already holds an expect rule for this group")
    click.echo(f"the next compare shows it as expected: shadow compare {run_dir}")


@main.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="runs/demo",
    show_default=True,
    help="Directory for the demo's scenario, run and report (a previous demo's is replaced).",
)
@click.option("--no-progress", is_flag=True, help="Print no progress while replaying.")
@reports_errors
def demo(out: str, no_progress: bool) -> None:
    """Show the whole job on the shipped demo recording: no Stripe account, no network.

    Two validation runs against local targets (replay, compare, report, gate): the demo
    recording against a baseline localstripe, a control candidate set up the same way and
    a simulated API upgrade; then the Charges → PaymentIntents rehearsal of
    scenarios/charges-to-payment-intents.yaml; then the integration map of the demo
    recording. Prints each run's table, verdict and report, the map's findings, and a
    paragraph that reads the result. Exits 0 when the demo ran, whatever the gates say
    (the upgrade is meant to fail its gate); 3 if a target could not start.
    """
    import textwrap
    from pathlib import Path

    from harness.demo import map_demo, reading, run_demo
    from harness.replay.progress import progress_view
    from harness.run import summary_table

    parts = run_demo(Path(out), None if no_progress else progress_view())
    for part in parts:
        result = part.result
        click.echo(f"== {part.title}: {part.scenario}")
        for line in summary_table(result.summary, result.verdict):
            click.echo(line)
        _print_verdict(result.verdict, result.gate)
        click.echo(f"run: {result.run_dir}")
        click.echo(f"report: {result.report.directory / 'index.html'}")
        click.echo("")
    mapped = map_demo(Path(out))
    click.echo("== The integration map of the demo recording")
    for item in mapped.findings:
        click.echo(f"{item.severity:<8} {item.title}: {item.subject}")
    click.echo(f"map: {mapped.directory / 'index.html'}")
    click.echo("")
    runs = [(p.result.summary, p.result.verdict, str(p.result.gate.fail_on)) for p in parts]
    click.echo(textwrap.fill(reading(runs, mapped), width=100))
