"""The replay engine: one asyncio loop drives every target at once, each with a pooled
aiohttp client session, journeys in parallel up to its concurrency, a token bucket,
retries, and a result line appended per exchange as it completes (docs/replay.md).

A replay that starts while its plan is still being made sends the head of the recording
first, one exchange at a time in recorded order, and hands over to the planned replay
once the plan arrives (`TargetReplay._head`, docs/replay.md "Sending while planning").

Per target, a reader streams the recording and hands each exchange to its journey's task
(at most `WINDOW` exchanges read ahead); a journey sends its exchanges one after the
other, each once the plan's barriers allow (harness.replay.gates), rewriting the request
with what the id map has learnt so far and learning from the answer.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import aiohttp
from yarl import URL

from harness.formats.recording import RecordingReader
from harness.formats.untrusted import LINE_LIMIT_ENV, max_line_chars
from harness.model import Exchange, Headers, Request, Response
from harness.replay.credentials import Credential, recorded_credential
from harness.replay.gates import GateLayout, Gates
from harness.replay.idmap import IdMap
from harness.replay.plan import Plan, PlanInProgress
from harness.replay.progress import TargetCounters
from harness.replay.ratelimit import TokenBucket
from harness.replay.resultwriter import ResultPipe
from harness.replay.retry import RetryPolicy, next_delay, should_retry
from harness.replay.rewrite import TargetContext, rewrite_request
from harness.transforms import TransformChain

# Exchanges a target's reader may hold in memory ahead of the journeys that send them.
WINDOW = 4096
# Lines a target's head holds until the plan says their journeys: once this many are
# held, the head waits for the plan.
HEAD_HELD = WINDOW
# How often a head waiting for the planner looks again (s).
HEAD_POLL = 0.002

# Response headers that describe the encoding of the bytes on the wire, which the client
# has already decoded: kept, they would describe a body that is no longer there.
_WIRE_HEADERS = frozenset({b"content-encoding", b"transfer-encoding"})
# Headers the HTTP client would add by itself: a body sent without a Content-Type (as
# recorded) must not gain one.
_NOT_ADDED = ("Content-Type",)

# Writes Stripe cannot answer twice alike: a DELETE takes no Idempotency-Key, and sent
# again it is told the object is gone (every POST carries a key; a GET changes nothing).
UNREPEATABLE = frozenset({"DELETE"})
IN_DOUBT = (
    "in doubt: the replay was stopped while this {method} was in flight; the target may "
    "have applied it, and it cannot be sent again without changing its answer"
)


@dataclass(slots=True)
class SendOutcome:
    """The answer to a request after retries, or the error that stood in for one."""

    response: Response | None
    error: str | None
    attempts: int
    started: float  # when the attempt that was answered (the last one) was sent
    latency: float


def client_session(concurrency: int, timeout: float) -> aiohttp.ClientSession:
    """One target's pooled HTTP client: at most `concurrency` connections, kept alive.

    aiohttp rather than httpx: against a local target httpx costs about 650 µs of CPU per
    request and aiohttp about 130 µs (docs/performance.md), and the engine's loop is the
    one core a replay is limited by. No cookies are kept between requests (a replay sends
    what was recorded, and recorded cookies are dropped), no redirect is followed, and no
    proxy is taken from the environment. `timeout` bounds each attempt, answer read
    included: aiohttp's own timer, the one timer a request costs the event loop.
    """
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency),
        timeout=aiohttp.ClientTimeout(total=timeout),
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
        skip_auto_headers=_NOT_ADDED,
    )


def _response(status: int, raw_headers: Any, content: bytes) -> Response:
    headers = Headers(
        [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in raw_headers
            if name.lower() not in _WIRE_HEADERS
        ]
    )
    body: str | bytes
    try:
        body = content.decode("utf-8")
    except UnicodeDecodeError:
        body = content
    return Response(status=status, headers=headers, body=body)


_TOO_LARGE = (
    "answer not kept: its body is larger than {megabytes:g} MB (half of "
    + LINE_LIMIT_ENV
    + ", which raises it)"
)


async def _content(answer: aiohttp.ClientResponse, limit: int) -> bytes | None:
    """The body of an answer, or None when it is longer than `limit` bytes (read no
    further than that: a target may send gigabytes)."""
    if answer.content_length is not None:
        return None if answer.content_length > limit else await answer.read()
    chunks: list[bytes] = []
    size = 0
    async for chunk in answer.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class Sender:
    """Sends requests to one target: timeout per attempt, token bucket, and retries with
    exponential backoff and jitter, bounded in attempts and in seconds per exchange."""

    def __init__(
        self,
        client: aiohttp.ClientSession,
        url: str,
        retry: RetryPolicy,
        timeout: float,
        bucket: TokenBucket | None = None,
        counters: TargetCounters | None = None,
        seed: int | None = None,
    ) -> None:
        self.client = client
        self.url = url.rstrip("/")
        self.retry = retry
        self.timeout = timeout
        self.bucket = bucket
        self.counters = counters
        self._random = random.Random(seed)
        # Half the longest line a result file may have: escaped in JSON (or base64), a
        # body takes more room on its line than on the wire.
        self.max_body = max_line_chars() // 2

    async def send(self, request: Request) -> SendOutcome:
        body = request.body.encode("utf-8") if isinstance(request.body, str) else request.body
        # As recorded, byte for byte: the query is not encoded again.
        url = URL(self.url + request.target, encoded=True)
        deadline = time.monotonic() + self.retry.budget
        attempts = 0
        while True:
            attempts += 1
            if self.bucket is not None:
                await self.bucket.acquire()
            response: Response | None = None
            error: str | None = None
            started = time.time()
            oversized = False
            begin = time.perf_counter()
            if self.counters is not None:
                self.counters.in_flight.change(1, begin)
            try:
                async with self.client.request(
                    request.method,
                    url,
                    headers=request.headers,
                    data=body or None,
                    allow_redirects=False,
                ) as answer:
                    content = await _content(answer, self.max_body)
                    oversized = content is None
                    if content is None:
                        error = _TOO_LARGE.format(megabytes=self.max_body / (1 << 20))
                    else:
                        response = _response(answer.status, answer.raw_headers, content)
            except TimeoutError:
                error = f"timeout: no answer within {self.timeout:g} s"
            except aiohttp.ClientError as exc:
                error = f"connection error: {type(exc).__name__}: {exc}".rstrip(": ")
            except ValueError as exc:
                # A recorded header the HTTP client refuses to send (a line break in it).
                error = f"invalid request: {exc}"
            end = time.perf_counter()
            latency = end - begin
            if self.counters is not None:
                self.counters.in_flight.change(-1, end)
            if response is not None and not should_retry(response.status, response.headers):
                break
            if oversized:
                break  # the same answer again would be as large
            if attempts >= self.retry.attempts:
                break
            delay = next_delay(
                attempts,
                response.headers if response is not None else None,
                self.retry,
                self._random.random(),
                time.time(),
            )
            if time.monotonic() + delay > deadline:
                break
            if self.counters is not None:
                self.counters.retries += 1
            await asyncio.sleep(delay)
        return SendOutcome(response, error, attempts, started, latency)


class ResultSink(Protocol):
    """Where finished exchanges go: a target's result file, redacted on the way."""

    def write(self, exchange: Exchange) -> None: ...


