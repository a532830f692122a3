"""A small HTTP/1.1 server that misbehaves on purpose, for the replay engine's tests.

`python tests/faultserver.py --port N` serves on 127.0.0.1:N. The first path segment
after /v1/ picks the behaviour, the rest names the exchange (attempts are counted per
path); `times=K` in the query says how many attempts misbehave before a 200:

    /v1/ok/NAME            200 at once
    /v1/drop/NAME          closes the connection without an answer
    /v1/flaky/NAME         500
    /v1/limited/NAME       429 with Retry-After: `after` (default 1); an attempt that comes
                           back sooner than asked gets 429 again, never a 200
    /v1/hang/NAME          answers only after `hang` seconds (default 30)
    /v1/stop/NAME          503 with Stripe-Should-Retry: false
    /v1/nudge/NAME         409 with Stripe-Should-Retry: true
    /v1/replayed/NAME      200 with Idempotent-Replayed: true
    /_stats                JSON: per path, the attempts and the headers each one carried
    /_ready                200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

STATS: dict[str, list[dict[str, Any]]] = {}
REASONS = {
    200: "OK",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Error",
    503: "Unavailable",
}


def _answer(status: int, body: Any, headers: dict[str, str] | None = None) -> bytes:
    data = json.dumps(body).encode()
    lines = [
        f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}",
        "Content-Type: application/json",
        f"Content-Length: {len(data)}",
        "Request-Id: req_fault",
    ]
    lines.extend(f"{k}: {v}" for k, v in (headers or {}).items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


async def _read_request(
    reader: asyncio.StreamReader,
) -> tuple[str, str, dict[str, str], bytes] | None:
    line = await reader.readline()
    if not line:
        return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    headers: dict[str, str] = {}
    while True:
        raw = await reader.readline()
        if raw in (b"\r\n", b"\n", b""):
            break
        name, _, value = raw.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
    return method, target, headers, body


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            request = await _read_request(reader)
            if request is None:
                break
            method, target, headers, body = request
            parts = urlsplit(target)
            if parts.path == "/_ready":
                writer.write(_answer(200, {"ready": True}))
            elif parts.path == "/_stats":
                writer.write(_answer(200, STATS))
            else:
                response = await _behave(method, parts.path, parse_qs(parts.query), headers, body)
                if response is None:
                    break  # drop: close without an answer
                writer.write(response)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def _behave(
    method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], body: bytes
) -> bytes | None:
    attempts = STATS.setdefault(path, [])
    now = time.monotonic()
    attempts.append(
        {"method": method, "headers": headers, "body": body.decode("utf-8", "replace"), "at": now}
    )
    attempt = len(attempts)
    segments = path.strip("/").split("/")
    behaviour = segments[1] if len(segments) > 1 else ""
    times = int(query.get("times", ["1"])[0])
    failing = attempt <= times
    ok = _answer(
        200, {"id": "obj_" + segments[-1], "object": "thing", "path": path, "attempt": attempt}
    )
    if behaviour == "drop" and failing:
        return None
    if behaviour == "flaky" and failing:
        return _answer(500, {"error": {"type": "api_error", "message": "flaky"}})
    if behaviour == "limited":
        after = float(query.get("after", ["1"])[0])
        previous = attempts[-2]["at"] if attempt > 1 else None
        if failing or (previous is not None and now - previous < after):
            return _answer(
                429, {"error": {"type": "rate_limit_error"}}, {"Retry-After": f"{after:g}"}
            )
    if behaviour == "hang" and failing:
        await asyncio.sleep(float(query.get("hang", ["30"])[0]))
    if behaviour == "stop" and failing:
        return _answer(503, {"error": {"type": "api_error"}}, {"Stripe-Should-Retry": "false"})
    if behaviour == "nudge" and failing:
        return _answer(
            409, {"error": {"type": "idempotency_error"}}, {"Stripe-Should-Retry": "true"}
        )
    if behaviour == "replayed":
        return _answer(
            200, {"id": "obj_" + segments[-1], "object": "thing"}, {"Idempotent-Replayed": "true"}
        )
    if behaviour in ("ok", "drop", "flaky", "limited", "hang", "stop", "nudge"):
        return ok
    return _answer(404, {"error": {"type": "invalid_request_error", "message": "Not Found"}})


async def serve(port: int) -> None:
    server = await asyncio.start_server(_handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(serve(parser.parse_args().port))
