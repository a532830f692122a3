"""`shadow inspect`: a recording's figures, as a table or JSON."""

from __future__ import annotations

import click

from harness.cli.group import main
from harness.cli.options import allow_truncated_option
from harness.cli.output import print_inspection, print_json, reports_errors


@main.command()
@click.argument("recording", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@allow_truncated_option
@reports_errors
def inspect(recording: str, as_json: bool, allow_truncated: bool) -> None:
    """Summarise a recording: exchanges, time span, API versions, endpoints, errors."""
    from harness.formats.recording import RecordingReader
    from harness.inspection import inspect_exchanges

    with RecordingReader(recording, allow_truncated=allow_truncated) as reader:
        result = inspect_exchanges(reader)
        header = reader.header
    if as_json:
        data = result.to_json()
        data["header"] = header.to_json()
        print_json(data)
        return
    print_inspection(recording, header, result)
