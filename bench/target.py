"""The fast target: a Stripe-shaped HTTP server that costs next to nothing per request.

A raw asyncio protocol (HTTP/1.1, keep-alive, Content-Length bodies) answering every
request with `bench.answers.answer`: fresh ids, canned JSON, no state. `--latency`
delays each answer (without blocking the loop) to stand in for a real API; `--variant`
answers like a new API version (`bench.answers.VARIANTS`). Listens on 127.0.0.1 only.

    python -m bench.target --port 0 [--latency 0.005] [--variant]
    # listening on http://127.0.0.1:PORT
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
import urllib.request
from pathlib import Path

from bench.answers import VARIANTS, IdMint, answer
from harness.replay.launch.process import LocalProcess, free_port

ROOT = Path(__file__).resolve().parents[1]
_REASONS = {200: b"OK", 400: b"Bad Request", 402: b"Payment Required", 404: b"Not Found"}
READY_PATH = "/v1/ready"
# Asked after a command ran: when its first request came (time to first request).
FIRST_PATH = "/_bench/first_request"


class _Connection(asyncio.Protocol):
    def __init__(self, server: FastTargetServer) -> None:
        self.server = server
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1")
            lines = head.split("\r\n")
            length = 0
            version = "2026-10-28.endive"
            for line in lines[1:]:
                name, _, value = line.partition(":")
                lower = name.strip().lower()
                if lower == "content-length":
                    length = int(value.strip())
                elif lower == "stripe-version":
                    version = value.strip()
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            method, target, _ = lines[0].split(" ", 2)
            if target == FIRST_PATH:
                response = self.server.take_first()
            else:
                response = self.server.respond(method, target, body, version)
            if self.server.latency > 0:
                asyncio.get_running_loop().call_later(self.server.latency, self._send, response)
            else:
                self._send(response)

    def _send(self, response: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(response)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


class FastTargetServer:
    """What the protocol answers with; counts requests."""

    def __init__(self, latency: float = 0.0, variant: str = "") -> None:
        self.latency = latency
        self.variant = variant
        self.mint = IdMint()
        self.requests = 0
        self.first: float | None = None  # when the first request since take_first came

    def take_first(self) -> bytes:
        """The answer to FIRST_PATH: when the first request since the last one came (the
        Unix time, or null), and forget it."""
        payload = json.dumps({"first": self.first}).encode("utf-8")
        self.first = None
        return (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(payload)}\r\n\r\n".encode("latin-1")
            + payload
        )

    def respond(self, method: str, target: str, body: bytes, version: str) -> bytes:
        self.requests += 1
        if self.first is None and target != READY_PATH:
            self.first = time.time()
        path, _, query = target.partition("?")
        status, data = answer(
            method,
            path,
            query,
            body.decode("utf-8", "replace"),
            int(time.time()),
            self.mint,
            self.variant,
        )
        payload = json.dumps(data).encode("utf-8")
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, b'OK').decode()}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n"
            f"Request-Id: {self.mint('req')}\r\n"
            f"Stripe-Version: {version}\r\n"
            "Connection: keep-alive\r\n\r\n"
        )
        return head.encode("latin-1") + payload


async def serve(port: int, latency: float, variant: str) -> None:
    server = FastTargetServer(latency, variant)
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(lambda: _Connection(server), "127.0.0.1", port)
    bound = listener.sockets[0].getsockname()[1]
    print(f"listening on http://127.0.0.1:{bound}", flush=True)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with listener:
        await stop.wait()


class FastTarget:
    """The fast target as a child process, for a `with` block: `url` once started."""

    def __init__(self, latency: float = 0.0, variant: str = "", log: Path | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "bench.target", "--port", str(self.port)]
        command += ["--latency", str(latency)]
        if variant:
            command += ["--variant", variant]
        self._process = LocalProcess(
            "fast-target", command, self.url, ready_path=READY_PATH, log_path=log, cwd=ROOT
        )

    def take_first_request(self) -> float | None:
        """When the first request since the last call came (Unix time), if one did."""
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with direct.open(self.url + FIRST_PATH, timeout=10) as answer:
            first = json.load(answer)["first"]
        return float(first) if first is not None else None

    def __enter__(self) -> FastTarget:
        self._process.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._process.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.target", description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per answer")
    parser.add_argument("--variant", choices=VARIANTS, default="", help="answer like a new version")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.latency, args.variant))
    return 0


if __name__ == "__main__":
    sys.exit(main())
