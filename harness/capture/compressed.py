"""Bodies that are still compressed when they reach redaction: a Content-Encoding that was
not said (an exporter dropped the header), said wrong, or that could not be undone (a
stream cut short). Redaction reads what they hold, since a secret in them is on disk as
surely as one in plain text (docs/recording-format.md).

The coding is guessed from the bytes: gzip, zlib and zstd by their first bytes, raw
deflate and brotli (which have none) by trying. What a stream cut short holds is read as
far as it goes, and no body is read past `LIMIT` bytes (a small body may expand a
thousandfold, on purpose or not).
"""

from __future__ import annotations

import io
import zlib

LIMIT = 64 * 1024 * 1024
"""Bytes of content read at most from one compressed body."""

_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# Brotli is fed this much at a time, so its output can be stopped near `LIMIT`.
_BROTLI_STEP = 1024


def _zlib(body: bytes, wbits: int) -> bytes | None:
    try:
        return zlib.decompressobj(wbits=wbits).decompress(body, LIMIT)
    except zlib.error:
        return None


def _zstd(body: bytes) -> bytes | None:
    import zstandard

    out = bytearray()
    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(body))
    try:
        while len(out) < LIMIT:
            chunk = reader.read(1024 * 1024)
            if not chunk:
                break
            out += chunk
    except zstandard.ZstdError:
        pass  # cut short: what came before holds what it holds
    return bytes(out[:LIMIT]) or None


def _brotli(body: bytes) -> bytes | None:
    import brotli

    out = bytearray()
    decompressor = brotli.Decompressor()
    try:
        for start in range(0, len(body), _BROTLI_STEP):
            out += decompressor.process(body[start : start + _BROTLI_STEP])
            if len(out) >= LIMIT or decompressor.is_finished():
                break
    except brotli.error:
        return None  # no brotli (it has no magic bytes: most bodies are not)
    return bytes(out[:LIMIT]) or None


def _is_zlib(body: bytes) -> bool:
    """RFC 1950's header: deflate as the method, and a check that makes it a multiple of 31."""
    return len(body) > 2 and body[0] & 0x0F == 8 and (body[0] * 256 + body[1]) % 31 == 0


def sniff(body: bytes, *, guess: bool = False) -> tuple[str, bytes] | None:
    """(coding, content) of `body` if it is compressed, else None: `gzip`, `deflate` with
    zlib's header and `zstd` by their first bytes; with `guess`, `raw deflate` and `br`
    by trying (bytes of another kind may read as them: a caller guesses only when the
    bytes read as they are held nothing). Empty content counts as none."""
    if body.startswith(b"\x1f\x8b"):
        content = _zlib(body, 31)
        return ("gzip", content) if content else None
    if _is_zlib(body):
        content = _zlib(body, 15)
        return ("deflate", content) if content else None
    if body.startswith(_ZSTD_MAGIC):
        content = _zstd(body)
        return ("zstd", content) if content else None
    if not guess:
        return None
    content = _zlib(body, -15)  # raw deflate, as some servers send `deflate`
    if content:
        return "raw deflate", content
    content = _brotli(body)
    return ("br", content) if content else None


def compress(content: bytes, coding: str) -> bytes:
    """`content` compressed again with `coding`, as `sniff` named it."""
    if coding == "gzip":
        import gzip

        return gzip.compress(content, mtime=0)
    if coding == "deflate":
        return zlib.compress(content)
    if coding == "raw deflate":
        raw = zlib.compressobj(wbits=-15)
        return raw.compress(content) + raw.flush()
    if coding == "zstd":
        import zstandard

        return zstandard.ZstdCompressor().compress(content)
    import brotli

    compressed: bytes = brotli.compress(content)
    return compressed
