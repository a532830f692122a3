"""The one glob dialect the harness matches endpoint templates and JSON paths with, in
every file a user writes (compare rules, gate thresholds, transforms' `endpoint:`):
`*` matches any run of characters (slashes, dots and brackets included), `?` one
character, everything else itself, so `$.data[].*` has a literal `[]`, unlike fnmatch."""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=1024)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    )


def glob_match(pattern: str, text: str) -> bool:
    """Whether `text` matches `pattern` in the harness's glob dialect (see the module)."""
    return _glob_regex(pattern).fullmatch(text) is not None
