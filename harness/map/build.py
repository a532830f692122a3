"""The map stage's I/O: stream recordings into a map, read and write map.json, and the
`--since` option. `shadow map` and `shadow map --update` call these.

map.json holds the map's whole state (docs/map.md): `--update` reads it and merges in the
map of new recordings without reading the old ones again. Its derived parts (findings,
percentiles, peaks) are written for readers and computed again on every write.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from harness import __version__
from harness.capture.redact import redact_tree
from harness.errors import InputError
from harness.formats.atomic import write_text_atomically
from harness.formats.recording import RecordingReader
from harness.formats.untrusted import read_json_file
from harness.map.findings import Finding, find
from harness.map.model import (
    MAP_FORMAT,
    MAP_VERSION,
    IntegrationMap,
    Settings,
    Source,
    merge_upgrade,
)
from harness.map.observe import observe
from harness.map.page import render_page
from harness.model import Exchange
from harness.stripe.catalogue import resolve_version, shipped_versions
from harness.stripe.times import is_calendar_time
from harness.upgrade.check import UpgradeCheck, check_exchange

MAP_FILE = "map.json"
PAGE_FILE = "index.html"

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_since(text: str, now: datetime) -> float:
    """`--since`: a date (`2026-11-20`, midnight UTC), a time (`2026-11-20T12:00Z`, UTC
    unless it names a zone), or a duration before `now` (`7d`, `12h`, `30m`, `2w`)."""
    value = text.strip()
    duration = _DURATION.match(value)
    if duration is not None:
        seconds = float(duration.group(1)) * _UNITS[duration.group(2)]
        return (now - timedelta(seconds=seconds)).timestamp()
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InputError(
            f"--since {text!r}: expected a date (2026-11-20), a time (2026-11-20T12:00Z) "
            "or a duration before now (7d, 12h, 30m)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def default_settings(since: float | None = None) -> Settings:
    """A new map's settings: the upgrade section checks against the newest API version a
    catalogue is shipped for."""
    versions = shipped_versions()
    return Settings(since=since, upgrade_to=versions[-1] if versions else None)


def map_recordings(
    paths: Iterable[str | os.PathLike[str]],
    settings: Settings,
    *,
    allow_truncated: bool = False,
) -> IntegrationMap:
    """The map of recordings read one after another (their concatenation), streaming."""
    found = IntegrationMap(settings)
    for path in paths:
        _read_recording(found, Path(path), allow_truncated)
    found.settle()
    return found


def _read_recording(found: IntegrationMap, path: Path, allow_truncated: bool) -> None:
    first_at = found.exchanges
    with RecordingReader(path, allow_truncated=allow_truncated) as reader:
        default = reader.header.extra.get("api_version")
        add_exchanges(found, reader, default if isinstance(default, str) else None)
        found.sources.append(
            Source(
                str(path),
                reader.header.created,
                found.exchanges - first_at,
                first_at,
                reader.truncated,
            )
        )


def add_exchanges(
    found: IntegrationMap, exchanges: Iterable[Exchange], default_version: str | None = None
) -> None:
    """Add exchanges to a map, in order, with the upgrade check of them (`default_version`:
    the account's, for requests that named none). The caller records their source."""
    since = found.settings.since
    check = None
    if found.settings.upgrade_to is not None:
        check = UpgradeCheck(found.settings.upgrade_to, resolve_version(found.settings.upgrade_to))
    for exchange in exchanges:
        if since is not None and not (
            is_calendar_time(exchange.started) and exchange.started >= since
        ):
            continue
        seen = observe(exchange, found.exchanges)
        found.add(seen)
        if check is not None:
            check_exchange(check, exchange, default_version, seen.at)
    if check is not None:
        # Its versions and examples come from the requests: redacted like the rest.
        found.upgrade = merge_upgrade(found.upgrade, redact_tree(check.to_json()), 0)


def map_document(
    found: IntegrationMap, findings: list[Finding], generated: datetime | None = None
) -> dict[str, Any]:
    """What map.json holds: the header, the sources, the state, and the derived figures
    (each endpoint's peak second, the findings)."""
    state = found.state_json()
    for name, endpoint in state["endpoints"].items():
        peak = found.rate_peak(f"endpoint {name}")
        endpoint["peak_per_second"] = peak.count if peak is not None else 0
    return {
        "format": MAP_FORMAT,
        "version": MAP_VERSION,
        "tool": f"stripe-shadow {__version__}",
        "generated": (generated or datetime.now(UTC)).isoformat(timespec="seconds"),
        "sources": [source.to_json() for source in found.sources],
        **state,
        "findings": [f.to_json() for f in findings],
    }


def read_map(path: str | os.PathLike[str]) -> IntegrationMap:
    """A map.json written by `shadow map`, ready to merge more into."""
    file = Path(path)
    data = read_json_file(
        file,
        missing=f"no such map; `shadow map RECORDING --out DIR` writes DIR/{MAP_FILE}",
        named=MAP_FILE,
        again="build the map again with `shadow map`",
    )
    if not isinstance(data, dict) or data.get("format") != MAP_FORMAT:
        got = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise InputError(f"{file}: format: expected {MAP_FORMAT!r}, got {got!r}")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InputError(f"{file}: version: {version!r} is not a map version")
    if version > MAP_VERSION:
        raise InputError(
            f"{file}: version: map version {version} is newer than this stripe-shadow reads "
            f"({MAP_VERSION}); upgrade stripe-shadow"
        )
    try:
        sources = [Source.from_json(source) for source in data["sources"]]
        return IntegrationMap.from_state_json(data, sources)
    except KeyError as exc:
        raise InputError(
            f"{file}: missing field {exc.args[0]!r}; build the map again with `shadow map`"
        ) from None
    except (TypeError, ValueError, AttributeError, IndexError) as exc:
        raise InputError(
            f"{file}: not a map this stripe-shadow can update ({exc}); build it again with "
            "`shadow map`"
        ) from None


def out_directory(out: str | os.PathLike[str]) -> Path:
    directory = Path(out)
    if directory.exists() and not directory.is_dir():
        raise InputError(f"{directory}: exists and is not a directory; pass another --out")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{directory}: cannot create the directory ({exc.strerror})") from None
    return directory


@dataclass(slots=True)
class WrittenMap:
    """Where a map went, what it found, and how big its page is."""

    directory: Path
    findings: list[Finding]
    html_bytes: int
    recordings: list[str]  # the names of the recordings it maps


def write_map(found: IntegrationMap, out: str | os.PathLike[str]) -> WrittenMap:
    """Write map.json and index.html into `out`."""
    directory = out_directory(out)
    findings = find(found)
    generated = datetime.now(UTC)
    document = map_document(found, findings, generated)
    write_text_atomically(
        directory / MAP_FILE,
        json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n",
    )
    html = render_page(found, findings, generated)
    write_text_atomically(directory / PAGE_FILE, html)
    names = [Path(source.path).name for source in found.sources]
    return WrittenMap(directory, findings, len(html.encode("utf-8")), names)
