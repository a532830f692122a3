"""HAR 1.2 files (browsers, proxies, Polly.JS), streamed entry by entry.

    {"log": {"version": "1.2", "creator": {…}, "entries": [
      {"startedDateTime": "2023-12-13T14:32:05.123Z", "time": 312.5,
       "request": {"method": "POST", "url": "https://api.stripe.com/v1/payment_intents",
                   "headers": [{"name": "content-type", "value": "…"}],
                   "postData": {"mimeType": "…", "text": "amount=1000&…", "params": []}},
       "response": {"status": 200, "headers": […],
                    "content": {"mimeType": "application/json", "text": "{…}",
                                "encoding": "base64"}}}]}}

The entries are read one at a time (ijson), so a HAR of any size streams. Quirks read:
Polly.JS writes `content.text` (and sometimes `postData.text`) as a parsed JSON object
instead of a string; a form may be only in `postData.params`; header names may be lower
case; browsers add HTTP/2 pseudo-headers (`:authority`), dropped since the URL says them;
a response of status 0 is a request that got no answer (`_error` says why).
`startedDateTime` orders the entries and `time` (milliseconds) is the duration.
"""

from __future__ import annotations

import base64
import json
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
from harness.capture.importers.streams import json_items
from harness.model import Exchange, Response
from harness.stripe.times import iso_time


def sniff(shape: Shape) -> bool:
    return shape.container == "json" and any(
        path == "log.entries" or path.startswith("log.entries.") for path in shape.paths
    )


def _text_or_object(value: Any, where: str) -> str:
    """A HAR text: a string, or (Polly.JS) the JSON it held, already parsed."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2, ensure_ascii=False)
    return scalar_text(value, where)


def _decoded(content: Any, value: str, where: str) -> str | bytes:
    if content.get("encoding") == "base64":
        return base64.b64decode(value)
    if content.get("encoding") not in (None, ""):
        raise ValueError(f"{where}.encoding: {content.get('encoding')!r} is not base64")
    return value


def post_data(value: Any) -> str | bytes:
    """The request body: `postData.text`, else the form its `params` list."""
    if value is None:
        return ""
    data = mapping(value, "request.postData")
    if data.get("text") not in (None, ""):
        return _decoded(data, _text_or_object(data["text"], "postData.text"), "postData")
    params = data.get("params") or []
    if not isinstance(params, list):
        raise ValueError("request.postData.params: expected a list")
    pairs = []
    for index, param in enumerate(params):
        param = mapping(param, f"request.postData.params[{index}]")
        if param.get("fileName") is not None:
            raise ValueError(
                "request.postData.params: a file upload, which a HAR does not keep whole"
            )
        name = scalar_text(param.get("name"), f"request.postData.params[{index}].name")
        field_value = scalar_text(param.get("value") or "", f"postData.params[{index}].value")
        pairs.append(f"{quote_plus(name)}={quote_plus(field_value)}")
    return "&".join(pairs)


def response_body(value: Any) -> str | bytes:
    if value is None:
        return ""
    content = mapping(value, "response.content")
    return _decoded(
        content, _text_or_object(content.get("text"), "response.content.text"), "content"
    )


def _duration(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value) / 1000
    return 0.0


def convert(raw: Any) -> tuple[Exchange, float | None]:
    entry = mapping(raw, "entry")
    request = mapping(entry.get("request"), "request")
    response = mapping(entry.get("response"), "response")
    built = request_from(
        text(request.get("method"), "request.method"),
        text(request.get("url"), "request.url"),
        headers_from(request.get("headers"), "request.headers"),
        post_data(request.get("postData")),
    )
    recorded = iso_time(entry.get("startedDateTime"))
    duration = _duration(entry.get("time"))
    if response.get("status") in (0, "0", None):
        reason = response.get("_error") or response.get("statusText") or "status 0"
        return exchange_from(
            built, None, duration=duration, error=f"no response ({scalar_text(reason, '_error')})"
        ), recorded
    return exchange_from(
        built,
        Response(
            status=status_code(response.get("status"), "response.status"),
            headers=headers_from(response.get("headers"), "response.headers"),
            body=response_body(response.get("content")),
        ),
        duration=duration,
    ), recorded


def read(stream: IO[bytes]) -> Iterator[Entry]:
    return entries(json_items(stream, "log.entries.item"), convert)


FORMAT = Format("har", "HAR 1.2 (browsers, proxies, Polly.JS)", sniff, read)
