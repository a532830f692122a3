"""The baseline a replay engine has to beat: a minimal asyncio client that sends a
recording's requests as they are, `concurrency` at a time, and reads every answer, with
httpx (as a hand-written script would) or aiohttp (the HTTP client the engine uses).

No planning, no id mapping, no result file: the least any replay must do. It reads the
recording line by line, as `shadow replay` does.

    python -m bench.rawclient RECORDING URL [--concurrency 8] [--client httpx|aiohttp]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import aiohttp
import httpx
from yarl import URL

# What the HTTP client sets itself, or what a target must not be sent.
_SKIPPED = frozenset({"host", "content-length", "connection", "accept-encoding", "authorization"})


Item = tuple[str, str, list[tuple[str, str]], bytes]


async def _feed(recording: str, queue: asyncio.Queue[Item | None], workers: int) -> None:
    with open(recording, encoding="utf-8") as file:
        next(file)  # the header
        for line in file:
            request = json.loads(line)["request"]
            target = request["path"] + (f"?{request['query']}" if request["query"] else "")
            headers = [(k, v) for k, v in request["headers"] if k.lower() not in _SKIPPED]
            body = request.get("body", "").encode("utf-8")
            await queue.put((request["method"], target, headers, body))
    for _ in range(workers):
        await queue.put(None)


async def send_with_httpx(recording: str, url: str, concurrency: int) -> int:
    """Send every request of `recording` to `url`; returns how many were answered."""
    queue: asyncio.Queue[Item | None] = asyncio.Queue(4 * concurrency)
    answered = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal answered
        while (item := await queue.get()) is not None:
            method, target, headers, body = item
            response = await client.request(method, url + target, headers=headers, content=body)
            answered += response.status_code > 0

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30.0, trust_env=False) as client:
        workers = [asyncio.create_task(worker(client)) for _ in range(concurrency)]
        await _feed(recording, queue, concurrency)
        await asyncio.gather(*workers)
    return answered


async def send_with_aiohttp(recording: str, url: str, concurrency: int) -> int:
    """The same with aiohttp."""
    queue: asyncio.Queue[Item | None] = asyncio.Queue(4 * concurrency)
    answered = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal answered
        while (item := await queue.get()) is not None:
            method, target, headers, body = item
            async with session.request(
                method, URL(url + target, encoded=True), headers=headers, data=body or None
            ) as response:
                await response.read()
                answered += response.status > 0

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30.0)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        workers = [asyncio.create_task(worker(session)) for _ in range(concurrency)]
        await _feed(recording, queue, concurrency)
        await asyncio.gather(*workers)
    return answered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rawclient", description=__doc__)
    parser.add_argument("recording")
    parser.add_argument("url")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--client", choices=("httpx", "aiohttp"), default="httpx")
    args = parser.parse_args(argv)
    begin = time.perf_counter()
    send = send_with_httpx if args.client == "httpx" else send_with_aiohttp
    answered = asyncio.run(send(args.recording, args.url.rstrip("/"), args.concurrency))
    print(json.dumps({"answered": answered, "seconds": time.perf_counter() - begin}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
