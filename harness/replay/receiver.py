"""The events each target sends during a replay (docs/events.md): a receiver per target,
an aiohttp server on 127.0.0.1 that checks every delivery's signature with the target's
secret and appends the good ones to `<target>.events.jsonl`; or, for a target that can
only be asked (`events: poll`), a bounded paging of `GET /v1/events` after the replay.

Stripe delivers at least once and in no order, so the receiver keeps every delivery's
first arrival of an event id and counts the rest as duplicates; what compare makes of the
stream is harness.compare.events' business.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from harness.capture.redact import redact_text
from harness.errors import InfrastructureError
from harness.formats.events import EventWriter, ReceivedEvent, events_file
from harness.formats.untrusted import JSONProblem, load_json
from harness.stripe import ANY_CASE_ID_PATTERN
from harness.stripe.signature import SIGNATURE_HEADER, sign_payload, signature_problem
from harness.stripe.times import http_date

if TYPE_CHECKING:
    from aiohttp import web

# aiohttp's server and harness.capture.webhooks are imported where a receiver starts: a
# replay whose targets send no events starts sending sooner (docs/performance.md).

# Refusal reasons kept per target in run.json, beyond the count.
_REASONS_KEPT = 5


@dataclass(slots=True)
class InboxCounts:
    """What one target's receiver saw (run.json `events.targets.<name>`)."""

    source: str
    received: int = 0
    late: int = 0
    duplicates: int = 0
    refused: int = 0
    refusals: list[str] = field(default_factory=list)
    polled_pages: int = 0
    # Polled: seconds the target's clock read ahead of this machine's (negative: behind).
    clock_offset: int = 0
    settled: bool = True
    # With forwarding: the handler's answers, by status (`error` when it gave none).
    forwarded: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "received": self.received,
            "late": self.late,
            "duplicates": self.duplicates,
            "refused": self.refused,
            "refusals": self.refusals,
            "settled": self.settled,
            **(
                {"polled_pages": self.polled_pages, "clock_offset": self.clock_offset}
                if self.source == "poll"
                else {}
            ),
            **({"forwarded": self.forwarded} if self.forwarded else {}),
        }


class EventForwarder:
    """Sends each event a target sent on to the customer's handler (docs/events.md),
    signed again with the user's secret; with `recorded_id`, every id the target made is
    first replaced by the recorded one it stands for, so the handler sees the ids its own
    database holds."""

    def __init__(
        self,
        url: str,
        secret: str,
        recorded_id: Callable[[str], str | None] | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.url = url
        self.secret = secret
        self.recorded_id = recorded_id
        self.timeout = timeout

    def payload(self, event: dict[str, Any]) -> bytes:
        text = _dump(event)
        if self.recorded_id is not None:
            recorded_id = self.recorded_id
            # An id the map knows, whatever the case of its random part.
            text = ANY_CASE_ID_PATTERN.sub(lambda m: recorded_id(m.group(0)) or m.group(0), text)
        return text.encode()

    async def send(self, event: dict[str, Any]) -> dict[str, Any]:
        """{"status": the handler's status} or {"status": None, "error": why}."""
        payload = self.payload(event)
        headers = {
            SIGNATURE_HEADER: sign_payload(payload, self.secret, int(time.time())),
            "Content-Type": "application/json; charset=utf-8",
        }
        try:
            timeout = aiohttp.ClientTimeout(total=self.timeout)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(self.url, data=payload, headers=headers) as answer,
            ):
                await answer.read()
                return {"status": answer.status}
        except (aiohttp.ClientError, TimeoutError) as exc:
            return {"status": None, "error": redact_text(str(exc) or type(exc).__name__)[:200]}


class Inbox:
    """One target's events: counts, the ids seen, the writer, and the moment of the last
    arrival (what settling waits on). `late` is set once the target's last request was
    answered: what arrives after it would be lost by a replay that did not wait."""

    def __init__(
        self, target: str, path: Path, source: str, forwarder: EventForwarder | None = None
    ) -> None:
        self.target = target
        self.forwarder = forwarder
        self.counts = InboxCounts(source)
        self.writer = EventWriter(path, target, source)
        self.seen: set[str] = set()
        self.last_arrival = time.monotonic()
        self.late = False

    async def take(self, event: dict[str, Any]) -> bool:
        """Keep an event (its secrets redacted) unless its id came before, forwarding it
        first when the target forwards; True if kept."""
        self.last_arrival = time.monotonic()
        identity = str(event.get("id") or "")
        if identity in self.seen:
            self.counts.duplicates += 1
            return False
        received = time.time()
        forwarded = None
        if self.forwarder is not None:
            forwarded = await self.forwarder.send(event)
            shown = str(forwarded.get("status") or "error")
            self.counts.forwarded[shown] = self.counts.forwarded.get(shown, 0) + 1
        redacted = load_json(redact_text(_dump(event)))
        self.writer.write(ReceivedEvent(redacted, received, self.late, forwarded))
        self.seen.add(identity)
        self.counts.received += 1
        if self.late:
            self.counts.late += 1
        return True

    def answered(self) -> None:
        """The target answered its last request: what arrives from now on is late, and
        settling counts its quiet period from here."""
        self.late = True
        self.last_arrival = time.monotonic()

    def refuse(self, reason: str) -> None:
        self.last_arrival = time.monotonic()
        self.counts.refused += 1
        if len(self.counts.refusals) < _REASONS_KEPT and reason not in self.counts.refusals:
            self.counts.refusals.append(reason)

    def close(self) -> None:
        self.writer.close()


