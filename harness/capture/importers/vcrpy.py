"""VCR.py cassettes (Python), YAML or JSON.

    interactions:
    - request: {body: null | str | !!binary, headers: {Name: [value]}, method: GET, uri: …}
      response: {body: {string: str | !!binary}, headers: {…}, status: {code: 200, message: OK}}
    version: 1

YAML folds long response strings across lines (`\\` continuations): the YAML parser puts
them back together. A body is text, bytes (`!!binary`, e.g. gzip kept as sent) or null.
VCR.py records no time: the response's Date header orders the interactions.
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
    status_code,
    text,
)
from harness.capture.importers.streams import list_items
from harness.model import Exchange, Response

LIST = "interactions"


def sniff(shape: Shape) -> bool:
    # An empty cassette holds nothing to import either way.
    return shape.has(f"{LIST}.item.request.uri") or shape.empty_list(LIST)


def body_of(value: Any, where: str) -> str | bytes:
    """`null`, a string, bytes, or `{string: …}` (a response body), `{base64_string: …}`."""
    if value is None:
        return ""
    if isinstance(value, str | bytes):
        return value
    body = mapping(value, where)
    if "base64_string" in body:
        return base64.b64decode(text(body["base64_string"], f"{where}.base64_string"))
    return body_of(body.get("string"), f"{where}.string") if "string" in body else ""


def convert(raw: Any) -> tuple[Exchange, float | None]:
    item = mapping(raw, "interaction")
    request = mapping(item.get("request"), "request")
    built = request_from(
        text(request.get("method"), "request.method"),
        text(request.get("uri"), "request.uri"),
        headers_from(request.get("headers"), "request.headers"),
        body_of(request.get("body"), "request.body"),
    )
    response = mapping(item.get("response"), "response")
    status = mapping(response.get("status"), "response.status")
    return exchange_from(
        built,
        Response(
            status=status_code(status.get("code"), "response.status.code"),
            headers=headers_from(response.get("headers"), "response.headers"),
            body=body_of(response.get("body"), "response.body"),
        ),
    ), None


def read(stream: IO[bytes]) -> Iterator[Entry]:
    return entries(list_items(stream, LIST), convert)


FORMAT = Format("vcrpy", "VCR.py cassettes (YAML or JSON)", sniff, read)
