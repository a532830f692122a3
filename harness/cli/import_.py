"""`shadow import`: cassettes, HAR and flow files into one redacted recording."""

from __future__ import annotations

import sys

import click

from harness.cli.group import main
from harness.cli.options import pii_option, recording_out_option
from harness.cli.output import print_import, print_scan, reports_errors


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
    from harness.capture.importers import (
        ImportOptions,
        format_named,
        import_paths,
        placeholders_from_options,
        scan_paths,
    )
    from harness.capture.redact import RedactionPolicy
    from harness.errors import InputError

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
        print_scan(result)
    else:
        if out is None:
            raise InputError("shadow import: --out FILE is required (the recording to write)")
        result = import_paths(paths, out, options)
        print_import(result, out)
    sys.exit(result.exit_code)