def _dump(event: dict[str, Any]) -> str:
    # With the default separators' blanks: redact_text reads a compact JSON text that
    # holds `=` (a URL's query) as a form body and would percent-encode it.
    return json.dumps(event, sort_keys=True)


def event_problem(payload: Any) -> str | None:
    """Why a verified body is not an event Stripe sends, or None."""
    if not isinstance(payload, dict) or payload.get("object") != "event":
        return "the body is not an event object"
    if not isinstance(payload.get("id"), str) or not isinstance(payload.get("type"), str):
        return "the event has no id or type"
    return None


class WebhookReceiver:
    """An aiohttp server on `host:port` (port 0: a free one) that takes signed deliveries
    for one target at any path and answers 200 to a good one, 400 to a refused one."""

    def __init__(
        self,
        inbox: Inbox,
        secret: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tolerance: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.inbox = inbox
        self.secret = secret
        self.host = host
        self.port = port
        self.tolerance = tolerance
        self.clock = clock
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/webhooks"

    async def start(self) -> None:
        from harness.capture.webhooks import serve_deliveries

        self._runner, self.port = await serve_deliveries(
            self._deliver, self.host, self.port, f"target {self.inbox.target}: events.listen"
        )

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _deliver(self, request: web.Request) -> web.Response:
        from aiohttp import web

        try:
            payload = await request.read()
        except web.HTTPRequestEntityTooLarge:
            self.inbox.refuse("a delivery larger than 4 MiB")
            return web.Response(status=413, text="too large")
        problem = signature_problem(
            payload,
            request.headers.get(SIGNATURE_HEADER),
            self.secret,
            self.clock(),
            self.tolerance,
        )
        if problem is None:
            try:
                event = load_json(payload)
            except JSONProblem as exc:
                problem = f"the body is not JSON ({exc.problem})"
            else:
                problem = event_problem(event)
        if problem is not None:
            self.inbox.refuse(problem)
            return web.Response(status=400, text=problem)
        await self.inbox.take(event)
        return web.Response(status=200, text="ok")


# --- polling -------------------------------------------------------------------------------

# Pages of 100 events one poll reads at most: 10,000 events a replay.
MAX_POLL_PAGES = 100


async def poll_events(
    inbox: Inbox,
    url: str,
    headers: Mapping[str, str],
    since: int,
    *,
    quiet: float,
    max_wait: float,
    timeout: float = 30.0,
) -> None:
    """Page `GET /v1/events?created[gte]=since` into the inbox, again every `quiet`
    seconds while new events keep coming, until a round brings none or `max_wait`
    seconds have passed; each event once, by id. Bounded in pages and time.

    `since` is this machine's time; the target stamps `created` by its own clock, so
    `since` is first moved by how far the target's clock reads from this machine's
    (`clock_offset`): a target a few seconds behind would otherwise keep its first
    events out of the poll, and they would read as missing."""
    deadline = time.monotonic() + max_wait
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(timeout=client_timeout) as session:
        inbox.counts.clock_offset = await clock_offset(inbox, session, url, headers)
        since += inbox.counts.clock_offset
        while True:
            before = inbox.counts.received
            await _poll_round(inbox, session, url, headers, since)
            if inbox.counts.received == before:
                return
            if time.monotonic() + quiet > deadline:
                inbox.counts.settled = False
                return
            await asyncio.sleep(quiet)


async def clock_offset(
    inbox: Inbox, session: aiohttp.ClientSession, url: str, headers: Mapping[str, str]
) -> int:
    """Whole seconds the target's clock reads ahead of this machine's, at least (negative:
    behind), from the `Date` of its answer to `GET /v1/events?limit=1`; 0 when it gives
    none. `Date` counts whole seconds and the answer takes a while, so the figure is the
    least the offset can be: a `since` moved by it lets no event of the replay out."""
    _, stamped, _ = await _list_events(inbox, session, url, headers, {"limit": "1"})
    received = time.time()
    target_time = http_date(stamped)
    return 0 if target_time is None else math.floor(target_time - received)


async def _list_events(
    inbox: Inbox,
    session: aiohttp.ClientSession,
    url: str,
    headers: Mapping[str, str],
    params: Mapping[str, str],
) -> tuple[int, str | None, str]:
    """One `GET /v1/events`: its status, `Date` and text."""
    try:
        async with session.get(f"{url}/v1/events", params=params, headers=headers) as answer:
            return answer.status, answer.headers.get("Date"), await answer.text()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise InfrastructureError(
            f"target {inbox.target}: events: poll: GET /v1/events failed ({exc})"
        ) from None


async def _poll_round(
    inbox: Inbox,
    session: aiohttp.ClientSession,
    url: str,
    headers: Mapping[str, str],
    since: int,
) -> None:
    starting_after: str | None = None
    for _ in range(MAX_POLL_PAGES):
        params = {"created[gte]": str(since), "limit": "100"}
        if starting_after is not None:
            params["starting_after"] = starting_after
        status, _, text = await _list_events(inbox, session, url, headers, params)
        inbox.counts.polled_pages += 1
        if status != 200:
            raise InfrastructureError(
                f"target {inbox.target}: events: poll: GET /v1/events answered {status}: "
                f"{redact_text(text)[:200]}"
            )
        try:
            page = load_json(text)
        except JSONProblem as exc:
            raise InfrastructureError(
                f"target {inbox.target}: events: poll: the answer is not JSON ({exc.problem})"
            ) from None
        items = page.get("data") if isinstance(page, dict) else None
        if not isinstance(items, list):
            raise InfrastructureError(
                f"target {inbox.target}: events: poll: the answer is not a list of events"
            )
        for item in items:
            if event_problem(item) is None and item["id"] not in inbox.seen:
                await inbox.take(item)
        if not items or not page.get("has_more"):
            return
        starting_after = str(items[-1].get("id"))


# --- settling ------------------------------------------------------------------------------


async def settle(inboxes: list[Inbox], *, quiet: float, max_wait: float) -> None:
    """Wait until no inbox has had a delivery for `quiet` seconds, or `max_wait` seconds
    have passed (then each inbox still hearing says `settled: false`)."""
    if not inboxes:
        return
    deadline = time.monotonic() + max_wait
    while True:
        now = time.monotonic()
        latest = max(inbox.last_arrival for inbox in inboxes)
        if now - latest >= quiet:
            return
        if now >= deadline:
            for inbox in inboxes:
                if now - inbox.last_arrival < quiet:
                    inbox.counts.settled = False
            return
        await asyncio.sleep(min(quiet - (now - latest), deadline - now, 0.25) + 0.01)


# --- one replay's reception ----------------------------------------------------------------


@dataclass(slots=True)
class EventSource:
    """How one target's events reach this replay: `webhook` to a receiver (with the
    secret that signs them, and what subscribes the target when it can be told), or
    `poll` (its url and the headers a GET /v1/events needs)."""

    target: str
    mode: str
    url: str
    secret: str | None = None
    host: str = "127.0.0.1"
    port: int = 0
    subscribe: Callable[[str, str], None] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    forwarder: EventForwarder | None = None


class EventReception:
    """Every target's events during one replay: receivers started (and launched targets
    subscribed) before the first request, `answered(target)` when a target's last request
    was answered, `finish()` to settle, poll and stop. run.json's `events` is `to_json()`."""

    def __init__(
        self,
        run_dir: Path,
        sources: list[EventSource],
        *,
        quiet: float,
        max_wait: float,
        tolerance: float,
    ) -> None:
        self.run_dir = run_dir
        self.sources = sources
        self.quiet = quiet
        self.max_wait = max_wait
        self.tolerance = tolerance
        self.inboxes: dict[str, Inbox] = {}
        self.receivers: list[WebhookReceiver] = []

    async def start(self) -> None:
        for source in self.sources:
            inbox = Inbox(
                source.target,
                events_file(self.run_dir, source.target),
                source.mode,
                source.forwarder,
            )
            self.inboxes[source.target] = inbox
            if source.mode != "webhook":
                continue
            assert source.secret is not None
            receiver = WebhookReceiver(
                inbox, source.secret, host=source.host, port=source.port, tolerance=self.tolerance
            )
            await receiver.start()
            self.receivers.append(receiver)
            if source.subscribe is not None:
                await asyncio.to_thread(source.subscribe, receiver.url, source.secret)

    def answered(self, target: str) -> None:
        inbox = self.inboxes.get(target)
        if inbox is not None and inbox.counts.source == "webhook":
            inbox.answered()

    async def finish(self, since: int) -> None:
        """Wait for webhooks to settle, poll the targets that are asked, stop receiving."""
        try:
            listening = [i for i in self.inboxes.values() if i.counts.source == "webhook"]
            await settle(listening, quiet=self.quiet, max_wait=self.max_wait)
            for source in self.sources:
                if source.mode == "poll":
                    await poll_events(
                        self.inboxes[source.target],
                        source.url,
                        source.headers,
                        since,
                        quiet=self.quiet,
                        max_wait=self.max_wait,
                    )
        finally:
            await self.stop()

    async def stop(self) -> None:
        for receiver in self.receivers:
            await receiver.stop()
        self.receivers = []
        for inbox in self.inboxes.values():
            inbox.close()

    def to_json(self) -> dict[str, Any]:
        return {
            "settings": {"quiet": self.quiet, "max_wait": self.max_wait},
            "targets": {name: inbox.counts.to_json() for name, inbox in self.inboxes.items()},
        }
