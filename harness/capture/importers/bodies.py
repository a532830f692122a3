"""Bodies as the application saw them: a Content-Encoding (gzip, deflate, brotli, zstd)
undone, and text wherever the bytes are UTF-8 (docs/recording-format.md)."""

from __future__ import annotations

from mitmproxy.net import encoding as http_encoding

from harness.model import Exchange, Headers

# What mitmproxy's codec undoes; `identity` means nothing was done.
_CODINGS = frozenset({"gzip", "x-gzip", "deflate", "br", "zstd"})


def as_text(body: str | bytes) -> str | bytes:
    """UTF-8 bytes become text; other bytes stay bytes (written as base64)."""
    if isinstance(body, bytes):
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            return body
    return body


def decoded(body: str | bytes, headers: Headers) -> tuple[str | bytes, Headers]:
    """The body with its Content-Encoding undone, and the headers without it.

    Cassettes differ: VCR.py and Ruby VCR keep compressed bytes (`!!binary`, `!binary`)
    while HAR keeps the decoded text beside the original header. Bytes are decoded when
    they decode; text, or bytes that do not decode but read as UTF-8, were stored
    decoded already. Either way the header goes, since the body no longer needs it.
    """
    coding_header = next((v for k, v in headers if k.lower() == "content-encoding"), None)
    if coding_header is None:
        return as_text(body), headers
    codings = [c.strip().lower() for c in coding_header.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if not codings:
        return as_text(body), Headers(headers).without("Content-Encoding")
    if any(c not in _CODINGS for c in codings):
        return as_text(body), headers  # an encoding nobody here can undo: keep it said
    if isinstance(body, bytes) and body:
        content = body
        try:
            for coding in reversed(codings):  # the last one applied is undone first
                undone = http_encoding.decode(content, "gzip" if coding == "x-gzip" else coding)
                if not isinstance(undone, bytes):
                    raise ValueError(coding)
                content = undone
        except (ValueError, OSError, EOFError):
            text = as_text(body)
            if isinstance(text, bytes):
                return body, headers  # neither compressed as said nor text: as it was
            return text, Headers(headers).without("Content-Encoding")
        return as_text(content), Headers(headers).without("Content-Encoding")
    return as_text(body), Headers(headers).without("Content-Encoding")


def decode_bodies(exchange: Exchange) -> None:
    """Undo the Content-Encoding of both bodies of `exchange`, in place."""
    request = exchange.request
    request.body, request.headers = decoded(request.body, request.headers)
    response = exchange.response
    if response is not None:
        response.body, response.headers = decoded(response.body, response.headers)