class Slots:
    """At most `size` journeys in progress; a free slot goes to the waiting journey whose
    next exchange comes first in the recording, so journeys finish in about the order
    they started and an interrupted replay has few half-done journeys to redo."""

    def __init__(self, size: int) -> None:
        self._free = size
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @property
    def free(self) -> bool:
        """A slot can be taken without waiting."""
        return self._free > 0 and not self._waiters

    async def acquire(self, priority: int) -> None:
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._order), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # handed a slot just as it was cancelled: pass it on
            raise

    def release(self) -> None:
        while self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)
                return
        self._free += 1


class InRecordedOrder:
    """The orderings of a head (see TargetReplay._head): it sends one exchange at a time
    in recorded order, as a replay with concurrency 1 does, so every ordering of the plan
    holds by itself and nothing is left to wait for."""

    def ready(self, position: int) -> bool:
        return True

    async def wait(self, position: int) -> None:
        return None

    def done(self, position: int) -> None:
        return None


class HeadJournal:
    """Where a head writes its lines (TargetReplay._head) until the plan says their
    journeys: to the target's result writer, which redacts them on the other core and
    appends them to a file of its own (`<target>.head.jsonl`); and held in memory, to be
    written into the target's file with their journeys when the plan arrives.

    Each line is in the writer's pipe before the head sends its next exchange (when the
    writer is a pipe's size behind, the head waits for it: `full`, `room`), so a replay
    killed during the head loses none of them: a resumed run waits for that writer, then
    folds them into the target's file (harness.replay.session.fold_head)."""

    def __init__(self, pipe: ResultPipe) -> None:
        self.pipe = pipe
        self.lines: list[Exchange] = []

    def write(self, exchange: Exchange) -> None:
        self.pipe.write_head(exchange)
        self.lines.append(exchange)

    async def write_through(self, exchange: Exchange) -> None:
        """Write a line and return once it is in the pipe (an in-doubt mark)."""
        self.write(exchange)
        await self.pipe.flushed()

    @property
    def full(self) -> bool:
        """A line is not in the pipe yet: the head waits (room) before it goes on."""
        return self.pipe.pending

    async def room(self) -> None:
        await self.pipe.flushed()


