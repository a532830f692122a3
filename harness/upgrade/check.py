"""`shadow upgrade-check RECORDING --to VERSION`: each request parameter the recorded
traffic sends that the target version removes or renames, each response field it was
answered that the version removes, moves or retypes, and each endpoint it uses that the
version drops; with the exchanges, endpoints and an example for each. Read from the
catalogues of the versions the answers were made under and of the target (pure over a
stream of exchanges; no target is contacted). Not a gate: it informs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.formats.atomic import write_json_atomically
from harness.formats.recording import RecordingReader
from harness.model import Exchange
from harness.stripe import endpoint_template, parameter_paths, request_form_tree
from harness.stripe.catalogue import answer_version, catalogue_for, resolve_version
from harness.stripe.catalogue.changes import (
    ADDED,
    VALUES,
    Change,
    endpoint_change,
    field_change,
    parameter_change,
)

UPGRADE_CHECK_FILE = "upgrade-check.json"

PARAMETER = "parameter"
FIELD = "field"
ENDPOINT = "endpoint"
_ORDER = {ENDPOINT: 0, PARAMETER: 1, FIELD: 2}
# Deeper than this, a body is not walked (a hostile answer must not take the check down).
_DEPTH = 24


@dataclass(slots=True)
class Finding:
    """One thing the traffic will meet, and where: exchanges, endpoints, a first example.

    Exchanges are counted, not listed, so a check of a million exchanges holds a few
    numbers per finding; `last` is the index of the exchange counted last (an exchange
    can meet one change through several of its fields)."""

    kind: str  # ENDPOINT, PARAMETER, FIELD
    change: Change
    exchanges: int = 0
    endpoints: set[str] = field(default_factory=set)
    example: dict[str, Any] | None = None
    last: int = -1

    def to_json(self) -> dict[str, Any]:
        return {
            "finding": self.kind,
            **self.change.to_json(),
            "exchanges": self.exchanges,
            "endpoints": sorted(self.endpoints),
            "example": self.example,
        }


@dataclass(slots=True)
class UpgradeCheck:
    """What a recording will meet on `to_version`."""

    to_version: str  # as asked
    catalogue_version: str  # the shipped catalogue that describes it
    exchanges: int = 0
    versions: dict[str, int] = field(default_factory=dict)  # answers' versions → exchanges
    uncovered: int = 0  # exchanges of a version no catalogue covers
    findings: dict[tuple[str, str], Finding] = field(default_factory=dict)

    def note(
        self,
        kind: str,
        change: Change,
        exchange: Exchange,
        endpoint: str,
        where: str,
        at: int | None = None,
    ) -> None:
        """Count the exchange being checked (the report's `exchanges`-th) against a change;
        `at` is its place in a longer stream (the integration map's), kept in the example."""
        finding = self.findings.get((kind, change.subject))
        if finding is None:
            finding = Finding(kind, change)
            self.findings[(kind, change.subject)] = finding
        if finding.last != self.exchanges:
            finding.last = self.exchanges
            finding.exchanges += 1
        finding.endpoints.add(endpoint)
        if finding.example is None:
            finding.example = {"seq": exchange.seq, "endpoint": endpoint, "where": where}
            if at is not None:
                finding.example["at"] = at

    def sorted_findings(self) -> list[Finding]:
        return sorted(
            self.findings.values(),
            key=lambda f: (_ORDER[f.kind], -f.exchanges, f.change.subject),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "to": self.to_version,
            "catalogue": self.catalogue_version,
            "exchanges": self.exchanges,
            "versions": dict(sorted(self.versions.items())),
            "uncovered": self.uncovered,
            "findings": [f.to_json() for f in self.sorted_findings()],
        }


def _fields(
    node: Any, object_type: str | None, inside: tuple[str, ...], depth: int = 0
) -> Iterable[tuple[str, tuple[str, ...], Any]]:
    """(object type, path inside it, value) of each field an answer holds."""
    if depth > _DEPTH:
        return
    if isinstance(node, list):
        for item in node:
            yield from _fields(item, object_type, inside, depth + 1)
        return
    if not isinstance(node, dict):
        return
    own = node.get("object")
    if isinstance(own, str):
        object_type, inside = own, ()
    for name, value in node.items():
        path = (*inside, str(name))
        if object_type is not None:
            yield object_type, path, value
        if name != "metadata":
            yield from _fields(value, object_type, path, depth + 1)


def _shape(endpoint: str) -> str:
    """`POST /v1/customers/{customer}` → `POST /v1/customers/{}`, as the catalogue keys it."""
    method, _, path = endpoint.partition(" ")
    parts = [
        "{}" if part.startswith("{") and part.endswith("}") else part for part in path.split("/")
    ]
    return f"{method} {'/'.join(parts)}"


def check_exchange(
    report: UpgradeCheck, exchange: Exchange, default_version: str | None, at: int | None = None
) -> None:
    """Add what one recorded exchange will meet on the report's target version (`at`: its
    place in a longer stream, shown in examples)."""
    report.exchanges += 1
    version = answer_version(exchange, default_version)
    report.versions[version or "unknown"] = report.versions.get(version or "unknown", 0) + 1
    source = catalogue_for(version)
    if source is None:
        report.uncovered += 1
        return
    target = report.catalogue_version
    if source.api_version == target:
        return
    request = exchange.request
    endpoint = endpoint_template(request.method, request.path)
    shape = _shape(endpoint)
    gone = endpoint_change(shape, source.api_version, target)
    if gone is not None:
        report.note(ENDPOINT, gone, exchange, endpoint, endpoint, at)
    request_tree = request_form_tree(request.method, request.query, request.body)
    for path in parameter_paths(request_tree):
        change = parameter_change(shape, path, source.api_version, target)
        if change is not None:
            report.note(PARAMETER, change, exchange, endpoint, ".".join(path), at)
    response = exchange.response
    if response is None or response.status >= 400:
        return
    try:
        body = json.loads(response.text)
    except (ValueError, RecursionError):
        return
    seen: set[tuple[str, tuple[str, ...], str]] = set()
    for object_type, path, value in _fields(body, None, ()):
        shown = value if isinstance(value, str) else ""
        if (object_type, path, shown) in seen:
            continue
        seen.add((object_type, path, shown))
        change = field_change(object_type, path, source.api_version, target)
        # What the integration reads and will not find as it was: a field gone or
        # retyped, an enum value the target version does not have. A field the target
        # adds breaks nothing.
        if change is None or change.effect == ADDED:
            continue
        if change.effect == VALUES and (not shown or shown in change.new_values):
            continue
        report.note(FIELD, change, exchange, endpoint, f"{object_type}.{'.'.join(path)}", at)


def upgrade_check(
    exchanges: Iterable[Exchange], to_version: str, default_version: str | None = None
) -> UpgradeCheck:
    """What the exchanges will meet on `to_version` (InputError when no catalogue covers
    it); `default_version` is the account's default, for requests that named none."""
    report = UpgradeCheck(to_version, resolve_version(to_version))
    for exchange in exchanges:
        check_exchange(report, exchange, default_version)
    return report


def check_recording(
    path: str | os.PathLike[str], to_version: str, *, allow_truncated: bool = False
) -> UpgradeCheck:
    """upgrade_check over a recording file, with the account default its header records."""
    with RecordingReader(path, allow_truncated=allow_truncated) as reader:
        default = reader.header.extra.get("api_version")
        return upgrade_check(reader, to_version, default if isinstance(default, str) else None)


def write_upgrade_check(run_dir: Path, report: UpgradeCheck) -> Path:
    """upgrade-check.json in a run directory, for the report."""
    path = run_dir / UPGRADE_CHECK_FILE
    write_json_atomically(path, report.to_json())
    return path


def read_upgrade_check(run_dir: Path) -> dict[str, Any] | None:
    """The upgrade check a run holds (None: its scenario ran none, or the file is not a
    JSON object)."""
    path = run_dir / UPGRADE_CHECK_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
