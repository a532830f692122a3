"""Importers: the recordings customers already have (VCR cassettes from Python, Ruby,
Elixir and Go, HAR files, mitmproxy flow files) turned into one stripe-shadow recording,
redacted by the recorder's own redaction. One module per format (registry.py lists
them), each a reader with one signature; pipeline.py is the I/O edge that runs them.
See docs/import.md.
"""

from harness.capture.importers.pipeline import (
    ImportOptions,
    ImportRefused,
    ImportResult,
    import_paths,
    scan_paths,
)
from harness.capture.importers.placeholders import Placeholders, placeholders_from_options
from harness.capture.importers.registry import FORMATS, format_named

__all__ = [
    "FORMATS",
    "ImportOptions",
    "ImportRefused",
    "ImportResult",
    "Placeholders",
    "format_named",
    "import_paths",
    "placeholders_from_options",
    "scan_paths",
]
