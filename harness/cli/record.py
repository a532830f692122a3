"""`shadow record`: the recorder proxy, or the path of its mitmproxy addon."""

from __future__ import annotations

import click

from harness.capture.proxy import DEFAULT_UPSTREAM, MODES
from harness.cli.group import main
from harness.cli.options import pii_option, recording_out_option
from harness.cli.output import announce_listening, print_recorded, reports_errors


def _print_addon_path(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    """`--addon-path`: print the addon's file and stop, before any other option is read."""
    if value and not ctx.resilient_parsing:
        from harness.capture.addon import addon_path

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
    "--webhooks-upstream",
    help="Also stand in front of your webhook handler: its base URL (e.g. "
    "http://127.0.0.1:5000); each delivery is passed on and recorded as an inbound exchange.",
)
@click.option(
    "--webhooks-listen",
    default="127.0.0.1:0",
    show_default=True,
    help="HOST:PORT where Stripe (or `stripe listen --forward-to`) delivers; 0 picks a port.",
)
@click.option(
    "--webhooks-secret-env",
    help="Environment variable holding the endpoint's whsec_ secret: deliveries whose "
    "signature does not hold are refused and counted, never recorded.",
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
    webhooks_upstream: str | None,
    webhooks_listen: str,
    webhooks_secret_env: str | None,
) -> None:
    """Record Stripe traffic through mitmproxy into a redacted recording.

    Prints `listening on http://HOST:PORT` once ready; stop with Ctrl-C (or SIGTERM),
    which leaves the recording complete.
    """
    from pathlib import Path

    from harness.capture.proxy import RecorderSettings, parse_listen, run_recorder
    from harness.cli.output import announce_webhooks
    from harness.errors import InputError
    from harness.target import webhook_secret

    if out is None:
        raise InputError("shadow record: --out FILE is required (the recording to write)")
    host, port = parse_listen(listen)
    webhooks_host, webhooks_port = parse_listen(webhooks_listen)
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
        webhooks_upstream=webhooks_upstream,
        webhooks_host=webhooks_host,
        webhooks_port=webhooks_port,
        webhooks_secret=webhook_secret("--webhooks-secret-env", webhooks_secret_env),
    )

    count = run_recorder(settings, announce_listening, announce_webhooks)
    print_recorded(count, out)
