"""A recording as a mitmproxy flow file, its requests pointed at a target, so that
mitmproxy's own client replay (`mitmdump -n -C FILE`) can send the same traffic."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

from mitmproxy import connection, http, io

from harness.formats.recording import RecordingReader

# Headers that describe the recorded connection, not the request.
_SKIPPED = frozenset({"host", "content-length", "connection", "accept-encoding"})


def write_flows(recording: Path, target_url: str, out: Path, limit: int | None = None) -> int:
    """Write the first `limit` requests of `recording` (all by default) as HTTP flows
    to `target_url`; returns how many."""
    parts = urlsplit(target_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    written = 0
    with open(out, "wb") as file, RecordingReader(recording) as reader:
        writer = io.FlowWriter(file)
        for exchange in reader:
            if limit is not None and written >= limit:
                break
            request = exchange.request
            headers = [
                (name.encode(), value.encode())
                for name, value in request.headers
                if name.lower() not in _SKIPPED
            ]
            made = http.Request.make(
                request.method,
                f"http://{host}:{port}{request.target}",
                request.body,
                headers,
            )
            now = time.time()
            client = connection.Client(
                peername=("127.0.0.1", 50000), sockname=("127.0.0.1", 8080), timestamp_start=now
            )
            server = connection.Server(address=(host, port))
            flow = http.HTTPFlow(client, server)
            flow.request = made
            flow.request.timestamp_start = flow.request.timestamp_end = now
            writer.add(flow)
            written += 1
    return written
