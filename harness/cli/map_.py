"""`shadow map`: the integration map of recorded traffic."""

from __future__ import annotations

import click

from harness.cli.group import main
from harness.cli.options import allow_truncated_option
from harness.cli.output import print_json, print_map, reports_errors


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
        print_json(map_document(found, written.findings))
        return
    print_map(found, written)
