"""The recording format, version 1: round trips, gzip, streaming, and every way to be wrong."""

from __future__ import annotations

import gzip
import json
import shutil
import string
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.errors import RecordingError
from harness.formats.recording import (
    FORMAT_NAME,
    Header,
    RecordingReader,
    RecordingWriter,
    TruncatedRecordingWarning,
    iter_exchanges,
    read_header,
    write_recording,
)
from harness.model import Exchange, Request, Response

REPO = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((REPO / "harness/schemas/recording-v2.schema.json").read_text())
DEMO = REPO / "recordings/demo.jsonl"


def sample_exchanges() -> list[Exchange]:
    return [
        Exchange(
            seq=0,
            started=1795461361.25,
            duration=0.012,
            request=Request(
                method="POST",
                path="/v1/customers",
                headers=[("Authorization", "Bearer sk_test_<redacted:1a2b3c4d>")],
                body="email=a%40example.com&metadata[plan]=pro",
                scheme="http",
                host="127.0.0.1",
                port=12111,
            ),
            response=Response(
                status=200,
                headers=[("Content-Type", "application/json"), ("Request-Id", "req_123")],
                body='{"id": "cus_123", "object": "customer", "name": "Zoë"}',
            ),
        ),
        Exchange(
            seq=1,
            started=1795461362.0,
            duration=0.5,
            request=Request(method="POST", path="/v1/files", body=b"\x89PNG\r\n\x1a\n\x00\xff"),
            response=Response(status=200, body=b"\x00\x01binary"),
            extra={"journey": 4, "note": ["kept", "as", "is"]},
        ),
        Exchange(
            seq=2,
            started=1795461363.0,
            duration=30.0,
            request=Request(
                method="GET", path="/v1/charges", query="limit=3&expand[]=data.customer"
            ),
            error="Connection refused",
        ),
    ]


def as_json(exchanges: Iterable[Exchange]) -> list[dict[str, Any]]:
    """Exchanges as written: a body that is valid UTF-8 reads back as text, not bytes."""
    return [exchange.to_json() for exchange in exchanges]