class PlanArrival:
    """The plan of a replay that sends while it plans, shared by its targets: how far the
    planner has read, and the plan with its gate layout once made (the layout is computed
    once, for every target). `arrived(plan, layout)` is called first (the session writes
    the plan's figures into run.json)."""

    def __init__(
        self, planning: PlanInProgress, arrived: Callable[[Plan, GateLayout], None]
    ) -> None:
        self.planning = planning
        self._arrived = arrived
        self._future: asyncio.Future[tuple[Plan, GateLayout]] | None = None
        self.heads: dict[str, int] = {}  # per target, the exchanges its head sent
        self.handed_over: set[str] = set()  # the targets whose head has the plan

    @property
    def read(self) -> int:
        """How many exchanges, from the first, the planner has accepted so far."""
        return self.planning.read

    def future(self) -> asyncio.Future[tuple[Plan, GateLayout]]:
        """Done once the plan is there (or planning failed); the same for every target.
        Wait for it with asyncio.wait: awaited directly, a cancelled target would cancel
        it for the others."""
        if self._future is None:
            self._future = asyncio.ensure_future(self._arrive())
        return self._future

    async def _arrive(self) -> tuple[Plan, GateLayout]:
        try:
            plan = await asyncio.to_thread(self.planning.wait)
        except asyncio.CancelledError:
            # The replay was stopped: stop the planner, which ends the thread waiting for it.
            self.planning.close()
            raise
        layout = GateLayout(plan)
        self._arrived(plan, layout)
        return plan, layout


