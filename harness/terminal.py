"""Terminal output shared by the commands: rich tables on a terminal, plain text otherwise."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness.inspection import Inspection
from harness.recording import Header
from harness.upgrade.check import UpgradeCheck

if TYPE_CHECKING:
    from harness.map.build import WrittenMap
    from harness.map.model import IntegrationMap


def console() -> Console:
    # Wide enough for endpoint templates when output is piped into a file or a CI log.
    return Console(highlight=False, soft_wrap=False, width=None if Console().is_terminal else 120)


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def print_inspection(path: str, header: Header, result: Inspection) -> None:
    out = console()
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
    out = console()
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


def print_map(found: IntegrationMap, written: WrittenMap) -> None:
    """`shadow map`: what was read, the findings most serious first, where the files went.
    Recorded content is printed as text, never as rich markup."""
    out = console()
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
