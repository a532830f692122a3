"""Hand-made exchanges and recordings for the replay tests."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx

from harness.formats.recording import Header, write_recording
from harness.model import Exchange, Request, Response
from harness.replay.launch.process import LocalProcess, free_port


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


FAULT_SERVER = Path(__file__).resolve().parent / "faultserver.py"


def fault_server(log_path: Path) -> LocalProcess:
    """tests/faultserver.py in a process of its own, on a free port (a context manager)."""
    port = free_port()
    command = [sys.executable, str(FAULT_SERVER), "--port", str(port)]
    return LocalProcess(
        "faults", command, f"http://127.0.0.1:{port}", ready_path="/_ready", log_path=log_path
    )


def server_stats(url: str) -> dict[str, list[dict[str, Any]]]:
    """Per path, the attempts the fault server has seen."""
    return dict(httpx.get(url + "/_stats", timeout=5).json())