class TargetReplay:
    """Replays a planned recording against one target, appending to its result file;
    given `planning` instead of a plan, it sends the head of the recording first."""

    def __init__(
        self,
        *,
        context: TargetContext,
        url: str,
        plan: Plan | None,
        recording: Path,
        idmap: IdMap,
        writer: ResultSink,
        counters: TargetCounters,
        concurrency: int,
        retry: RetryPolicy,
        timeout: float,
        rate_limit: float | None = None,
        send_unresolved: bool = False,
        completed: bytearray | None = None,
        transforms: TransformChain | None = None,
        gates: GateLayout | None = None,
        marks_in_flight: bool = False,
        mine: bytearray | None = None,
        on_done: Callable[[int, Exchange], None] | None = None,
        unrepeatable: frozenset[str] = UNREPEATABLE,
        planning: PlanArrival | None = None,
        journal: HeadJournal | None = None,
    ) -> None:
        self.context = context
        self.url = url
        self.planning = planning
        self.journal = journal  # where the head's lines go until the plan is there
        self.recording = recording
        self.idmap = idmap
        self.writer = writer
        self.counters = counters
        self.concurrency = concurrency
        self.retry = retry
        self.timeout = timeout
        self.bucket = TokenBucket(rate_limit) if rate_limit else None
        self.send_unresolved = send_unresolved
        self.transforms = transforms
        # A target that keeps its state (one reached by url): an unrepeatable write gets
        # an IN_DOUBT line before it is sent, which its result replaces; a resumed run
        # that finds the mark alone does not send it again.
        self.marks_in_flight = marks_in_flight
        self.unrepeatable = unrepeatable  # the methods it marks (every write, without idempotency)
        # A shard of a run sharded over several machines (harness.distributed): per
        # position, 1 when this replay sends it. The others are sent elsewhere, and
        # marked done in `gates` from outside when an exchange here waits for them;
        # `on_done` hears of each exchange this replay finishes.
        self.mine = mine
        self.on_done = on_done
        self.gates: Gates | InRecordedOrder = InRecordedOrder()
        if plan is not None:
            self._take_plan(plan, gates, completed)
        elif planning is None or completed is not None or mine is not None:
            raise ValueError("a replay without a plan sends a head: give it planning alone")
        self._queues: dict[int, asyncio.Queue[tuple[int, Exchange]]] = {}
        self._slots = Slots(concurrency)
        self._window = asyncio.Semaphore(WINDOW)
        self._sender: Sender | None = None
        # A result writer in a process of its own holds lines for it in memory: journeys
        # wait when it falls far behind, and for an in-doubt mark to reach it (at once,
        # even while a head holds its results).
        self._pipe: ResultPipe | HeadJournal | None = (
            writer if isinstance(writer, ResultPipe) else None
        )

    def _take_plan(
        self, plan: Plan, layout: GateLayout | None, completed: bytearray | None
    ) -> None:
        self.plan = plan
        # Only the times a request holds are worth learning (IdMap.teaches then lets most
        # answers go unwalked).
        self.idmap.only_times(plan.times)
        # Per position, 1 when its result is there already (a resumed run's, or the
        # head's): it is not sent again; per journey, the exchanges left to send.
        self.completed = completed
        self.remaining = array("q", plan.sizes)
        self.gates = Gates(layout or plan)
        if completed is not None:
            for position, journey in enumerate(plan.journey_of):
                if completed[position]:
                    self.remaining[journey] -= 1
                    self.gates.done(position)

    async def run(self) -> None:
        async with client_session(self.concurrency, self.timeout) as client:
            self._sender = Sender(
                client, self.url, self.retry, self.timeout, self.bucket, self.counters
            )
            if self.planning is not None:
                await self._head(self.planning)
            async with asyncio.TaskGroup() as group:
                await self._read(group)

    async def _head(self, planning: PlanArrival) -> None:
        """Send the first exchanges of the recording one at a time, in recorded order,
        while the plan is being made; once it is there, let the exchange in flight finish
        and take the plan with the head's exchanges done (as a resumed run takes what it
        finds done).

        One at a time in recorded order is what a replay with concurrency 1 does: every
        ordering of the plan holds by itself, whatever later exchanges reveal. Only
        exchanges the planner has accepted are sent. Its lines go to `journal` until the
        plan says their journeys (at most HEAD_HELD of them), then into the result file.
        """
        arrival = planning.future()
        journal = self.journal
        assert journal is not None, "a head needs a journal"
        # Its lines (results and in-doubt marks alike) go to the journal, at once.
        writer, pipe = self.writer, self._pipe
        self.writer, self._pipe = journal, journal
        sent = 0
        try:
            with RecordingReader(self.recording) as reader:
                for position, exchange in enumerate(reader):
                    while not arrival.done() and (
                        planning.read <= position or len(journal.lines) >= HEAD_HELD
                    ):
                        await asyncio.wait({arrival}, timeout=HEAD_POLL)
                    if arrival.done():
                        break
                    await self._window.acquire()
                    await self._exchange(position, exchange, None)
                    sent = planning.heads[self.context.name] = position + 1
            if not arrival.done():
                await asyncio.wait({arrival})  # the head sent every exchange
            plan, layout = arrival.result()
        finally:
            self.writer, self._pipe = writer, pipe
        self.counters.in_flight.hand_over(time.perf_counter())
        completed = bytearray(plan.exchanges)
        completed[:sent] = bytes([1]) * sent
        self._take_plan(plan, layout, completed)
        position_of = {plan.seqs[position]: position for position in range(sent)}
        for line in journal.lines:
            line.extra["journey"] = plan.journey_of[position_of[line.seq]]
            writer.write(line)
        planning.handed_over.add(self.context.name)
        if self._pipe is not None and self._pipe.full:
            await self._pipe.room()

    async def _read(self, group: asyncio.TaskGroup) -> None:
        plan = self.plan
        with RecordingReader(self.recording) as reader:
            # A shard parses its own exchanges only.
            items = enumerate(reader) if self.mine is None else reader.positions(self.mine)
            for position, exchange in items:
                journey = plan.journey_of[position]
                if self.completed is not None and self.completed[position]:
                    continue
                await self._window.acquire()
                if self.remaining[journey] == 1:
                    group.create_task(self._single(position, exchange, journey))
                else:
                    queue = self._queues.get(journey)
                    if queue is None:
                        queue = self._queues[journey] = asyncio.Queue()
                        group.create_task(self._journey(journey, queue))
                    queue.put_nowait((position, exchange))
                if position % 32 == 0:
                    await asyncio.sleep(0)  # let the journeys run while reading ahead

    async def _barrier(self, position: int) -> None:
        """Wait until the plan's orderings let `position` go, timing the wait."""
        begin = time.perf_counter()
        await self.gates.wait(position)
        self.counters.barrier_waits.add(time.perf_counter() - begin)

    async def _slot(self, position: int) -> None:
        """Take a slot, timing the wait when none is free."""
        if self._slots.free:
            await self._slots.acquire(position)
            return
        begin = time.perf_counter()
        await self._slots.acquire(position)
        self.counters.slot_waits.add(time.perf_counter() - begin)

    async def _single(self, position: int, exchange: Exchange, journey: int) -> None:
        if not self.gates.ready(position):
            await self._barrier(position)
        await self._slot(position)
        try:
            await self._exchange(position, exchange, journey)
        finally:
            self._slots.release()

    async def _journey(self, journey: int, queue: asyncio.Queue[tuple[int, Exchange]]) -> None:
        """Send a journey's exchanges in order, holding a slot while it can go on; a
        journey waiting for a barrier or for the reader gives its slot up meanwhile."""
        holding = False
        try:
            for _ in range(self.remaining[journey]):
                if holding and queue.empty():
                    self._slots.release()
                    holding = False
                if queue.empty():
                    begin = time.perf_counter()
                    position, exchange = await queue.get()
                    self.counters.reader_waits.add(time.perf_counter() - begin)
                else:
                    position, exchange = queue.get_nowait()
                if not self.gates.ready(position):
                    if holding:
                        self._slots.release()
                        holding = False
                    await self._barrier(position)
                if not holding:
                    await self._slot(position)
                    holding = True
                await self._exchange(position, exchange, journey)
        finally:
            if holding:
                self._slots.release()
        del self._queues[journey]

    async def _exchange(self, position: int, recorded: Exchange, journey: int | None) -> None:
        status = recorded.response.status if recorded.response is not None else None
        credential = recorded_credential(recorded.request, status)
        rewritten = rewrite_request(
            recorded.request, recorded.seq, self.idmap, self.context, credential
        )
        extra: dict[str, Any] = {
            "journey": journey,
            "attempts": 0,
            "unresolved": rewritten.unresolved,
            "skipped": False,
            "idempotent_replayed": False,
        }
        if credential is not Credential.TARGET_KEY:
            # Replayed as recorded: without a key, or with one every target refuses.
            extra["credential"] = str(credential)
        if rewritten.unresolved and _answered_missing(recorded):
            # The recording itself was told these ids name nothing: asking the target
            # about them unchanged is the faithful replay, not an unresolved reference.
            extra["missing"] = rewritten.unresolved
            extra["unresolved"] = rewritten.unresolved = []
        if rewritten.notes:
            extra["notes"] = rewritten.notes
        if rewritten.shifted:
            # What the recording said beside what was sent (docs/replay.md, time).
            extra["times_shifted"] = [
                {"parameter": where.partition(":")[2], "recorded": old, "sent": new, "from": how}
                for where, old, new, how in rewritten.shifted
            ]
        request, outcome, skipped = rewritten.request, None, None
        if rewritten.redacted:
            # A marker is never sent, whatever on_unresolved says: it is not what the
            # client sent, and a target would answer something else.
            extra["redacted"] = rewritten.redacted
            skipped = "skipped: holds redacted secrets with no value to send: " + ", ".join(
                rewritten.redacted
            )
        elif rewritten.unresolved and not self.send_unresolved:
            skipped = "skipped: refers to ids this target has no counterpart for: " + ", ".join(
                rewritten.unresolved
            )
        else:
            assert self._sender is not None
            if self.marks_in_flight and request.method.upper() in self.unrepeatable:
                mark = _in_doubt(recorded.seq, request, journey)
                if self._pipe is not None:
                    await self._pipe.write_through(mark)  # safe before the request leaves
                else:
                    self.writer.write(mark)
            if self.transforms is not None:
                request, outcome, skipped = await self.transforms.send(
                    self._sender.send, recorded, request, extra
                )
            else:
                outcome = await self._sender.send(request)
        account = recorded.request.header("stripe-account")
        if account:
            # Which connected account the request acted for on the target (run.json
            # tallies them per target: accounts_used).
            sent = request.header("stripe-account") if outcome is not None else None
            extra["stripe_account"] = {"recorded": account, "sent": sent}
        if outcome is None:
            extra["skipped"] = True
            result = Exchange(
                seq=recorded.seq,
                started=time.time(),
                duration=0.0,
                request=request,
                error=skipped or "skipped",
                extra=extra,
            )
        else:
            extra["attempts"] = outcome.attempts
            if outcome.response is not None:
                self.idmap.learn_responses(recorded.response, outcome.response)
                if self.transforms is not None:
                    notes = self.transforms.learn(recorded, outcome.response)
                    if notes:
                        extra.setdefault("notes", []).extend(notes)
                replayed = (outcome.response.header("idempotent-replayed") or "").lower()
                extra["idempotent_replayed"] = replayed == "true"
            result = Exchange(
                seq=recorded.seq,
                started=outcome.started,
                duration=outcome.latency,
                request=request,
                response=outcome.response,
                error=outcome.error,
                extra=extra,
            )
        self._finish(position, result)
        if self._pipe is not None and self._pipe.full:
            begin = time.perf_counter()
            await self._pipe.room()  # the result writer is far behind: let it catch up
            self.counters.writer_waits.add(time.perf_counter() - begin)

    def _finish(self, position: int, result: Exchange) -> None:
        count(self.counters, result)
        self.writer.write(result)
        if self.on_done is not None:
            self.on_done(position, result)
        self.gates.done(position)
        self._window.release()


