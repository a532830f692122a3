"""Ruby VCR cassettes, YAML or JSON.

    http_interactions:
    - request:
        method: post                     # lower case (`:post` in very old cassettes)
        uri: https://api.stripe.com/v1/customers
        body: {encoding: UTF-8, string: "…"}
        headers: {Name: [value]}
      response:
        status: {code: 200, message: OK}
        headers: {…}
        body: {encoding: ASCII-8BIT, string: !binary |- base64…}   # or base64_string: …
      recorded_at: Sat, 10 Aug 2024 16:21:56 GMT
    recorded_with: VCR 6.4.0

`record: :new_episodes` appends interactions to a cassette over the years, so one file
can mix API versions; `recorded_at` orders them. A body is a string, `!binary` (base64
of the bytes), `base64_string` (VCR's `preserve_exact_body_bytes`), or a string whose
`encoding` is ASCII-8BIT: Psych writes such bytes as `\\xNN` escapes, read back here as
the bytes they were.
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
from harness.capture.importers.streams import list_items
from harness.model import Exchange, Response
from harness.stripe.times import http_date

LIST = "http_interactions"
_BINARY_ENCODINGS = frozenset({"ASCII-8BIT", "BINARY"})


def sniff(shape: Shape) -> bool:
    # An empty cassette holds nothing to import either way.
    return shape.has(f"{LIST}.item.request.uri") or shape.empty_list(LIST)


def body_of(value: Any, where: str) -> str | bytes:
    if value is None:
        return ""
    if isinstance(value, str | bytes):
        return value  # VCR 1.x stored the body as a bare string
    body = mapping(value, where)
    if body.get("base64_string") is not None:
        return base64.b64decode(text(body["base64_string"], f"{where}.base64_string"))
    string = body.get("string")
    if string is None or isinstance(string, bytes):
        return string or ""
    string = text(string, f"{where}.string")
    encoding = body.get("encoding")
    if isinstance(encoding, str) and encoding.upper() in _BINARY_ENCODINGS and not string.isascii():
        try:
            return string.encode("latin-1")
        except UnicodeEncodeError:
            return string  # text after all: written by a serializer that kept UTF-8
    return string


def convert(raw: Any) -> tuple[Exchange, float | None]:
    item = mapping(raw, "interaction")
    request = mapping(item.get("request"), "request")
    built = request_from(
        scalar_text(request.get("method"), "request.method"),
        text(request.get("uri"), "request.uri"),
        headers_from(request.get("headers"), "request.headers"),
        body_of(request.get("body"), "request.body"),
    )
    response = mapping(item.get("response"), "response")
    status = response.get("status")
    code = mapping(status, "response.status").get("code") if isinstance(status, dict) else status
    recorded = item.get("recorded_at")
    return exchange_from(
        built,
        Response(
            status=status_code(code, "response.status.code"),
            headers=headers_from(response.get("headers"), "response.headers"),
            body=body_of(response.get("body"), "response.body"),
        ),
    ), http_date(scalar_text(recorded, "recorded_at")) if recorded else None


def read(stream: IO[bytes]) -> Iterator[Entry]:
    return entries(list_items(stream, LIST), convert)


FORMAT = Format("ruby-vcr", "Ruby VCR cassettes (YAML or JSON)", sniff, read)
