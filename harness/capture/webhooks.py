"""Webhook capture (docs/events.md): an aiohttp server in front of the customer's webhook
handler. Each delivery Stripe makes is passed on to the handler as it came (same path,
headers and body, so the handler checks Stripe's signature itself), and the delivery with
the handler's answer and time becomes an `inbound` exchange of the recording, redacted
like any other (Stripe-Signature, whsec_ secrets).

With the endpoint's secret, a delivery whose signature does not hold is refused (400)
before it reaches the handler, and counted; it is never recorded as an event.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from harness.errors import InfrastructureError
from harness.model import Exchange, Headers, Request, Response
from harness.stripe.signature import DEFAULT_TOLERANCE, SIGNATURE_HEADER, signature_problem

# Headers a hop sets for itself; the rest of a delivery goes to the handler as it came.
_HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "host", "content-length"}
)
MAX_DELIVERY_BYTES = 4 * 1024 * 1024


Delivery = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def serve_deliveries(
    deliver: Delivery, host: str, port: int, where: str
) -> tuple[web.AppRunner, int]:
    """An aiohttp server on `host:port` (0: a free port) that hands every POST, at any
    path, to `deliver`; returns its runner (cleanup() stops it) and the port it bound.
    The one way webhook deliveries are received: here, and by a replay's receivers.
    `where` names the setting in the error when the port cannot be bound."""
    app = web.Application(client_max_size=MAX_DELIVERY_BYTES)
    app.router.add_route("POST", "/{tail:.*}", deliver)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise InfrastructureError(
            f"{where}: cannot listen on {host}:{port} ({exc.strerror}); choose another port"
        ) from None
    sockets = getattr(site._server, "sockets", None) or []
    return runner, int(sockets[0].getsockname()[1]) if sockets else port


@dataclass(slots=True)
class WebhookCounts:
    """What the webhook capture saw: deliveries recorded, and refused (bad signature)."""

    recorded: int = 0
    refused: int = 0
    refusals: list[str] = field(default_factory=list)


class WebhookCapture:
    """Listens on `host:port` (0: a free port), forwards each delivery to `upstream` (the
    handler's base URL: the delivery's path is appended), and hands each delivery as an
    unredacted inbound Exchange to `record` (which redacts, numbers and writes it)."""

    def __init__(
        self,
        upstream: str,
        record: Callable[[Exchange], None],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        secret: str | None = None,
        tolerance: float = DEFAULT_TOLERANCE,
        timeout: float = 30.0,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.record = record
        self.host = host
        self.port = port
        self.secret = secret
        self.tolerance = tolerance
        self.timeout = timeout
        self.counts = WebhookCounts()
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None

    @property
    def listening(self) -> bool:
        return self._runner is not None

    async def start(self) -> None:
        self._runner, self.port = await serve_deliveries(
            self._deliver, self.host, self.port, "--webhooks-listen"
        )
        self._client = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout), auto_decompress=False
        )

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _deliver(self, request: web.Request) -> web.StreamResponse:
        started = time.time()
        body = await request.read()
        if self.secret is not None:
            problem = signature_problem(
                body, request.headers.get(SIGNATURE_HEADER), self.secret, started, self.tolerance
            )
            if problem is not None:
                self.counts.refused += 1
                if len(self.counts.refusals) < 5 and problem not in self.counts.refusals:
                    self.counts.refusals.append(problem)
                return web.Response(status=400, text=problem)
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS]
        delivery = Request(
            method=request.method,
            scheme=request.scheme,
            host=request.host.rpartition(":")[0] or request.host,
            port=self.port,
            path=request.path,
            query=request.query_string,
            headers=Headers(headers),
            body=body,
        )
        assert self._client is not None
        answer: Response | None = None
        error: str | None = None
        try:
            async with self._client.post(
                self.upstream + request.path_qs, data=body, headers=headers
            ) as reply:
                content = await reply.read()
                answer = Response(
                    status=reply.status,
                    headers=Headers(
                        (k, v) for k, v in reply.headers.items() if k.lower() not in _HOP_HEADERS
                    ),
                    body=content,
                )
        except (aiohttp.ClientError, TimeoutError) as exc:
            why = str(exc) or type(exc).__name__
            error = f"the webhook handler at {self.upstream} did not answer: {why}"
        finished = time.time()
        self.record(
            Exchange(
                seq=0,
                started=started,
                duration=max(0.0, finished - started),
                request=delivery,
                response=answer,
                error=error,
                extra={"direction": "inbound"},
            )
        )
        self.counts.recorded += 1
        if answer is None:
            return web.Response(status=502, text="the webhook handler did not answer")
        return web.Response(
            status=answer.status,
            body=answer.body if isinstance(answer.body, bytes) else answer.body.encode(),
            headers=dict(answer.headers),
        )
