"""A target whose ids have all-lowercase random parts, as about one id in five million of
localstripe's (and of Stripe's 14-character ones) has: an id map or a compare that takes
such an id for a word shows a difference that is none.

`python tests/lowercaseproxy.py --port N` starts its own localstripe and answers on
127.0.0.1:N by forwarding every request to it, each id in an answer given a lowercase
alias of its length (`cus_UzivYKRp2JBnCC` → `cus_qkdmwzexlrbtao`), each alias in a
request (path, query, body) turned back into the id it stands for.
"""

from __future__ import annotations

import argparse
import random
import re
import signal
import string
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from harness.replay.launch.localstripe import localstripe
from harness.stripe import ID_PATTERN, NON_OBJECT_PREFIXES, id_prefix

# An alias in a request: a prefix, `_`, lowercase letters only.
_ALIAS = re.compile(r"(?<![A-Za-z0-9_])[a-z]+_[a-z]{8,}(?![A-Za-z0-9])")
_HOP_HEADERS = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})


class Aliases:
    """Id ↔ alias, one to one, made as ids are first seen (thread-safe)."""

    def __init__(self, seed: int = 0) -> None:
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.alias: dict[str, str] = {}
        self.real: dict[str, str] = {}

    def _of(self, match: re.Match[str]) -> str:
        found = match.group(0)
        prefix = id_prefix(found)
        if prefix in NON_OBJECT_PREFIXES:
            return found
        with self._lock:
            alias = self.alias.get(found)
            while alias is None or (alias in self.real and self.real[alias] != found):
                tail = len(found) - len(prefix) - 1
                alias = prefix + "_" + "".join(self._random.choices(string.ascii_lowercase, k=tail))
            self.alias[found], self.real[alias] = alias, found
        return alias

    def hide(self, text: str) -> str:
        """Every id in an answer as its alias."""
        return ID_PATTERN.sub(self._of, text)

    def show(self, text: str) -> str:
        """Every alias in a request as the id it stands for."""
        return _ALIAS.sub(lambda m: self.real.get(m.group(0), m.group(0)), text)


def handler(upstream: str, aliases: Aliases) -> type[BaseHTTPRequestHandler]:
    client = httpx.Client(base_url=upstream, timeout=30.0, trust_env=False)

    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS]
            answer = client.request(
                self.command, aliases.show(self.path), headers=headers, content=aliases.show(body)
            )
            content = aliases.hide(answer.text).encode()
            self.send_response(answer.status_code)
            for key, value in answer.headers.items():
                if key.lower() not in _HOP_HEADERS | {"content-encoding"}:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = do_DELETE = _forward

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Forward


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port

    def stop(*_: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    upstream = localstripe("lowercase-upstream", tied_to_parent=True)
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), handler(upstream.url, Aliases()))
        server.daemon_threads = True
        server.serve_forever()
    finally:
        upstream.stop()


if __name__ == "__main__":
    main()
