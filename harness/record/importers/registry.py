"""The importers, by name: one module per format, each registering one Format.

To add a format: write a module with `sniff(shape) -> bool` (is this file mine? from its
Shape alone) and `read(stream) -> Iterator[Entry]`, end it with
`FORMAT = Format(name, description, sniff, read)`, and add the module to BUILTIN below.
A name is registered once; `--format NAME` picks a reader without sniffing.
"""

from __future__ import annotations

import difflib

from harness.errors import InputError
from harness.record.importers import exvcr, flows, govcr, har, rubyvcr, vcrpy
from harness.record.importers.base import Format, Shape

FORMATS: dict[str, Format] = {}
# The importers that come with stripe-shadow, tried in this order when recognising a file.
BUILTIN = (vcrpy, rubyvcr, exvcr, govcr, har, flows)


def register(format_: Format) -> Format:
    """Add an importer; a name already taken is refused."""
    if format_.name in FORMATS or format_.name == "auto":
        raise ValueError(f"an importer named {format_.name!r} is registered already")
    FORMATS[format_.name] = format_
    return format_


for _module in BUILTIN:
    register(_module.FORMAT)


def format_named(name: str) -> Format:
    """The importer called `name`, or an InputError that suggests the closest name."""
    try:
        return FORMATS[name]
    except KeyError:
        close = difflib.get_close_matches(name, FORMATS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise InputError(
            f"--format {name}: no such importer{hint}; known: auto, {', '.join(FORMATS)}"
        ) from None


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
