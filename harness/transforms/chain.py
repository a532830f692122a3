"""Applying a target's transforms to each request, in scenario order, with the state they
share for the whole replay of the target."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

from harness.model import Exchange, Request, Response
from harness.transforms.base import (
    Ids,
    TransformContext,
    TransformResult,
    TransformSpec,
    parameters,
)


@dataclass(slots=True)
class Applied:
    """What the transforms made of one request: the requests to send, or why none."""

    requests: list[Request]
    skipped: str | None = None


class Answered(Protocol):
    """What sending a request comes to (harness.replay.engine.SendOutcome)."""

    response: Response | None
    error: str | None


A = TypeVar("A", bound=Answered)


class TransformChain:
    """A target's transforms in scenario order, with the state they share."""

    def __init__(self, specs: list[TransformSpec], target: str, ids: Ids) -> None:
        self.specs = specs
        self.target = target
        self.ids = ids
        self.state: dict[str, Any] = {}
        self._params = [parameters(spec) for spec in specs]

    def _context(self, index: int, recorded: Exchange) -> TransformContext:
        return TransformContext(
            self.target, recorded.seq, recorded, self.ids, self.state, self._params[index]
        )

    def apply(self, recorded: Exchange, request: Request) -> Applied:
        """Run every transform over the requests the previous ones returned."""
        requests = [request]
        for index, spec in enumerate(self.specs):
            out: list[Request] = []
            for one in requests:
                if not spec.applies_to(one):
                    out.append(one)
                    continue
                try:
                    result = spec.transform.rewrite(one, self._context(index, recorded))
                    out.extend(_requests(result, spec.name))
                except Exception as exc:  # a user's transform may fail in any way
                    return Applied([], f"transform {spec.name} failed: {type(exc).__name__}: {exc}")
            if not out:
                return Applied([], f"skipped: transform {spec.name} sends nothing for this request")
            requests = out
        return Applied(requests)

    def learn(self, recorded: Exchange, answer: Response) -> list[str]:
        """Let every transform that learns see the target's answer; returns notes on
        those that failed."""
        notes: list[str] = []
        for index, spec in enumerate(self.specs):
            if spec.transform.learn is None:
                continue
            try:
                spec.transform.learn(answer, self._context(index, recorded))
            except Exception as exc:
                notes.append(f"transform {spec.name} could not learn: {type(exc).__name__}: {exc}")
        return notes

    async def send(
        self,
        send: Callable[[Request], Awaitable[A]],
        recorded: Exchange,
        request: Request,
        extra: dict[str, Any],
    ) -> tuple[Request, A | None, str | None]:
        """Transform and send: returns the request whose answer is the result, the
        answer (None when nothing was sent) and why nothing was sent. When several
        requests go out, the earlier ones are listed in `extra["steps"]`; one that fails
        stops the rest and stands as the result."""
        applied = self.apply(recorded, request)
        if applied.skipped is not None:
            extra.setdefault("notes", []).append(applied.skipped.removeprefix("skipped: "))
            return request, None, applied.skipped
        applied.requests = own_idempotency_keys(applied.requests)
        steps: list[dict[str, Any]] = []
        outcome: A | None = None
        sent = applied.requests[0]
        for position, sent in enumerate(applied.requests):
            outcome = await send(sent)
            last = position == len(applied.requests) - 1
            failed = outcome.response is None or outcome.response.status >= 400
            if last or failed:
                if not last:
                    extra.setdefault("notes", []).append(
                        f"step {position + 1} of {len(applied.requests)} failed; "
                        "the rest were not sent"
                    )
                break
            steps.append(
                {
                    "method": sent.method,
                    "path": sent.path,
                    "status": outcome.response.status if outcome.response else None,
                }
            )
        if steps:
            extra["steps"] = steps
        return sent, outcome, None


def own_idempotency_keys(requests: list[Request]) -> list[Request]:
    """Several requests made from one keep their Idempotency-Key apart: Stripe answers a
    key reused with other parameters with 400 idempotency_error. The last request keeps
    the exchange's key; an earlier one sharing it gets `KEY-step-N` (the same on resume)."""
    if len(requests) < 2:
        return requests
    last = requests[-1].header("idempotency-key")
    out = []
    for position, request in enumerate(requests[:-1], start=1):
        key = request.header("idempotency-key")
        if key is not None and key == last:
            request = replace(
                request,
                headers=request.headers.with_value("Idempotency-Key", f"{key}-step-{position}"),
            )
        out.append(request)
    out.append(requests[-1])
    return out


def _requests(result: TransformResult, name: str) -> list[Request]:
    if result is None:
        return []
    if isinstance(result, Request):
        return [result]
    out = list(result)
    for item in out:
        if not isinstance(item, Request):
            raise TypeError(f"{name} returned a {type(item).__name__}, not a Request")
    return out


def transform_chain(specs: list[TransformSpec], target: str, ids: Ids) -> TransformChain | None:
    """A target's chain, or None when it has no transforms (the engine's fast path)."""
    return TransformChain(specs, target, ids) if specs else None