@pytest.mark.parametrize("name", ["rec.jsonl", "rec.jsonl.gz"])
def test_round_trip(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    header = Header(source={"kind": "test"}, redaction={"applied": True, "rules": ["api_keys"]})
    assert write_recording(path, header, sample_exchanges()) == 3
    with RecordingReader(path) as reader:
        assert reader.header == header
        assert as_json(reader) == as_json(sample_exchanges())
    assert not reader.truncated


def test_gz_files_are_gzip_and_plain_files_are_text(tmp_path: Path) -> None:
    write_recording(tmp_path / "a.jsonl.gz", Header(), sample_exchanges())
    write_recording(tmp_path / "a.jsonl", Header(), sample_exchanges())
    raw = (tmp_path / "a.jsonl.gz").read_bytes()
    assert raw[:2] == b"\x1f\x8b"
    assert gzip.decompress(raw) == (tmp_path / "a.jsonl").read_bytes()
    lines = (tmp_path / "a.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["format"] == FORMAT_NAME
    assert [json.loads(line)["seq"] for line in lines[1:]] == [0, 1, 2]


headers_strategy = st.lists(
    st.tuples(st.text(string.ascii_letters + "-", min_size=1, max_size=12), st.text(max_size=30)),
    max_size=4,
)
body_strategy = st.one_of(st.text(max_size=80), st.binary(max_size=40))
exchange_strategy = st.builds(
    Exchange,
    seq=st.integers(0, 10**9),
    started=st.floats(0, 4e9, allow_nan=False),
    duration=st.floats(0, 1e4, allow_nan=False),
    request=st.builds(
        Request,
        method=st.sampled_from(["GET", "POST", "DELETE"]),
        path=st.text(string.ascii_letters + "/_", max_size=30).map(lambda p: "/" + p),
        query=st.text(max_size=30),
        headers=headers_strategy,
        body=body_strategy,
    ),
    response=st.one_of(
        st.none(),
        st.builds(
            Response, status=st.integers(100, 599), headers=headers_strategy, body=body_strategy
        ),
    ),
    error=st.one_of(st.none(), st.text(min_size=1, max_size=30)),
).filter(lambda e: e.response is not None or e.error is not None)


@settings(max_examples=60, deadline=None)
@given(
    exchanges=st.lists(exchange_strategy, max_size=5, unique_by=lambda e: e.seq),
    gz=st.booleans(),
)
def test_any_exchanges_round_trip(exchanges: list[Exchange], gz: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("r.jsonl.gz" if gz else "r.jsonl")
        write_recording(path, Header(), exchanges)
        assert as_json(iter_exchanges(path)) == as_json(exchanges)


def test_reading_streams_one_line_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    write_recording(path, Header(), sample_exchanges()[:1])
    with path.open("a") as handle:
        handle.write("{not json\n")
    exchanges: Iterator[Exchange] = iter_exchanges(path)
    # The first exchange arrives before the bad line is read.
    assert next(exchanges).seq == 0
    with pytest.raises(RecordingError, match=r"r\.jsonl:3: not valid JSON"):
        next(exchanges)


def test_writer_flushes_every_exchange(tmp_path: Path) -> None:
    path = tmp_path / "live.jsonl"
    with RecordingWriter(path, Header()) as writer:
        writer.write(sample_exchanges()[0])
        # Readable by another reader while the writer is still open.
        assert [e.seq for e in iter_exchanges(path)] == [0]
        writer.write(sample_exchanges()[2])
        assert [e.seq for e in iter_exchanges(path)] == [0, 2]


def test_an_unclosed_gzip_file_reads_as_truncated(tmp_path: Path) -> None:
    """What a recorder killed with SIGKILL leaves: every flushed exchange, no gzip trailer."""
    path = tmp_path / "killed.jsonl.gz"
    writer = RecordingWriter(path, Header())
    for exchange in sample_exchanges():
        writer.write(exchange)
    copy = tmp_path / "copy.jsonl.gz"
    shutil.copyfile(path, copy)  # the bytes on disk before any close
    writer.close()
    with pytest.raises(RecordingError, match=r"copy\.jsonl\.gz:5: truncated last line"):
        list(iter_exchanges(copy))
    with pytest.warns(TruncatedRecordingWarning):
        assert as_json(iter_exchanges(copy, allow_truncated=True)) == as_json(sample_exchanges())


def _lines(*objects: Any) -> str:
    return "".join((o if isinstance(o, str) else json.dumps(o)) + "\n" for o in objects)


HEADER = Header(created="2026-11-23T19:00:00+00:00").to_json()
GOOD = sample_exchanges()[0].to_json()


def _without(data: dict[str, Any], *path: str) -> dict[str, Any]:
    copy = json.loads(json.dumps(data))
    node = copy
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return copy


def _with(data: dict[str, Any], value: Any, *path: str | int) -> dict[str, Any]:
    copy = json.loads(json.dumps(data))
    node = copy
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return copy


@pytest.mark.parametrize(
    ("content", "where", "problem"),
    [
        ("", 1, "empty file: expected a header line"),
        (_lines("[1, 2"), 1, "not valid JSON"),
        (
            _lines({"format": "har", "version": 1}),
            1,
            "header.format: expected 'stripe-shadow-recording'",
        ),
        (
            _lines(_with(HEADER, 3, "version")),
            1,
            "version 3 is newer than this stripe-shadow reads",
        ),
        (_lines(_with(HEADER, "1", "version")), 1, "header.version: expected int, got str"),
        (_lines(_without(HEADER, "created")), 1, "header: missing field 'created'"),
        (_lines(HEADER, GOOD, "{oops}"), 3, "not valid JSON"),
        (_lines(HEADER, _without(GOOD, "seq")), 2, "exchange: missing field 'seq'"),
        (
            _lines(HEADER, _with(GOOD, "200", "response", "status")),
            2,
            "response.status: expected int, got str",
        ),
        (
            _lines(HEADER, _with(GOOD, 700, "response", "status")),
            2,
            "response.status: 700 is not an HTTP status",
        ),
        (
            _lines(HEADER, _with(GOOD, "v1/x", "request", "path")),
            2,
            "request.path: must start with '/'",
        ),
        (
            _lines(HEADER, _with(GOOD, {"a": "b"}, "request", "headers")),
            2,
            "request.headers: expected a list",
        ),
        (_lines(HEADER, _with(GOOD, ["Host"], "request", "headers", 0)), 2, "request.headers[0]"),
        (_lines(HEADER, _with(GOOD, 5, "request", "body")), 2, "request.body: expected a string"),
        (_lines(HEADER, _with(GOOD, True, "seq")), 2, "exchange.seq: expected int, got bool"),
        (
            _lines(HEADER, _with(GOOD, -1.0, "duration")),
            2,
            "exchange.duration: -1.0 is not a duration in seconds",
        ),
        (_lines(HEADER, _without(GOOD, "response")), 2, "needs a 'response' or an 'error'"),
        (_lines(HEADER, GOOD, "[]"), 3, "exchange: expected a JSON object, got list"),
        (
            _lines(
                HEADER,
                _with(_with(GOOD, "base64", "response", "body_encoding"), "a", "response", "body"),
            ),
            2,
            "a body marked base64 is not base64",
        ),
    ],
)
def test_invalid_input_names_file_line_and_problem(
    tmp_path: Path, content: str, where: int, problem: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(RecordingError) as caught:
        list(iter_exchanges(path))
    message = str(caught.value)
    assert message.startswith(f"{path}:{where}: ")
    assert problem in message
    assert "\n" not in message
    assert caught.value.exit_code == 2


def test_a_truncated_last_line_is_an_error_or_with_consent_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl"
    complete = _lines(HEADER, GOOD, _with(GOOD, 1, "seq"))
    path.write_text(complete + json.dumps(_with(GOOD, 2, "seq"))[:57])
    with pytest.raises(
        RecordingError, match=r"cut\.jsonl:4: truncated last line .*--allow-truncated"
    ):
        list(iter_exchanges(path))
    with pytest.warns(
        TruncatedRecordingWarning, match=r"cut\.jsonl:4: truncated last line skipped"
    ):
        assert [e.seq for e in iter_exchanges(path, allow_truncated=True)] == [0, 1]


def test_a_body_marked_base64_that_is_missing_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "no-body.jsonl"
    line = _without(_with(GOOD, "base64", "response", "body_encoding"), "response", "body")
    path.write_text(_lines(HEADER, line))
    [exchange] = iter_exchanges(path)
    assert exchange.response is not None and exchange.response.body == b""


def test_a_complete_last_line_without_newline_is_read(tmp_path: Path) -> None:
    path = tmp_path / "no-newline.jsonl"
    path.write_text(_lines(HEADER) + json.dumps(GOOD))
    assert [e.seq for e in iter_exchanges(path)] == [0]


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="no such file"):
        read_header(tmp_path / "nope.jsonl")
    with pytest.raises(RecordingError, match="is a directory"):
        read_header(tmp_path)


def test_a_bad_gzip_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(b"this is not gzip at all\n")
    with pytest.raises(RecordingError, match=r"bad\.jsonl\.gz:1: cannot be read"):
        read_header(path)


# --- the schema ----------------------------------------------------------------------------


def test_the_demo_recording_matches_the_schema_line_by_line() -> None:
    lines = DEMO.read_text().splitlines()
    header_schema = {**SCHEMA, "$ref": "#/$defs/header"}
    exchange_schema = {**SCHEMA, "$ref": "#/$defs/exchange"}
    del header_schema["oneOf"], exchange_schema["oneOf"]
    jsonschema.validate(json.loads(lines[0]), header_schema)
    for line in lines[1:]:
        jsonschema.validate(json.loads(line), exchange_schema)
    assert len(lines) > 50


def test_the_schema_and_the_reader_agree_on_written_lines(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    write_recording(path, Header(), sample_exchanges())
    for line in path.read_text().splitlines():
        jsonschema.validate(json.loads(line), SCHEMA)


@pytest.mark.parametrize(
    "bad",
    [
        _with(GOOD, "200", "response", "status"),
        _without(GOOD, "seq"),
        _with(GOOD, "v1", "request", "path"),
        _without(GOOD, "response"),
        _with(HEADER, 3, "version"),
        _with(GOOD, "sideways", "direction"),
    ],
)
def test_the_schema_rejects_what_the_reader_rejects(bad: dict[str, Any]) -> None:
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCHEMA)


def test_the_demo_header_says_what_was_redacted() -> None:
    header = read_header(DEMO)
    assert header.redaction["applied"] is True
    assert header.redaction["pii"] == "keep"
    assert {"api_keys", "card_numbers", "cvc", "client_secrets", "cookies"} <= set(
        header.redaction["rules"]
    )
    assert header.source["kind"] == "mitmproxy"


# --- positions: a shard's or a resume's own exchanges ------------------------------------


def _delivery(exchange: Exchange) -> Exchange:
    """The same exchange as a webhook delivery the recorder heard (direction inbound)."""
    return Exchange.from_json({**exchange.to_json(), "direction": "inbound"})


@settings(max_examples=60, deadline=None)
@given(
    exchanges=st.lists(exchange_strategy, max_size=8, unique_by=lambda e: e.seq),
    inbound=st.lists(st.booleans(), min_size=8, max_size=8),
    wanted=st.lists(st.booleans(), min_size=8, max_size=8),
)
def test_positions_count_the_exchanges_iterating_yields(
    exchanges: list[Exchange], inbound: list[bool], wanted: list[bool]
) -> None:
    """A plan's positions count the recording's API calls, not the webhook deliveries
    between them, nor a body that says "inbound"."""
    said = '{"direction": "inbound"}'  # an API call whose body says it
    lines = [
        _delivery(e) if heard else replace(e, request=replace(e.request, body=said))
        for e, heard in zip(exchanges, inbound, strict=False)
    ]
    mask = bytes(wanted)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "r.jsonl"
        write_recording(path, Header(), lines)
        with RecordingReader(path) as reader:
            expected = [(i, e.to_json()) for i, e in enumerate(reader) if i < len(mask) and mask[i]]
        with RecordingReader(path) as reader:
            found = [(i, e.to_json()) for i, e in reader.positions(mask)]
    assert found == expected
