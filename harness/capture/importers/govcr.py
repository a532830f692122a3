"""go-vcr cassettes (Go), versions 1 and 2, YAML.

    version: 2
    interactions:
    - id: 0
      request:
        body: ""
        form: {amount: ["1000"], currency: [usd]}
        headers: {Content-Type: [application/x-www-form-urlencoded]}
        url: https://api.stripe.com/v1/charges
        method: POST
      response:
        body: '{…}'
        headers: {Date: [Mon, 02 Jan 2006 15:04:05 GMT]}
        status: 200 OK
        code: 200
        duration: 312.5ms

`form` is the parsed form Go's client sent; when the body is empty it is the body, its
fields in the cassette's order (Go wrote them sorted). `code` is the status, `status` its
line ("200 OK", used when `code` is missing). `duration` is a Go duration ("1.5s",
"312ms") or nanoseconds. go-vcr records no time: the response's Date header orders the
interactions.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, Any
from urllib.parse import quote_plus

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

LIST = "interactions"
_DURATION_PART = re.compile(r"([0-9]*\.?[0-9]+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0,
}  # fmt: skip


def sniff(shape: Shape) -> bool:
    return shape.has(f"{LIST}.item.request.url")


def duration_seconds(value: Any) -> float:
    """A Go duration as go-vcr writes it: `1m2.5s`, `312ms`, `0s`, or nanoseconds."""
    if value is None or value == "":
        return 0.0
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) / 1e9
    written = scalar_text(value, "response.duration").strip()
    parts = _DURATION_PART.findall(written)
    if not parts or "".join(n + u for n, u in parts) != written.lstrip("+"):
        raise ValueError(f"response.duration: {written[:40]!r} is not a Go duration")
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def form_body(form: Any) -> str:
    """`{amount: ["1000"], "metadata[k]": [v]}` as `amount=1000&metadata%5Bk%5D=v`."""
    pairs = []
    for name, values in mapping(form, "request.form").items():
        key = scalar_text(name, "request.form name")
        for value in values if isinstance(values, list) else [values]:
            pairs.append(f"{quote_plus(key)}={quote_plus(scalar_text(value, f'form.{key}'))}")
    return "&".join(pairs)


def _status(response: Any) -> int:
    if response.get("code") is not None:
        return status_code(response.get("code"), "response.code")
    line = scalar_text(response.get("status"), "response.status")
    return status_code(line.split(" ", 1)[0], "response.status")


def convert(raw: Any) -> tuple[Exchange, float | None]:
    item = mapping(raw, "interaction")
    request = mapping(item.get("request"), "request")
    body = text(request.get("body") or "", "request.body")
    if not body and request.get("form"):
        body = form_body(request.get("form"))
    built = request_from(
        text(request.get("method"), "request.method"),
        text(request.get("url"), "request.url"),
        headers_from(request.get("headers"), "request.headers"),
        body,
    )
    response = mapping(item.get("response"), "response")
    return exchange_from(
        built,
        Response(
            status=_status(response),
            headers=headers_from(response.get("headers"), "response.headers"),
            body=text(response.get("body") or "", "response.body"),
        ),
        duration=duration_seconds(response.get("duration")),
    ), None


def read(stream: IO[bytes]) -> Iterator[Entry]:
    return entries(list_items(stream, LIST), convert)


FORMAT = Format("go-vcr", "go-vcr cassettes (Go), versions 1 and 2", sniff, read)
