"""A stand-in for Stripe's `stripe-mock` binary, for the preset's tests: started as
`stripe-mock -http-addr HOST:PORT -https-addr HOST:PORT` (the only arguments the preset
passes; anything else is an error), it listens on both addresses, as stripe-mock does,
and serves Stripe-shaped JSON on the HTTP one the way stripe-mock does: a test key is
required, every object says `created: 1234567890`, every answer `Request-Id: req_123`.
Unlike stripe-mock it remembers the customers it creates.

`POST /v1/files` takes an upload as Stripe does: a multipart body whose parts are split by
the boundary its Content-Type names, or a 400 saying what is wrong; the file object it
answers has the sha256 of the file's bytes as `title`, so a test sees what arrived.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import secrets
import socket
import string
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

FIXED_CREATED = 1234567890
_ALPHABET = string.ascii_letters + string.digits

customers: dict[str, dict[str, Any]] = {}


def _new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(14))


def _error(kind: str, message: str, **extra: str) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message, **extra}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Request-Id", "req_123")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        if self.headers.get("Authorization", "").startswith("Bearer sk_test_"):
            return True
        self._answer(401, _error("invalid_request_error", "You did not provide an API key."))
        return False

    def _upload(self, body: bytes) -> None:
        found = re.fullmatch(
            r'multipart/form-data; *boundary="?([^";]+)"?', self.headers.get("Content-Type", "")
        )
        if found is None:
            self._answer(
                400,
                _error("invalid_request_error", "request Content-Type isn't multipart/form-data"),
            )
            return
        delimiter = b"--" + found.group(1).encode()
        if not body.startswith(delimiter + b"\r\n") or not body.endswith(delimiter + b"--\r\n"):
            self._answer(400, _error("invalid_request_error", "multipart body: bad boundary"))
            return
        fields: dict[str, str] = {}
        file: tuple[str, bytes] | None = None
        for part in body[len(delimiter) + 2 : -len(delimiter) - 6].split(
            b"\r\n" + delimiter + b"\r\n"
        ):
            head, _, content = part.partition(b"\r\n\r\n")
            name = re.search(rb'name="([^"]*)"', head)
            filename = re.search(rb'filename="([^"]*)"', head)
            if name is None:
                self._answer(400, _error("invalid_request_error", "multipart part has no name"))
                return
            if filename is not None:
                file = (filename.group(1).decode(), content)
            else:
                fields[name.group(1).decode()] = content.decode()
        if file is None:
            self._answer(400, _error("invalid_request_error", "Missing required param: file."))
            return
        self._answer(
            200,
            {
                "id": _new_id("file_"),
                "object": "file",
                "created": FIXED_CREATED,
                "filename": file[0],
                "purpose": fields.get("purpose"),
                "size": len(file[1]),
                "title": hashlib.sha256(file[1]).hexdigest(),
                "links": {"has_link": fields.get("file_link_data[create]") == "true"},
            },
        )

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not self._authorized():
            return
        if urlsplit(self.path).path == "/v1/files":
            self._upload(raw)
            return
        body = raw.decode()
        if urlsplit(self.path).path != "/v1/customers":
            self._answer(404, _error("invalid_request_error", "Unrecognized request URL"))
            return
        form = {key: values[0] for key, values in parse_qs(body).items()}
        customer = {
            "id": _new_id("cus_"),
            "object": "customer",
            "created": FIXED_CREATED,
            "email": form.get("email"),
            "livemode": False,
            "metadata": {},
        }
        customers[customer["id"]] = customer
        self._answer(200, customer)

    def do_GET(self) -> None:
        if not self._authorized():
            return
        path = urlsplit(self.path).path
        if path == "/v1/balance":
            self._answer(200, {"object": "balance", "available": [], "livemode": False})
        elif path.startswith("/v1/customers/") and path[14:] in customers:
            self._answer(200, customers[path[14:]])
        else:
            self._answer(
                404, _error("invalid_request_error", "No such object", code="resource_missing")
            )

    def log_message(self, format: str, *args: Any) -> None:
        print(f"stripe-mock stand-in: {self.command} {self.path}", flush=True)


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def main() -> None:
    parser = argparse.ArgumentParser(prog="stripe-mock")
    parser.add_argument("-http-addr", dest="http_addr", type=_address, required=True)
    parser.add_argument("-https-addr", dest="https_addr", type=_address, required=True)
    options = parser.parse_args()
    server = ThreadingHTTPServer(options.http_addr, Handler)
    # Where stripe-mock would serve HTTPS: listened on, as it does, never answered here.
    https = socket.create_server(options.https_addr)
    for protocol, bound in (("HTTP", server.server_address), ("HTTPS", https.getsockname())):
        print(f"Listening for {protocol} at address: {bound[0]}:{bound[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
