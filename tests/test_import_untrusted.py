"""The importers read untrusted files: whatever they are given ends in an import or in
one-line refusals, never in a traceback (property tests)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.capture.importers import ImportOptions, import_paths, scan_paths
from harness.formats.recording import iter_exchanges
from tests.test_import import EXVCR, GO_VCR_V2, pay_cassette, ruby_vcr, vcrpy_yaml

# Nothing here depends on the date: CI's clock-ahead pass leaves this module out.
pytestmark = pytest.mark.no_clock

# Keys the readers look for, so generated documents reach deep into them.
KEYS = [
    "interactions", "http_interactions", "log", "entries", "request", "response", "uri",
    "url", "method", "body", "headers", "status", "code", "message", "string", "encoding",
    "base64_string", "recorded_at", "form", "duration", "status_code", "type", "binary",
    "postData", "params", "text", "content", "name", "value", "startedDateTime", "time",
    "_error", "fileName", "version",
]  # fmt: skip
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.sampled_from(["POST", "get", ":get", "https://api.stripe.com/v1/x", "ASCII-8BIT", "200 OK",
                     "base64", "gzip", "1.5s", "Thu, 08 Aug 2019 13:41:59 GMT", "\x00", "%zz"]),
    st.text(max_size=30),
)  # fmt: skip
DOCUMENTS = st.recursive(
    LEAVES,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), children, max_size=5
        ),
    ),
    max_leaves=40,
)

VALID = [
    vcrpy_yaml(),
    ruby_vcr(),
    pay_cassette(),
    GO_VCR_V2,
    json.dumps(EXVCR),
    json.dumps({"log": {"entries": [{"request": {"method": "GET", "url": "https://api.stripe.com/"},
                                     "response": {"status": 200, "content": {"text": "{}"}}}]}}),
]  # fmt: skip


def import_cleanly(data: bytes) -> None:
    """Import `data` as a file, and scan it: every problem is one line, nothing raises."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "input"
        path.write_bytes(data)
        out = Path(folder) / "out.jsonl"
        result = import_paths([path], out, ImportOptions())
        assert all(
            "\n" not in problem and problem.startswith(str(path)) for problem in result.problems
        )
        assert len(list(iter_exchanges(out))) == result.imported
        scanned = scan_paths([path], ImportOptions()).problems
        assert all("\n" not in problem and problem.startswith(str(path)) for problem in scanned)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_any_bytes(data: bytes) -> None:
    import_cleanly(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=DOCUMENTS, as_yaml=st.booleans())
def test_documents_of_any_shape(document: Any, as_yaml: bool) -> None:
    text = yaml.safe_dump(document) if as_yaml else json.dumps(document)
    import_cleanly(text.encode())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    valid=st.sampled_from(VALID),
    start=st.floats(min_value=0, max_value=1),
    length=st.integers(min_value=0, max_value=40),
    insert=st.text(max_size=12),
)
def test_damaged_cassettes(valid: str, start: float, length: int, insert: str) -> None:
    """A real cassette with a piece cut out and something else put in its place."""
    at = int(start * len(valid))
    import_cleanly((valid[:at] + insert + valid[at + length :]).encode())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid=st.sampled_from(VALID), keep=st.floats(min_value=0, max_value=1))
def test_truncated_cassettes(valid: str, keep: float) -> None:
    import_cleanly(valid[: int(keep * len(valid))].encode())
