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
