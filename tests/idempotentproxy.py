"""Stripe's idempotency in front of localstripe, which has none: a target that keeps its
state between replays, as a real account does, for the resume tests.

`python tests/idempotentproxy.py --port N --upstream URL` serves on 127.0.0.1:N and
forwards every request to URL (a localstripe). A POST with an `Idempotency-Key` is
forwarded once; the same key again gets the stored answer with `Idempotent-Replayed:
true`, or a 400 `idempotency_error` when its method, path or body differ, as Stripe
answers. `GET /_stats` says how often each key was forwarded, and how many POSTs.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass, field

from aiohttp import ClientSession, ClientTimeout, web

# Headers that describe the upstream connection or body encoding, not the answer.
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "content-encoding",
}


@dataclass
class Stored:
    fingerprint: tuple[str, str, bytes]
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class State:
    upstream: str
    answers: dict[str, Stored] = field(default_factory=dict)
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    forwarded: dict[str, int] = field(default_factory=dict)
    posts: int = 0


def _respond(stored: Stored, replayed: bool) -> web.Response:
    headers = [(k, v) for k, v in stored.headers if k.lower() not in _HOP_BY_HOP]
    if replayed:
        headers.append(("Idempotent-Replayed", "true"))
    return web.Response(status=stored.status, headers=headers, body=stored.body)


async def _forward(
    state: State, session: ClientSession, request: web.Request, body: bytes
) -> Stored:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", *_HOP_BY_HOP)}
    async with session.request(
        request.method, state.upstream + request.path_qs, headers=headers, data=body or None
    ) as answer:
        content = await answer.read()
        return Stored(
            (request.method, request.path_qs, body),
            answer.status,
            [(k, v) for k, v in answer.headers.items()],
            content,
        )


def application(upstream: str) -> web.Application:
    state = State(upstream.rstrip("/"))
    app = web.Application(client_max_size=64 << 20)

    async def session_context(app: web.Application):  # type: ignore[no-untyped-def]
        app["session"] = ClientSession(timeout=ClientTimeout(total=60))
        yield
        await app["session"].close()

    app.cleanup_ctx.append(session_context)

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({"forwarded": state.forwarded, "posts": state.posts})

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        session: ClientSession = request.app["session"]
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or key is None:
            return _respond(await _forward(state, session, request, body), False)
        lock = state.locks.setdefault(key, asyncio.Lock())
        async with lock:  # the same key twice at once: the second waits for the first
            stored = state.answers.get(key)
            fingerprint = (request.method, request.path_qs, body)
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    error = {
                        "error": {
                            "type": "idempotency_error",
                            "message": "Keys for idempotent requests can only be used with "
                            "the same parameters they were first used with.",
                        }
                    }
                    return web.json_response(error, status=400)
                return _respond(stored, True)
            state.posts += 1
            state.forwarded[key] = state.forwarded.get(key, 0) + 1
            stored = await _forward(state, session, request, body)
            state.answers[key] = stored
            return _respond(stored, False)

    app.router.add_get("/_stats", stats)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    arguments = parser.parse_args()
    web.run_app(
        application(arguments.upstream),
        host="127.0.0.1",
        port=arguments.port,
        print=lambda *_: None,
    )
