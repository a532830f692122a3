"""Placeholders that cassettes put into the data, and undoing them.

VCR's `filter_sensitive_data` (Ruby), `filter_headers`/`before_record` (VCR.py) and
ExVCR's filters replace a value by a placeholder everywhere it occurs, not only where the
secret was: with `PADDLE_VENDOR_ID=1`, every `1` of a cassette becomes `<VENDOR_ID>`, so a
path reads `/v<VENDOR_ID>/customers` and a key `"client_<PADDLE_API_KEY>"`. A
Placeholders map (`--placeholder '<VENDOR_ID>=1'`) puts the values back before anything
parses the URL, the headers or the bodies; `--scan` lists the placeholders a set of files
holds, with counts and examples, so a user knows what to pass.

Placeholders the user does not name are left as they are (`<STRIPE_SECRET_KEY>` stands
for a key the harness never needs: every target sends its own).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import InputError
from harness.model import Exchange, Headers

# What a placeholder looks like: `<SOME_NAME>` (VCR's convention) or an ERB tag
# (`<%= ENV['STRIPE_KEY'] %>`, in Ruby cassettes loaded with `erb: true`).
PLACEHOLDER = re.compile(r"<[A-Z][A-Z0-9_]*>|<%=?[^%]{0,120}%>")
# A placeholder that replaced part of a word (`/v<VENDOR_ID>/`, `client_<KEY>`): its
# filter replaced a short value everywhere, so paths, ids and secrets are broken.
_INSIDE_WORD = re.compile(r"(?<=[A-Za-z0-9_])<[A-Z][A-Z0-9_]*>|<[A-Z][A-Z0-9_]*>(?=[A-Za-z0-9])")
# Examples shown per placeholder by --scan, and characters around each. Long runs of
# letters and digits in an example are shortened: a secret a placeholder broke in two
# escapes redaction, and must not be printed either.
EXAMPLES = 3
_CONTEXT = 24
_LONG_RUN = re.compile(r"[A-Za-z0-9]{12,}")


def parse_placeholder(spec: str) -> tuple[str, str]:
    """`'<VENDOR_ID>=1'` → ("<VENDOR_ID>", "1"). The name is everything before the first
    `=` (placeholders hold none), the value everything after it, possibly empty."""
    name, equals, value = spec.partition("=")
    if not equals or not name:
        raise InputError(
            f"--placeholder {spec!r}: expected PLACEHOLDER=VALUE, e.g. '<VENDOR_ID>=1', "
            "or @FILE with one such line per placeholder"
        )
    return name, value


def read_placeholder_file(path: str) -> list[tuple[str, str]]:
    """Lines of `PLACEHOLDER=VALUE`; blank lines and lines starting with `#` are skipped."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"--placeholder @{path}: cannot be read ({exc})") from None
    pairs = []
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            pairs.append(parse_placeholder(line.rstrip("\r\n")))
        except InputError:
            raise InputError(
                f"{path}:{number}: expected PLACEHOLDER=VALUE, e.g. <VENDOR_ID>=1"
            ) from None
    return pairs


def placeholders_from_options(specs: Iterable[str]) -> Placeholders:
    """The map from the command line's `--placeholder` values (`X=Y` or `@FILE`)."""
    pairs: list[tuple[str, str]] = []
    for spec in specs:
        pairs.extend(
            read_placeholder_file(spec[1:]) if spec.startswith("@") else [parse_placeholder(spec)]
        )
    return Placeholders(dict(pairs))


@dataclass(slots=True)
class Placeholders:
    """Placeholder → the value it replaced; counts what was undone."""

    values: dict[str, str] = field(default_factory=dict)
    undone: Counter[str] = field(default_factory=Counter)
    _pattern: re.Pattern[str] | None = field(default=None, init=False, repr=False)
    _bytes_pattern: re.Pattern[bytes] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.values:
            # Longest first, so `<ID>` never cuts into `<ID_2>`.
            names = sorted(self.values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(n) for n in names))
            self._bytes_pattern = re.compile(b"|".join(re.escape(n.encode("utf-8")) for n in names))

    def undo_text(self, text: str) -> str:
        if self._pattern is None or not text:
            return text

        def value(match: re.Match[str]) -> str:
            self.undone[match.group(0)] += 1
            return self.values[match.group(0)]

        return self._pattern.sub(value, text)

    def undo_bytes(self, data: bytes) -> bytes:
        if self._bytes_pattern is None or not data:
            return data

        def value(match: re.Match[bytes]) -> bytes:
            name = match.group(0).decode("utf-8")
            self.undone[name] += 1
            return self.values[name].encode("utf-8")

        return self._bytes_pattern.sub(value, data)

    def undo_body(self, body: str | bytes) -> str | bytes:
        return self.undo_bytes(body) if isinstance(body, bytes) else self.undo_text(body)

    def undo_headers(self, headers: Headers) -> Headers:
        return Headers((self.undo_text(name), self.undo_text(value)) for name, value in headers)

    def undo(self, exchange: Exchange) -> None:
        """Put the values back into every part of `exchange`, in place."""
        if self._pattern is None:
            return
        request = exchange.request
        request.host = self.undo_text(request.host)
        request.path = self.undo_text(request.path)
        request.query = self.undo_text(request.query)
        request.headers = self.undo_headers(request.headers)
        request.body = self.undo_body(request.body)
        if exchange.response is not None:
            exchange.response.headers = self.undo_headers(exchange.response.headers)
            exchange.response.body = self.undo_body(exchange.response.body)
        if exchange.error is not None:
            exchange.error = self.undo_text(exchange.error)


@dataclass(slots=True)
class Sighting:
    """Where one placeholder was seen: how often, in which parts, and a few examples."""

    count: int = 0
    parts: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)


def scan_text(text: str, part: str, found: dict[str, Sighting]) -> None:
    """Count the placeholders in `text` (one part of an exchange: `url`, `header`,
    `body`), keeping a few examples with the text around them."""
    if "<" not in text:
        return
    for match in PLACEHOLDER.finditer(text):
        sighting = found.setdefault(match.group(0), Sighting())
        sighting.count += 1
        sighting.parts[part] += 1
        if len(sighting.examples) < EXAMPLES:
            start, end = max(0, match.start() - _CONTEXT), match.end() + _CONTEXT
            example = _LONG_RUN.sub(
                lambda m: m.group(0)[:4] + "…", " ".join(text[start:end].split())
            )
            if example not in sighting.examples:
                sighting.examples.append(example)


def scan_exchange(exchange: Exchange, found: dict[str, Sighting]) -> None:
    """Every placeholder in a (redacted) exchange."""
    request = exchange.request
    scan_text(request.target, "url", found)
    for name, value in request.headers:
        scan_text(f"{name}: {value}", "header", found)
    scan_text(request.text, "body", found)
    if exchange.response is not None:
        for name, value in exchange.response.headers:
            scan_text(f"{name}: {value}", "header", found)
        scan_text(exchange.response.text, "body", found)


def placeholder_inside_words(exchange: Exchange) -> str | None:
    """The first placeholder that replaced part of a word anywhere in `exchange`, if any."""
    request = exchange.request
    texts = [request.target, request.text]
    texts.extend(f"{name}: {value}" for name, value in request.headers)
    if exchange.response is not None:
        texts.append(exchange.response.text)
        texts.extend(f"{name}: {value}" for name, value in exchange.response.headers)
    for text in texts:
        if "<" in text:
            found = _INSIDE_WORD.search(text)
            if found is not None:
                return found.group(0)
    return None
