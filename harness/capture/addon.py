"""The recorder: a mitmproxy addon that appends every Stripe exchange to a recording.

Works inside `shadow record` and on its own:

    mitmdump -s "$(shadow record --addon-path)" --set shadow_out=stripe.jsonl

Each exchange is redacted and written (and flushed) as its response completes, or as its
upstream fails; a killed proxy loses at most the exchanges still in flight.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from mitmproxy import ctx, exceptions, http
from mitmproxy.proxy import mode_specs

if __package__ in (None, ""):
    # Loaded by path (`mitmdump -s .../addon.py`): make the harness package importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from harness.capture.redact import PII_MODES, RedactionPolicy, redact_exchange
from harness.formats.recording import Header, RecordingWriter
from harness.model import Exchange, Headers, Request, Response
from harness.stripe import STRIPE_HOSTS

logger = logging.getLogger(__name__)


def _text_or_bytes(content: bytes) -> str | bytes:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return content


def _content(message: http.Message) -> tuple[str | bytes, Headers]:
    """The body as the application sees it (Content-Encoding undone), and the headers to
    record with it: Content-Encoding is dropped when the body was decoded."""
    raw = message.raw_content or b""
    headers = Headers(message.headers.items(multi=True))
    encoding = message.headers.get("content-encoding")
    if encoding and encoding.lower() != "identity":
        decoded = message.get_content(strict=False) or b""
        if decoded != raw:
            headers = headers.without("content-encoding")
            return _text_or_bytes(decoded), headers
    return _text_or_bytes(raw), headers


def exchange_from_flow(flow: http.HTTPFlow, seq: int) -> Exchange:
    """An unredacted Exchange from a finished (or failed) mitmproxy flow."""
    request = flow.request
    path, _, query = request.path.partition("?")
    body, headers = _content(request)
    started = request.timestamp_start
    finished = request.timestamp_end or started
    response: Response | None = None
    if flow.response is not None:
        response_body, response_headers = _content(flow.response)
        response = Response(
            status=flow.response.status_code, headers=response_headers, body=response_body
        )
        finished = flow.response.timestamp_end or flow.response.timestamp_start or finished
    error = flow.error.msg if flow.error is not None and flow.response is None else None
    return Exchange(
        seq=seq,
        started=started,
        duration=max(0.0, finished - started),
        request=Request(
            method=request.method,
            scheme=request.scheme,
            host=request.host,
            port=request.port,
            path=path or "/",
            query=query,
            headers=headers,
            body=body,
        ),
        response=response,
        error=error,
    )


class Recorder:
    """Records Stripe exchanges to the file named by the `shadow_out` option."""

    def __init__(self) -> None:
        self.writer: RecordingWriter | None = None
        self.policy = RedactionPolicy()
        self.seq = 0
        self._hosts: frozenset[str] = frozenset(STRIPE_HOSTS)

    def load(self, loader: object) -> None:
        add = loader.add_option  # type: ignore[attr-defined]
        add(
            "shadow_out",
            str | None,
            None,
            "Append every Stripe exchange to this stripe-shadow recording "
            "(.jsonl, or .jsonl.gz for gzip). Without it nothing is recorded.",
        )
        add(
            "shadow_pii",
            str,
            "keep",
            "Personal data (emails, names, phones, address lines): 'keep' it, or "
            "'pseudonymize' it with stable fakes. Secrets are always redacted.",
            choices=list(PII_MODES),
        )
        add(
            "shadow_capture_hosts",
            Sequence[str],
            [],
            "In a forward proxy, also record these hosts besides api.stripe.com, "
            "files.stripe.com and connect.stripe.com. A reverse proxy records everything.",
        )

    def configure(self, updated: set[str]) -> None:
        if "shadow_capture_hosts" in updated:
            extra = {host.strip().lower() for host in ctx.options.shadow_capture_hosts}
            if "" in extra:
                raise exceptions.OptionsError(
                    "shadow_capture_hosts: a host name cannot be empty; drop the empty entry"
                )
            self._hosts = frozenset(STRIPE_HOSTS) | extra
        # mitmproxy shows an option's choices in its help but does not check them.
        if "shadow_pii" in updated and ctx.options.shadow_pii not in PII_MODES:
            raise exceptions.OptionsError(
                f"shadow_pii: {ctx.options.shadow_pii!r} is not a mode; set "
                f"{' or '.join(PII_MODES)}"
            )
        if "shadow_out" in updated and ctx.options.shadow_out:
            path = Path(ctx.options.shadow_out).expanduser()
            if path.is_dir():
                raise exceptions.OptionsError(
                    f"shadow_out: {path} is a directory; name a file in it, e.g. "
                    f"{path / 'stripe.jsonl'}"
                )
            if not path.parent.is_dir():
                raise exceptions.OptionsError(
                    f"shadow_out: directory {path.parent} does not exist; create it or pick "
                    "another file"
                )
        if self.writer is not None and updated & {"shadow_out", "shadow_pii"}:
            self._switch()

    def _switch(self) -> None:
        """While recording, a new shadow_out starts a new file. The file being written is
        never started over: that would lose what it holds (mitmproxy calls `configure`
        again with the old values after refusing a new one)."""
        assert self.writer is not None
        if not ctx.options.shadow_out:
            self._close()
        elif Path(ctx.options.shadow_out).expanduser().resolve() != self.writer.path.resolve():
            self._open()
        elif ctx.options.shadow_pii != self.policy.pii:
            raise exceptions.OptionsError(
                f"shadow_pii: {self.writer.path} is recorded with {self.policy.pii}, as its "
                f"header says; set shadow_out to a new file with it to {ctx.options.shadow_pii}"
            )

    def running(self) -> None:
        if ctx.options.shadow_out:
            self._open()
        else:
            logger.warning("shadow recorder: set shadow_out=FILE to record; recording nothing")

    def _open(self) -> None:
        self._close()
        self.policy = RedactionPolicy(pii=ctx.options.shadow_pii)
        self.seq = 0
        header = Header(
            source={"kind": "mitmproxy", "modes": list(ctx.options.mode)},
            redaction=self.policy.header_json(),
        )
        path = Path(ctx.options.shadow_out).expanduser()
        self.writer = RecordingWriter(path, header)
        logger.info(f"shadow recorder: writing {path}")

    def captures(self, flow: http.HTTPFlow) -> bool:
        """A reverse proxy only sees traffic for its upstream; a forward proxy records only
        Stripe's hosts (and the ones added), and passes the rest through."""
        if isinstance(flow.client_conn.proxy_mode, mode_specs.ReverseMode):
            return True
        return flow.request.host.lower() in self._hosts

    def _record(self, flow: http.HTTPFlow) -> None:
        if self.writer is None or not self.captures(flow):
            return
        self.record_exchange(exchange_from_flow(flow, self.seq))

    def record_exchange(self, exchange: Exchange) -> None:
        """Redact, number and append an exchange: a flow's, or a webhook delivery the
        webhook capture saw (harness.capture.webhooks). Nothing while no file is open."""
        if self.writer is None:
            return
        exchange.seq = self.seq
        self.writer.write(redact_exchange(exchange, self.policy))
        self.seq += 1

    def response(self, flow: http.HTTPFlow) -> None:
        self._record(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        # Only an upstream failure stands in for a response; an error after a response
        # (the client went away) leaves the exchange as already recorded.
        if flow.response is None:
            self._record(flow)

    def done(self) -> None:
        self._close()

    def _close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            logger.info(f"shadow recorder: {self.writer.count} exchanges in {self.writer.path}")
            self.writer = None


def addon_path() -> str:
    """The file to give `mitmdump -s`."""
    return os.path.abspath(__file__)


addons = [Recorder()]
