"""The embedded proxy behind `shadow record`: one mitmproxy DumpMaster with the recorder.

A reverse proxy in front of one upstream (the SDK's `api_base` points at it), or a
forward HTTP(S) proxy that intercepts only the hosts it records and tunnels every other
connection through untouched.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from harness.errors import InfrastructureError, InputError
from harness.stripe import STRIPE_HOSTS

if TYPE_CHECKING:
    from harness.capture.webhooks import WebhookCapture

MODES = ("reverse", "forward")
DEFAULT_UPSTREAM = "https://api.stripe.com"


@dataclass(slots=True)
class RecorderSettings:
    """Everything `shadow record` was asked for, checked."""

    out: Path
    mode: str = "reverse"
    upstream: str = DEFAULT_UPSTREAM
    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    capture_hosts: list[str] = field(default_factory=list)
    pii: str = "keep"
    confdir: Path | None = None
    upstream_ca: Path | None = None
    # In front of the customer's webhook handler too (docs/events.md): its URL, where to
    # listen for Stripe's deliveries, and the endpoint's secret to check them with.
    webhooks_upstream: str | None = None
    webhooks_host: str = "127.0.0.1"
    webhooks_port: int = 0
    webhooks_secret: str | None = None


def parse_listen(value: str) -> tuple[str, int]:
    """`HOST:PORT` → (host, port); port 0 picks a free port."""
    host, colon, port = value.rpartition(":")
    host = host.strip("[]")
    if (
        not colon
        or not host
        or not (port.isascii() and port.isdigit() and len(port) <= 5)
        or not 0 <= int(port) <= 65535
    ):
        raise InputError(f"--listen: expected HOST:PORT such as 127.0.0.1:8080, got {value!r}")
    return host, int(port)


def check_upstream(url: str) -> str:
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.hostname or re.search(r"\s", url):
        raise InputError(
            f"--upstream: expected an http:// or https:// URL such as {DEFAULT_UPSTREAM}, "
            f"got {url[:80]!r}"
        )
    if parts.path not in ("", "/") or parts.query:
        raise InputError(f"--upstream: give only scheme, host and port (no path), got {url!r}")
    if "@" in parts.netloc:
        raise InputError(
            "--upstream: a URL may not hold credentials (user:password@host); the recorder "
            "forwards the key each client sends"
        )
    return f"{parts.scheme}://{parts.netloc}"


def check_upstream_ca(path: Path) -> Path:
    """A PEM file of CA certificates that can be read: checked now, so that a file the
    proxy could not load is one line here, not a failed TLS handshake per request."""
    try:
        ssl.create_default_context().load_verify_locations(cafile=str(path))
    except ssl.SSLError:
        raise InputError(
            f"--upstream-ca: {path}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        ) from None
    except OSError as exc:
        raise InputError(f"--upstream-ca: {path}: cannot be read ({exc.strerror})") from None
    return path


def proxy_options(settings: RecorderSettings) -> dict[str, Any]:
    """mitmproxy option values for these settings (the recorder's own come separately)."""
    options: dict[str, Any] = {
        "listen_host": settings.listen_host,
        "listen_port": settings.listen_port,
        # Connect upstream only once a request has arrived, so that an upstream that is
        # down fails that request (recorded, 502 to the client) instead of the connection.
        "connection_strategy": "lazy",
    }
    if settings.mode == "reverse":
        options["mode"] = [f"reverse:{check_upstream(settings.upstream)}"]
    else:
        options["mode"] = ["regular"]
        # Intercept (and so decrypt) only the recorded hosts; any other connection is
        # tunnelled as it is, so clients need the CA only for Stripe.
        hosts = [*STRIPE_HOSTS, *settings.capture_hosts]
        options["allow_hosts"] = [rf"^{re.escape(host)}:\d+$" for host in hosts]
    if settings.confdir is not None:
        options["confdir"] = str(settings.confdir)
    if settings.upstream_ca is not None:
        options["ssl_verify_upstream_trusted_ca"] = str(check_upstream_ca(settings.upstream_ca))
    return options


class _StartupErrors(logging.Handler):
    """Keeps the errors mitmproxy logs while it starts, to explain a failure in one line."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage().splitlines()[0])


class _Startup:
    """Once the proxy is up, announces the address actually bound; if it could not bind,
    stops it instead (mitmproxy's own startup check would print and exit)."""

    def __init__(self, on_listening: Callable[[str, int], None]) -> None:
        self.on_listening = on_listening
        self.errors = _StartupErrors()
        self.failed = False

    def running(self) -> None:
        from mitmproxy import ctx

        logging.getLogger("mitmproxy").removeHandler(self.errors)
        addresses = ctx.master.addons.get("proxyserver").listen_addrs()
        if self.errors.messages or not addresses:
            self.failed = True
            ctx.master.shutdown()
            return
        host, port = addresses[0][:2]
        self.on_listening(host, port)


def _quiet_cancellation(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    if not isinstance(context.get("exception"), asyncio.CancelledError):
        loop.default_exception_handler(context)


async def record(
    settings: RecorderSettings,
    on_listening: Callable[[str, int], None],
    on_webhooks: Callable[[WebhookCapture], None] | None = None,
) -> int:
    """Run the recording proxy until SIGINT or SIGTERM; returns the exchanges written.
    With `webhooks_upstream`, the webhook capture runs beside it, into the same file;
    `on_webhooks` is told once it listens, and again when it has stopped."""
    from mitmproxy import exceptions
    from mitmproxy.options import Options
    from mitmproxy.tools.dump import DumpMaster

    from harness.capture.addon import Recorder
    from harness.capture.webhooks import WebhookCapture

    options = proxy_options(settings)
    master = DumpMaster(
        Options(**{k: v for k, v in options.items() if k == "confdir"}),
        with_termlog=False,
        with_dumper=False,
    )
    errorcheck = master.addons.get("errorcheck")
    errorcheck.finish()
    master.addons.remove(errorcheck)
    startup = _Startup(on_listening)
    logging.getLogger("mitmproxy").addHandler(startup.errors)
    recorder = Recorder()
    master.addons.add(startup, recorder)
    try:
        master.options.update(**{k: v for k, v in options.items() if k != "confdir"})
        master.options.update(
            shadow_out=str(settings.out),
            shadow_pii=settings.pii,
            shadow_capture_hosts=list(settings.capture_hosts),
        )
    except exceptions.OptionsError as exc:
        raise InputError(f"shadow record: {exc}") from None
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, master.shutdown)
    webhooks = None
    if settings.webhooks_upstream is not None:
        webhooks = WebhookCapture(
            check_upstream(settings.webhooks_upstream),
            recorder.record_exchange,
            host=settings.webhooks_host,
            port=settings.webhooks_port,
            secret=settings.webhooks_secret,
        )
    try:
        if webhooks is not None:
            await webhooks.start()
            if on_webhooks is not None:
                on_webhooks(webhooks)
        await master.run()
    finally:
        if webhooks is not None:
            await webhooks.stop()
            if on_webhooks is not None:
                on_webhooks(webhooks)
        # Connections still open at shutdown are cancelled; that is the intended end.
        loop.set_exception_handler(_quiet_cancellation)
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        logging.getLogger("mitmproxy").removeHandler(startup.errors)
    if startup.failed:
        if recorder.seq == 0:
            settings.out.unlink(missing_ok=True)
        detail = "; ".join(startup.errors.messages) or "no address to listen on"
        raise InfrastructureError(
            f"shadow record: the proxy could not start on "
            f"{settings.listen_host}:{settings.listen_port}: {detail}"
        )
    return recorder.seq


def check_settings(settings: RecorderSettings) -> None:
    """Refuse bad settings before anything starts."""
    proxy_options(settings)
    try:
        if not settings.out.parent.is_dir():
            raise InputError(
                f"--out: directory {settings.out.parent} does not exist; create it or pick "
                "another file"
            )
        longest = os.pathconf(settings.out.parent, "PC_NAME_MAX")
    except OSError as exc:
        raise InputError(f"--out: {settings.out}: cannot be written ({exc.strerror})") from None
    if len(os.fsencode(settings.out.name)) > longest:
        raise InputError(f"--out: the file name is longer than {longest} bytes; pick a shorter one")
    if settings.confdir is not None and settings.confdir.exists() and not settings.confdir.is_dir():
        raise InputError(f"--confdir: {settings.confdir} is not a directory")


def run_recorder(
    settings: RecorderSettings,
    on_listening: Callable[[str, int], None],
    on_webhooks: Callable[[WebhookCapture], None] | None = None,
) -> int:
    """Blocking entry point for the command line."""
    check_settings(settings)
    return asyncio.run(record(settings, on_listening, on_webhooks))
