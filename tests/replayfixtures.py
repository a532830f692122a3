"""Hand-made exchanges and recordings for the replay tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.model import Exchange, Request, Response
from harness.recording import Header, write_recording


def exchange(
    seq: int,
    method: str,
    path: str,
    *,
    query: str = "",
    form: str = "",
    json_body: Any = None,
    headers: list[tuple[str, str]] | None = None,
    answer: Any = None,
    status: int = 200,
) -> Exchange:
    """One recorded exchange: a request as the SDK sends it and a JSON answer."""
    request_headers = list(headers or [])
    body = ""
    if json_body is not None:
        body = json.dumps(json_body)
        request_headers.append(("Content-Type", "application/json"))
    elif form:
        body = form
        request_headers.append(("Content-Type", "application/x-www-form-urlencoded"))
    request_headers.append(("Authorization", "Bearer sk_test_<redacted:1a2b3c4d>"))
    response = Response(
        status=status,
        headers=[("Content-Type", "application/json")],
        body=json.dumps(answer if answer is not None else {}),
    )
    return Exchange(
        seq=seq,
        started=1_700_000_000.0 + seq,
        duration=0.01,
        request=Request(method=method, path=path, query=query, headers=request_headers, body=body),
        response=response,
    )


def recording(path: Path, exchanges: list[Exchange]) -> Path:
    """Write exchanges as a recording file."""
    write_recording(path, Header(redaction={"applied": True}), exchanges)
    return path
