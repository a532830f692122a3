"""The importers, by name: one module per format, each registering one Format.

To add a format: write a module with `sniff(shape) -> bool` (is this file mine? from its
Shape alone) and `read(stream) -> Iterator[Entry]`, end it with
`FORMAT = Format(name, description, sniff, read)`, and register it below (another package
declares it in the `stripe_shadow.importers` entry point group). A name is registered
once; `--format NAME` picks a reader without sniffing.
"""

from __future__ import annotations

from harness.capture.importers.base import Format, Shape
from harness.capture.importers.exvcr import FORMAT as EXVCR
from harness.capture.importers.flows import FORMAT as FLOWS
from harness.capture.importers.govcr import FORMAT as GOVCR
from harness.capture.importers.har import FORMAT as HAR
from harness.capture.importers.rubyvcr import FORMAT as RUBYVCR
from harness.capture.importers.vcrpy import FORMAT as VCRPY
from harness.errors import NotRegistered
from harness.registry import Registry

# `auto` is not a format: it asks for each file's own to be recognised.
AUTO = "auto"
FORMATS: Registry[Format] = Registry("importer", "stripe_shadow.importers")
# The importers that come with stripe-shadow, tried in this order when recognising a file.
for _format in (VCRPY, RUBYVCR, EXVCR, GOVCR, HAR, FLOWS):
    FORMATS.register(_format.name, _format)


def format_named(name: str) -> Format:
    """The importer called `name`, or NotRegistered (an InputError) that suggests the
    closest name."""
    if name == AUTO or name not in FORMATS:
        raise NotRegistered(f"--format {name}: {FORMATS.unknown(name)} (or {AUTO})")
    return FORMATS[name]


def recognise(shape: Shape) -> Format | str:
    """The importer whose files look like `shape`, or why none is."""
    for format_ in FORMATS.values():
        if format_.sniff(shape):
            return format_
    return _why_not(shape)


def _why_not(shape: Shape) -> str:
    items = [p for p in shape.paths if p.endswith("item.response")]
    if items and not any(p[: -len("response")] + "request" in shape.paths for p in items):
        return (
            "a response-only recording (its entries have a response and no request); "
            "a replay needs the requests"
        )
    if shape.container == "json":
        top = sorted({p.split(".")[0][:20] for p in shape.paths})[:5]
        keys = f" (top-level keys: {', '.join(top)})" if top and top != ["item"] else ""
        return f"JSON of no known recording format{keys}; known: {', '.join(FORMATS)}"
    return f"not a recording of a known format ({', '.join(FORMATS)})"
