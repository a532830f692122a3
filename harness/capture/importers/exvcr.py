"""ExVCR cassettes (Elixir), JSON: a top-level list of interactions.

    [{"request": {"url": "https://api.stripe.com/v1/charges", "method": "post",
                  "headers": {"Authorization": "Bearer …"}, "body": "amount=1000&…",
                  "options": [], "request_body": ""},
      "response": {"status_code": 200, "headers": {"Date": "…"}, "body": "{…}",
                   "type": "ok"}}]

Methods are lower case and headers a mapping of one value each (ExVCR keeps the first of
repeated headers); httpc's adapter writes `status_code` as `["HTTP/1.1", 200, "OK"]`. A
body that was not UTF-8 is `"binary": true` with base64 of the Erlang term of the bytes.
`"type": "error"` is a request that got no response: its body names the reason. ExVCR
records no time: the response's Date header orders the interactions.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import IO, Any

from harness.capture.importers.base import (
    Entry,
    Format,
    Shape,
    entries,
    exchange_from,
    headers_from,
    mapping,
    request_from,
    scalar_text,
    status_code,
    text,
)
from harness.capture.importers.streams import json_items
from harness.model import Exchange, Response

# Erlang's external term format: version 131, then a BINARY_EXT (109) with a 4-byte length.
_TERM_VERSION = 131
_BINARY_EXT = 109


def sniff(shape: Shape) -> bool:
    return (
        shape.container == "json"
        and shape.has("item.request.url", "item.response")
        and (shape.has("item.response.status_code") or shape.has("item.response.type"))
    )


def erlang_binary(encoded: str) -> bytes:
    """The bytes of `:erlang.term_to_binary(bytes)`, base64-encoded, as ExVCR writes them."""
    term = base64.b64decode(encoded)
    if len(term) < 6 or term[0] != _TERM_VERSION or term[1] != _BINARY_EXT:
        raise ValueError("response.body: a binary body that is not an Erlang binary term")
    length = int.from_bytes(term[2:6], "big")
    if len(term) < 6 + length:
        raise ValueError("response.body: a binary body shorter than its length")
    return term[6 : 6 + length]


def _status(value: Any) -> int:
    if isinstance(value, list) and len(value) == 3:
        value = value[1]  # httpc: ["HTTP/1.1", 200, "OK"]
    return status_code(value, "response.status_code")


def convert(raw: Any) -> tuple[Exchange, float | None]:
    item = mapping(raw, "interaction")
    request = mapping(item.get("request"), "request")
    response = mapping(item.get("response"), "response")
    body = request.get("body") or request.get("request_body") or ""
    built = request_from(
        scalar_text(request.get("method"), "request.method"),
        text(request.get("url"), "request.url"),
        headers_from(request.get("headers"), "request.headers"),
        text(body, "request.body"),
    )
    if response.get("type") == "error":
        reason = scalar_text(response.get("body") or "unknown", "response.body")
        return exchange_from(built, None, error=f"no response ({reason})"), None
    written = text(response.get("body") or "", "response.body")
    response_body = erlang_binary(written) if response.get("binary") is True else written
    return exchange_from(
        built,
        Response(
            status=_status(response.get("status_code")),
            headers=headers_from(response.get("headers"), "response.headers"),
            body=response_body,
        ),
    ), None


def read(stream: IO[bytes]) -> Iterator[Entry]:
    return entries(json_items(stream, "item"), convert)


FORMAT = Format("exvcr", "ExVCR cassettes (Elixir, JSON)", sniff, read)