def _in_doubt(seq: int, request: Request, journey: int | None) -> Exchange:
    """The line written before an unrepeatable write is sent (see TargetReplay)."""
    return Exchange(
        seq=seq,
        started=time.time(),
        duration=0.0,
        request=request,
        error=IN_DOUBT.format(method=request.method.upper()),
        extra={"journey": journey, "in_doubt": True, "attempts": 0, "skipped": False},
    )


def _answered_missing(recorded: Exchange) -> bool:
    """The recorded answer was a 404: the ids it asked about did not exist."""
    return recorded.response is not None and recorded.response.status == 404


def count(counters: TargetCounters, result: Exchange) -> None:
    """Add one result line to a target's counters."""
    counters.done += 1
    extra = result.extra
    if extra.get("skipped"):
        counters.skipped += 1
    else:
        status = result.response.status if result.response is not None else None
        if status is None or status >= 500 or status == 429:
            counters.errors += 1
            if counters.first_error is None:
                counters.first_error = result.error or f"status {status}"
    if result.response is not None:
        counters.answered += 1
    if extra.get("unresolved"):
        counters.unresolved += 1
    if extra.get("idempotent_replayed"):
        counters.idempotent_replayed += 1
    shifted = extra.get("times_shifted")
    if shifted:
        counters.times_shifted += len(shifted)
    account = extra.get("stripe_account")
    if isinstance(account, dict) and isinstance(account.get("recorded"), str):
        sent = account.get("sent")
        pair = (account["recorded"], sent if isinstance(sent, str) else None)
        counters.accounts[pair] = counters.accounts.get(pair, 0) + 1
