"""What the commands print: one-line errors and warnings, tables, the plan's figures.

Every line a command shows a user is worded here, so the commands only parse, call a
stage and set the exit code. Rich tables on a terminal, plain text otherwise. Modules a
function needs are imported inside it, which keeps `shadow --help` fast.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

from harness.errors import ShadowError, ShadowWarning

if TYPE_CHECKING:
    from rich.console import Console

    from harness.accept import Accepted
    from harness.capture.importers import ImportResult
    from harness.capture.webhooks import WebhookCapture
    from harness.demo.run import DemoPart
    from harness.formats.recording import Header
    from harness.gate import GateConfig, GateVerdict
    from harness.inspection import Inspection
    from harness.map.build import WrittenMap
    from harness.map.model import IntegrationMap
    from harness.replay.session import ReplayResult
    from harness.report.write import WrittenReport
    from harness.run import RunResult
    from harness.scenario import Scenario
    from harness.upgrade.check import UpgradeCheck

F = TypeVar("F", bound=Callable[..., Any])


# --- errors and warnings ---------------------------------------------------------------


def reports_errors(command: F) -> F:
    """Turn a ShadowError into one line on stderr and its exit code: never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ShadowError as exc:
            click.echo(f"shadow: error: {_redacted(str(exc))}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("shadow: interrupted", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def _redacted(line: str) -> str:
    """A line quoting what a user gave (a field of a file, an option) with any secret in it
    redacted: what a command prints ends up in CI's logs."""
    from harness.capture.redact import redact_text

    return redact_text(line)


_default_showwarning = warnings.showwarning


def show_warning(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
    """The harness's own warnings as one line; anything else as Python would show it."""
    if isinstance(category, type) and issubclass(category, ShadowWarning):
        click.echo(f"shadow: warning: {_redacted(str(message))}", err=True)
    else:
        _default_showwarning(message, category, *args, **kwargs)


def print_json(data: Any) -> None:
    """The `--json` output of a command."""
    click.echo(json.dumps(data, indent=2))


# --- capture ---------------------------------------------------------------------------


def announce_listening(host: str, port: int) -> None:
    """The line `shadow record` prints once its proxy accepts connections; scripts wait
    for it, so it is flushed at once."""
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"listening on http://{shown}:{port}")
    sys.stdout.flush()


def announce_webhooks(capture: WebhookCapture) -> None:
    """`webhooks listening on http://HOST:PORT` once the webhook capture listens; its
    counts once it has stopped."""
    if not capture.listening:
        refused = capture.counts.refused
        why = f" ({'; '.join(capture.counts.refusals)})" if refused else ""
        click.echo(
            f"webhooks: {capture.counts.recorded} deliveries recorded, {refused} refused{why}",
            err=True,
        )
        return
    click.echo(f"webhooks listening on http://{capture.host}:{capture.port}")
    sys.stdout.flush()


def print_recorded(count: int, out: str) -> None:
    click.echo(f"recorded {count} exchanges to {out}", err=True)


def _console() -> Console:
    from rich.console import Console

    # Wide enough for endpoint templates when output is piped into a file or a CI log.
    return Console(highlight=False, soft_wrap=False, width=None if Console().is_terminal else 120)


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def print_inspection(path: str, header: Header, result: Inspection) -> None:
    """`shadow inspect`: the header, the figures, and one row per endpoint."""
    from rich.table import Table

    out = _console()
    redaction = header.redaction
    redacted = "applied" if redaction.get("applied") else "NOT applied"
    out.print(
        f"[bold]{path}[/bold]  (format v{header.version}, {header.tool}, created {header.created})"
    )
    out.print(
        f"redaction: {redacted}"
        + (f" ({', '.join(redaction.get('rules', []))})" if redaction.get("rules") else ""),
        soft_wrap=True,  # one line a script can grep, however narrow the terminal
    )
    out.print(
        f"exchanges: {result.exchanges}   errors: {result.errors}   "
        f"span: {result.span_seconds:.1f} s "
        f"({_when(result.first_started)} → {_when(result.last_finished)})"
    )
    versions = ", ".join(f"{v} ({n})" for v, n in result.api_versions.most_common()) or "none sent"
    out.print(f"API versions: {versions}")
    table = Table(title=f"{len(result.endpoints)} endpoints", title_justify="left")
    table.add_column("endpoint")
    table.add_column("count", justify="right")
    table.add_column("statuses")
    for name, stats in sorted(result.endpoints.items(), key=lambda item: (-item[1].count, item[0])):
        statuses = "  ".join(f"{status} x{n}" for status, n in sorted(stats.statuses.items()))
        table.add_row(name, str(stats.count), statuses)
    out.print(table)


def print_upgrade_check(path: str, report: UpgradeCheck) -> None:
    """`shadow upgrade-check`: one row per parameter, field or endpoint the traffic meets."""
    from rich.table import Table

    out = _console()
    versions = ", ".join(f"{v} ({n})" for v, n in sorted(report.versions.items())) or "none"
    out.print(
        f"[bold]{path}[/bold] on {report.to_version} (catalogue {report.catalogue_version}): "
        f"{report.exchanges} exchanges, answered under {versions}",
        soft_wrap=True,
    )
    if report.uncovered:
        out.print(
            f"{report.uncovered} exchanges were answered under a version no catalogue covers; "
            "they are not checked"
        )
    findings = report.sorted_findings()
    if not findings:
        out.print("nothing the recorded traffic sends or reads changes on this version")
        return
    table = Table(title=f"{len(findings)} changes the traffic meets", title_justify="left")
    for column in ("kind", "what", "change", "exchanges", "endpoints", "example"):
        table.add_column(column, justify="right" if column == "exchanges" else "left")
    for finding in findings:
        endpoints = sorted(finding.endpoints)
        shown = ", ".join(endpoints[:3]) + (f" +{len(endpoints) - 3}" if len(endpoints) > 3 else "")
        example = finding.example or {}
        table.add_row(
            finding.kind,
            finding.change.subject,
            f"{finding.change.describe()}\n{finding.change.url}",
            str(finding.exchanges),
            shown,
            f"seq {example.get('seq')}: {example.get('where')}",
        )
    out.print(table)


def print_scan(result: ImportResult) -> None:
    """`shadow import --scan`: the files refused (stderr), then the placeholders found."""
    from harness.capture.importers.summary import scan_lines

    _print_refused(result)
    for line in scan_lines(result):
        click.echo(line)


def print_import(result: ImportResult, out: str) -> None:
    """`shadow import`: the files refused (stderr), the import's figures, then the API
    versions and the plan of the recording it wrote."""
    from harness.capture.importers.summary import summary_lines
    from harness.formats.recording import RecordingReader
    from harness.inspection import inspect_exchanges

    _print_refused(result)
    for line in summary_lines(result):
        click.echo(line)
    with RecordingReader(out) as reader:
        versions = inspect_exchanges(reader).api_versions
    shown = ", ".join(f"{v} ({n})" for v, n in versions.most_common(8)) or "none sent"
    click.echo(f"API versions: {shown}")
    print_plan(out, plan_figures(out))
    click.echo(f"wrote {out}")


def _print_refused(result: ImportResult) -> None:
    for problem in result.problems:
        click.echo(f"shadow: refused: {problem}", err=True)


# --- replay ----------------------------------------------------------------------------


def print_valid(path: str, scenario: Scenario) -> None:
    targets = ", ".join(f"{t.name} ({t.role})" for t in scenario.targets)
    click.echo(f"{path}: valid: {scenario.name}, baseline {scenario.baseline}; targets {targets}")


def plan_figures(
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


def print_plan(recording: object, data: dict[str, Any]) -> None:
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
            "that use them unless on_unresolved: send, an id_map provides them, or the "
            "target has them as recorded (accounts: same for acct_ ids, pass_through)"
        )


def print_replay(result: ReplayResult) -> None:
    """Each target's counters and the time shift (stderr), then the run directory."""
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


# --- compare and report ----------------------------------------------------------------


def print_comparison(run_dir: str, summary: dict[str, Any]) -> None:
    """Per candidate: its outcomes, then one line per group of real differences."""
    from harness.formats.summary import seen_in

    for name, candidate in summary["candidates"].items():
        counts = ", ".join(f"{n} {kind}" for kind, n in candidate["outcomes"].items())
        real = sum(1 for g in candidate["groups"] if g["outcome"] == "difference")
        click.echo(
            f"{name} vs {summary['baseline']}: {candidate['exchanges']} exchanges: {counts}; "
            f"{real} difference group{'s' if real != 1 else ''}"
        )
        for group in candidate["groups"]:
            if group["outcome"] == "difference":
                click.echo(f"  {group['severity']:<8} {group['cause']}  ({seen_in(group)})")
    events = summary.get("events") or {}
    for name, entry in (events.get("candidates") or {}).items():
        counts = ", ".join(f"{n} {kind}" for kind, n in entry["outcomes"].items())
        causes = [c for c in entry["causes"] if c["outcome"] == "difference"]
        click.echo(
            f"{name} vs {events['baseline']}: {entry['events']} events: {counts}; "
            f"{len(causes)} event cause{'s' if len(causes) != 1 else ''}"
        )
        for cause in causes:
            click.echo(
                f"  {cause['severity']:<8} {cause['kind']:<10} {cause['type']} {cause['path']}"
                f"  ({cause['count']} event{'s' if cause['count'] != 1 else ''})"
            )
    click.echo(f"wrote {run_dir.rstrip('/')}/outcomes.jsonl and summary.json")


def print_report_written(written: WrittenReport) -> None:
    """Each candidate's verdict in a sentence, then the files written."""
    from harness.report.phrasing import verdict, verdict_line

    for name, candidate in written.summary["candidates"].items():
        click.echo(f"{name}: {verdict(candidate)}: {verdict_line(candidate)}")
    size = written.html_bytes / 1024
    click.echo(
        f"wrote {written.directory}/: index.html ({size:,.0f} KiB), summary.json, junit.xml, "
        "summary.md"
    )


def print_verdict(verdict: GateVerdict, config: GateConfig) -> None:
    from harness.gate import verdict_lines

    for line in verdict_lines(verdict, config):
        click.echo(line)


def print_run(result: RunResult) -> None:
    """A run's table of candidates, the gate's verdict, and where the run and report are."""
    from harness.report.endstates import end_states, state_line
    from harness.run import summary_table

    for line in summary_table(result.summary, result.verdict):
        click.echo(line)
    states = end_states(result.summary)
    for name, found in (states or {}).get("candidates", {}).items():
        click.echo(f"end states: {state_line(name, found)}")
    print_verdict(result.verdict, result.gate)
    click.echo(f"run: {result.run_dir}")
    click.echo(f"report: {result.report.directory / 'index.html'}")


def print_accepted(run_dir: str, group_id: str, accepted: Accepted) -> None:
    click.echo(
        f"accepted {group_id}: {accepted.group['cause']} (seen in {', '.join(accepted.candidates)})"
    )
    if accepted.added:
        click.echo(f"wrote an expect rule to {accepted.file}")
    else:
        click.echo(f"{accepted.file} already holds an expect rule for this group")
    click.echo(f"the next compare shows it as expected: shadow compare {run_dir}")


def print_demo(
    parts: list[DemoPart],
    mapped: WrittenMap,
    reading: str,
    reconciled: dict[str, Any] | None = None,
    out: str = "",
) -> None:
    """Each demo run as `shadow run` prints it, under its title, the map's findings, the
    reconciliation, then the reading."""
    import textwrap

    for part in parts:
        click.echo(f"== {part.title}: {part.scenario}")
        print_run(part.result)
        click.echo("")
    click.echo("== The integration map of the demo recording")
    for item in mapped.findings:
        click.echo(f"{item.severity:<8} {item.title}: {item.subject}")
    click.echo(f"map: {mapped.directory / 'index.html'}")
    click.echo("")
    if reconciled is not None:
        click.echo("== The demo app's own records against Stripe")
        print_reconciliation(reconciled, os.path.join(out, "reconcile"))
        click.echo("")
    # Words are never split (a path, `rate-limit`): a reader, or a script, finds them whole.
    click.echo(textwrap.fill(reading, width=100, break_on_hyphens=False, break_long_words=False))


def print_map(found: IntegrationMap, written: WrittenMap) -> None:
    """`shadow map`: what was read, the findings most serious first, where the files went.
    Recorded content is printed as text, never as rich markup."""
    from rich.table import Table
    from rich.text import Text

    out = _console()
    recordings = len(found.sources)
    out.print(
        Text(
            f"{found.exchanges:,} exchanges from {recordings} recording"
            f"{'' if recordings == 1 else 's'} ({_when(found.span.first)} → "
            f"{_when(found.span.last)}): {len(found.endpoints)} endpoints, "
            f"{len(found.flow_shapes())} shapes of flow"
        ),
        soft_wrap=True,
    )
    findings = written.findings
    if findings:
        table = Table(title=f"{len(findings)} findings", title_justify="left")
        for column in ("severity", "finding", "what", "exchanges"):
            table.add_column(column, justify="right" if column == "exchanges" else "left")
        for item in findings:
            table.add_row(
                Text(item.severity),
                Text(f"{item.title}: {item.subject}"),
                Text(f"{item.detail}\n{item.doc}"),
                Text(f"{item.exchanges:,}"),
            )
        out.print(table)
    else:
        out.print("no findings: the traffic follows every practice the map checks")
    size = written.html_bytes / 1024
    out.print(
        Text(f"wrote {written.directory}/: map.json, index.html ({size:,.0f} KiB)"),
        soft_wrap=True,
    )


def print_reconciliation(document: dict[str, Any], out: str) -> None:
    """`shadow reconcile --source`: a row per object type, the causes, where it went.
    Values from the rows are printed as text, never as rich markup."""
    from rich.table import Table
    from rich.text import Text

    console = _console()
    table = Table(title="reconciliation", title_justify="left")
    outcomes = list(document["totals"])
    for column in ("object", "rows", "objects", *outcomes):
        table.add_column(column, justify="left" if column == "object" else "right")
    for kind, found in document["objects"].items():
        table.add_row(
            Text(kind),
            f"{found['rows']:,}",
            f"{found['objects']:,}",
            *(f"{found['outcomes'][o]:,}" for o in outcomes),
        )
    console.print(table)
    for cause in document["causes"]:
        sample = cause["samples"][0] if cause["samples"] else {}
        example = (
            f" e.g. {sample.get('stripe_id')}: source {json.dumps(sample.get('source'))}, "
            f"Stripe {json.dumps(sample.get('stripe'))}"
            if sample
            else ""
        )
        console.print(
            Text(
                f"field differs: {cause['object']}.{cause['field']} ({cause['kind']}) "
                f"x{cause['count']:,}{example}"
            ),
            soft_wrap=True,
        )
    for kind, found in document["objects"].items():
        for group in found["only_in_source"]:
            ids = ", ".join(str(s.get("stripe_id") or s.get("key")) for s in group["samples"])
            console.print(
                Text(f"only in source: {kind} x{group['count']:,} ({group['why']}): {ids}"),
                soft_wrap=True,
            )
        stripe_only = found["only_in_stripe"]
        if stripe_only["count"]:
            ids = ", ".join(s["stripe_id"] for s in stripe_only["samples"])
            console.print(
                Text(f"only in Stripe: {kind} x{stripe_only['count']:,}: {ids}"), soft_wrap=True
            )
    console.print(Text(f"wrote {out}/: reconcile.json, index.html"), soft_wrap=True)


def print_end_states(section: dict[str, Any]) -> None:
    """`shadow reconcile RUN_DIR`: a row per candidate, then its state causes."""
    click.echo(f"end states against the baseline {section['baseline']}:")
    for name, found in section["candidates"].items():
        outcomes = found["outcomes"]
        click.echo(
            f"{name}: {found['objects']} objects: "
            + ", ".join(f"{n} {o}" for o, n in outcomes.items())
        )
        for cause in found["causes"]:
            click.echo(
                f"  {cause['outcome']}: {cause['object']} {cause['field']} {cause['kind']} "
                f"({cause['count']})"
            )
        for sample in found["missing"]["samples"]:
            click.echo(
                f"  missing: {sample['object']} {sample['recorded_id']} on {sample['missing_on']}"
                f" ({sample['why']})"
            )
