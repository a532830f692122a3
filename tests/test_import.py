"""`shadow import`: every format's quirks, order and time, placeholders, redaction, hosts,
refusals, and the command line, on small files written here (plain data)."""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from pathlib import Path
from typing import Any

import brotli
import jsonschema
import pytest
from click.testing import CliRunner

from harness.capture.importers import (
    ImportOptions,
    ImportRefused,
    Placeholders,
    import_paths,
    placeholders_from_options,
    scan_paths,
)
from harness.capture.importers.bodies import decoded
from harness.capture.redact import fingerprint
from harness.cli import main
from harness.errors import InputError
from harness.formats.recording import iter_exchanges, read_header
from harness.model import Exchange
from harness.replay.plan import plan_recording

REPO = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((REPO / "harness/schemas/recording-v2.schema.json").read_text())

# Secrets as importers meet them in public cassettes: Stripe's documented test-mode key
# (joined, so that no line of this file looks like a key of someone's) and test card.
KEY = "sk_test_" + "4eC39HqLyjWDarjtT1zdp7dc"
CARD = "4242424242424242"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def imported(tmp_path: Path, *paths: Path, **options: Any) -> tuple[list[Exchange], Any, Path]:
    out = tmp_path / "out" / "imported.jsonl"
    result = import_paths(paths, out, ImportOptions(**options))
    return list(iter_exchanges(out)), result, out


# --- VCR.py ------------------------------------------------------------------------------

VCRPY_YAML = (
    """\
interactions:
- request:
    body: amount=4242&currency=usd&payment_method=pm_card_visa&card[number]=4242424242424242
    headers:
      Authorization:
      - Bearer """
    + KEY
    + """
      Idempotency-Key:
      - 5f4c1a1e-7a8b-4c63-9a4e-1f0d0d9e4a01
    method: POST
    uri: https://api.stripe.com/v1/payment_intents
  response:
    body:
      string: "{\\n  \\"id\\": \\"pi_1F5BsRIUmJaD6Oqvz2XMKZCD\\",\\n  \\"object\\"\\
        : \\"payment_intent\\"\\
        ,\\n  \\"amount\\": 4242\\n}\\n"
    headers:
      Date:
      - Thu, 08 Aug 2019 13:41:59 GMT
      Stripe-Version:
      - '2019-05-16'
    status:
      code: 200
      message: OK
- request:
    body: null
    headers: {}
    method: GET
    uri: https://api.stripe.com/v1/payment_intents/pi_1F5BsRIUmJaD6Oqvz2XMKZCD?expand%5B%5D=customer
  response:
    body:
      string: !!binary |
        GZIPPED
    headers:
      Content-Encoding:
      - gzip
      Date:
      - Thu, 08 Aug 2019 13:42:00 GMT
    status:
      code: 404
      message: Not Found
version: 1
"""
)


def vcrpy_yaml() -> str:
    gzipped = base64.b64encode(gzip.compress(b'{"error": {"type": "invalid_request_error"}}'))
    return VCRPY_YAML.replace("GZIPPED", gzipped.decode())


def test_vcrpy_yaml_folded_strings_binary_gzip_and_the_date_header(tmp_path: Path) -> None:
    cassette = write(tmp_path / "cassettes" / "test_authorize", vcrpy_yaml())  # no suffix
    exchanges, result, out = imported(tmp_path, cassette)
    assert result.formats == {"vcrpy": 1} and result.problems == []
    first, second = exchanges
    assert (first.request.method, first.request.host, first.request.path) == (
        "POST",
        "api.stripe.com",
        "/v1/payment_intents",
    )
    # The folded string is one JSON document again.
    assert json.loads(first.response.text)["id"] == "pi_1F5BsRIUmJaD6Oqvz2XMKZCD"
    # gzip undone, Content-Encoding dropped; the query kept as it was sent.
    assert json.loads(second.response.text) == {"error": {"type": "invalid_request_error"}}
    assert second.response.header("Content-Encoding") is None
    assert second.request.query == "expand%5B%5D=customer"
    assert second.request.body == ""
    # Ordered and timed by the responses' Date headers.
    assert [e.started for e in exchanges] == [1565271719.0, 1565271720.0]
    assert first.extra["origin"] == {"file": str(cassette), "entry": 0}
    text = out.read_text()
    assert KEY not in text and CARD not in text
    assert first.request.header("Authorization") == f"Bearer sk_test_<redacted:{fingerprint(KEY)}>"
    header = read_header(out)
    assert header.source["kind"] == "import"
    assert header.source["files"] == [
        {"path": str(cassette), "format": "vcrpy", "interactions": 2, "imported": 2}
    ]
    assert header.redaction["applied"] is True
    for line in text.splitlines()[1:]:
        jsonschema.validate(json.loads(line), {**SCHEMA, "$ref": "#/$defs/exchange"})


def test_vcrpy_json(tmp_path: Path) -> None:
    cassette = {
        "interactions": [
            {
                "request": {
                    "body": "email=jenny%40example.com",
                    "headers": {"Content-Type": ["application/x-www-form-urlencoded"]},
                    "method": "POST",
                    "uri": "https://api.stripe.com/v1/customers",
                },
                "response": {
                    "body": {"string": '{"id": "cus_FbquUfgBnLdlsY", "object": "customer"}'},
                    "headers": {"Content-Type": ["application/json"]},
                    "status": {"code": 200, "message": "OK"},
                },
            }
        ],
        "version": 1,
    }
    (exchange,), result, _ = imported(tmp_path, write(tmp_path / "c.json", json.dumps(cassette)))
    assert result.formats == {"vcrpy": 1}
    assert exchange.request.body == "email=jenny%40example.com"
    assert exchange.response is not None and exchange.response.status == 200


# --- Ruby VCR ----------------------------------------------------------------------------

RUBY_VCR = """\
---
http_interactions:
- request:
    method: post
    uri: https://api.stripe.com/v1/customers/cus_QdZBiuUqY4Ww1y
    body:
      encoding: UTF-8
      string: invoice_settings[default_payment_method]=pm_1PmI3DKXBGcbgpbZre3GArdd
    headers:
      Stripe-Version:
      - '2024-06-20'
  response:
    status:
      code: 200
      message: OK
    headers:
      Stripe-Version:
      - '2024-06-20'
    body:
      encoding: ASCII-8BIT
      string: !binary |-
        FIRST
  recorded_at: Wed, 26 Mar 2025 19:47:28 GMT
- request:
    method: :get
    uri: https://api.stripe.com/v1/customers/cus_QdZBiuUqY4Ww1y
    body:
      encoding: US-ASCII
      string: ''
    headers: {}
  response:
    status:
      code: 200
      message: OK
    headers: {}
    body:
      encoding: ASCII-8BIT
      base64_string: |
        SECOND
  recorded_at: Sat, 10 Aug 2024 16:21:56 GMT
- request:
    method: delete
    uri: https://api.stripe.com/v1/customers/cus_QdZBiuUqY4Ww1y
    body:
      encoding: US-ASCII
      string: ''
    headers: {}
  response:
    status:
      code: 200
      message: OK
    headers: {}
    body:
      encoding: ASCII-8BIT
      string: "{\\"id\\": \\"cus_QdZBiuUqY4Ww1y\\", \\"name\\": \\"Zo\\xC3\\xAB\\"}"
  recorded_at: Sat, 10 Aug 2024 16:21:57 GMT
recorded_with: VCR 6.4.0
"""


def ruby_vcr() -> str:
    first = base64.b64encode(b'{"id": "cus_QdZBiuUqY4Ww1y", "object": "customer"}').decode()
    second = base64.b64encode('{"id": "cus_QdZBiuUqY4Ww1y", "name": "Zoë"}'.encode()).decode()
    return RUBY_VCR.replace("FIRST", first).replace("SECOND", second)


def test_ruby_vcr_binary_bodies_methods_and_episodes_by_recorded_at(tmp_path: Path) -> None:
    exchanges, result, _ = imported(tmp_path, write(tmp_path / "invoice.yml", ruby_vcr()))
    assert result.formats == {"ruby-vcr": 1} and result.problems == []
    # Appended over the years: recorded_at orders them, not their place in the file.
    assert [e.request.method for e in exchanges] == ["GET", "DELETE", "POST"]
    assert [e.started for e in exchanges] == [1723306916.0, 1723306917.0, 1743018448.0]
    get, delete, post = exchanges
    assert json.loads(get.response.text)["name"] == "Zoë"  # base64_string
    assert json.loads(delete.response.text)["name"] == "Zoë"  # ASCII-8BIT \xNN escapes
    assert json.loads(post.response.text)["object"] == "customer"  # !binary
    assert [e.extra["origin"]["entry"] for e in exchanges] == [1, 2, 0]


def test_ruby_vcr_json(tmp_path: Path) -> None:
    cassette = {
        "http_interactions": [
            {
                "request": {
                    "method": "get",
                    "uri": "https://api.stripe.com/v1/balance",
                    "body": {"encoding": "US-ASCII", "string": ""},
                    "headers": {},
                },
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": {},
                    "body": {"encoding": "UTF-8", "string": '{"object": "balance"}'},
                },
                "recorded_at": "Mon, 10 Nov 2025 18:26:20 GMT",
            }
        ],
        "recorded_with": "VCR 6.3.1",
    }
    (exchange,), result, _ = imported(tmp_path, write(tmp_path / "b.json", json.dumps(cassette)))
    assert result.formats == {"ruby-vcr": 1}
    assert exchange.started == 1762799180.0


# --- ExVCR -------------------------------------------------------------------------------


def erlang_term(data: bytes) -> str:
    return base64.b64encode(bytes([131, 109]) + len(data).to_bytes(4, "big") + data).decode()


EXVCR: list[dict[str, Any]] = [
    {
        "request": {
            "body": (
                "amount=1000&currency=USD&source[object]=card&source[number]=4111111111111111"
                "&source[cvc]=123"
            ),
            "headers": {"Authorization": "Bearer non_empty_secret_key_string"},
            "method": "post",
            "options": [],
            "request_body": "",
            "url": "https://api.stripe.com/v1/charges",
        },
        "response": {
            "body": '{"id": "ch_8r2ksK2e51zYxT", "object": "charge"}',
            "headers": {"Date": "Wed, 20 Jul 2016 13:22:20 GMT", "Stripe-Version": "2016-07-06"},
            "status_code": 200,
            "type": "ok",
        },
    },
    {
        "request": {
            "body": "",
            "headers": [],
            "method": "get",
            "options": [],
            "url": "https://api.stripe.com/v1/charges/ch_8r2ksK2e51zYxT",
        },
        "response": {
            "binary": True,
            "body": erlang_term(b"\xff\xfe not text"),
            "headers": {"Date": "Wed, 20 Jul 2016 13:22:21 GMT"},
            "status_code": ["HTTP/1.1", 200, "OK"],
            "type": "ok",
        },
    },
    {
        "request": {
            "body": "",
            "headers": {},
            "method": "get",
            "url": "https://api.stripe.com/v1/balance",
        },
        "response": {"body": "econnrefused", "type": "error"},
    },
]


def test_exvcr_lists_lower_case_methods_httpc_status_binary_terms_and_errors(
    tmp_path: Path,
) -> None:
    exchanges, result, out = imported(tmp_path, write(tmp_path / "charge.json", json.dumps(EXVCR)))
    assert result.formats == {"exvcr": 1} and result.problems == []
    charge, retrieve, failed = exchanges
    assert charge.request.method == "POST"
    assert "source[number]=<redacted:card:1111>" in charge.request.text
    assert "source[cvc]=<redacted:cvc>" in charge.request.text
    assert retrieve.response is not None and retrieve.response.status == 200
    assert retrieve.response.body == b"\xff\xfe not text"
    assert failed.response is None and failed.error == "no response (econnrefused)"
    assert "4111111111111111" not in out.read_text()


def test_a_date_before_1970_leaves_its_exchange_untimed(tmp_path: Path) -> None:
    # Found by test_damaged_cassettes: a digit cut out of 2016 made the year 216, a time
    # no recording can hold (the reader then refused the recording the import wrote).
    cassette = json.loads(json.dumps(EXVCR))
    cassette[0]["response"]["headers"]["Date"] = "Wed, 20 Jul 216 13:22:20 GMT"
    exchanges, result, _ = imported(tmp_path, write(tmp_path / "charge.json", json.dumps(cassette)))
    assert result.problems == [] and result.imported == 3
    retrieve, charge, _ = exchanges  # the timed one first, as for any exchange without a time
    assert retrieve.started == 1469020941.0 and charge.started == retrieve.started


# --- go-vcr ------------------------------------------------------------------------------

GO_VCR_V2 = """\
---
version: 2
interactions:
- id: 0
  request:
    proto: HTTP/1.1
    body: ""
    form:
      amount:
      - "1000"
      metadata[order]:
      - "A 1"
    headers:
      Content-Type:
      - application/x-www-form-urlencoded
    url: https://api.stripe.com/v1/payment_intents
    method: POST
  response:
    body: '{"id": "pi_3OMtTlEosEcNBN5m0JVOkk9c", "object": "payment_intent"}'
    headers:
      Date:
      - Wed, 13 Dec 2023 14:32:05 GMT
    status: 200 OK
    code: 200
    duration: 1.5s
"""

GO_VCR_V1 = """\
---
version: 1
interactions:
- request:
    body: ""
    form: {}
    headers: {}
    url: https://api.stripe.com/v1/payment_intents/pi_3OMtTlEosEcNBN5m0JVOkk9c
    method: GET
  response:
    body: '{"id": "pi_3OMtTlEosEcNBN5m0JVOkk9c"}'
    headers:
      Date:
      - Wed, 13 Dec 2023 14:32:06 GMT
    status: 402 Payment Required
    duration: 312ms
"""


def test_go_vcr_forms_status_lines_and_durations(tmp_path: Path) -> None:
    exchanges, result, _ = imported(
        tmp_path, write(tmp_path / "v2.yaml", GO_VCR_V2), write(tmp_path / "v1.yaml", GO_VCR_V1)
    )
    assert result.formats == {"go-vcr": 2} and result.problems == []
    create, retrieve = exchanges
    assert create.request.body == "amount=1000&metadata%5Border%5D=A+1"
    assert create.duration == 1.5
    assert retrieve.response is not None and retrieve.response.status == 402
    assert retrieve.duration == pytest.approx(0.312)


# --- HAR ---------------------------------------------------------------------------------


def har_entry(
    url: str, started: str, *, post: dict[str, Any] | None = None, **response: Any
) -> dict[str, Any]:
    return {
        "startedDateTime": started,
        "time": 250,
        "request": {
            "method": "POST" if post else "GET",
            "url": url,
            "headers": [
                {"name": ":authority", "value": "api.stripe.com"},
                {"name": "authorization", "value": f"Bearer {KEY}"},
            ],
            **({"postData": post} if post else {}),
        },
        "response": {"status": 200, "headers": [], "content": {}, **response},
    }


CREATED = "pi_3OMtTlEosEcNBN5m0JVOkk9c"


def test_har_polly_objects_params_base64_status_zero_and_other_hosts(tmp_path: Path) -> None:
    har = {
        "log": {
            "version": "1.2",
            "creator": {"name": "Polly.JS", "version": "6.0.5"},
            "entries": [
                har_entry(
                    "https://api.stripe.com/v1/payment_intents",
                    "2023-12-13T14:32:05.000Z",
                    post={
                        "mimeType": "application/x-www-form-urlencoded",
                        "params": [
                            {"name": "amount", "value": "22299"},
                            {"name": "metadata[note]", "value": "a&b"},
                        ],
                    },
                    content={
                        "mimeType": "application/json",
                        "text": {"id": CREATED, "client_secret": "pi_FAKE_CLIENT_SECRET"},
                    },
                ),
                har_entry(
                    "https://sentry.io/api/1/envelope/",
                    "2023-12-13T14:32:04.000Z",
                    post={"mimeType": "application/json", "text": "{}"},
                ),
                har_entry(
                    f"https://api.stripe.com/v1/payment_intents/{CREATED}",
                    "2023-12-13T14:32:06.000Z",
                    content={
                        "encoding": "base64",
                        "text": base64.b64encode(b'{"object": "payment_intent"}').decode(),
                    },
                ),
                har_entry(
                    "https://files.stripe.com/v1/files",
                    "2023-12-13T14:32:07.000Z",
                    status=0,
                    _error="net::ERR_CONNECTION_RESET",
                ),
            ],
        }
    }
    path = write(tmp_path / "recording.har", json.dumps(har))
    exchanges, result, out = imported(tmp_path, path)
    assert result.formats == {"har": 1} and result.problems == []
    assert result.interactions == 4 and result.imported == 3
    assert result.other_hosts == {"sentry.io": 1}
    create, retrieve, upload = exchanges
    assert create.request.body == "amount=22299&metadata%5Bnote%5D=a%26b"
    body = json.loads(create.response.text)
    assert body["id"] == CREATED and body["client_secret"] == "<redacted>"
    assert [name for name, _ in create.request.headers] == ["authorization"]
    assert create.duration == 0.25 and create.started == 1702477925.0
    assert json.loads(retrieve.response.text) == {"object": "payment_intent"}
    assert upload.request.host == "files.stripe.com"
    assert upload.response is None and upload.error == "no response (net::ERR_CONNECTION_RESET)"
    assert KEY not in out.read_text()


def test_a_gzipped_har_is_read_through(tmp_path: Path) -> None:
    entry = har_entry("https://api.stripe.com/v1/balance", "2024-01-01T00:00:00Z")
    har = {"log": {"entries": [entry]}}
    path = write(tmp_path / "session.har.gz", gzip.compress(json.dumps(har).encode()))
    exchanges, result, _ = imported(tmp_path, path)
    assert result.formats == {"har": 1} and len(exchanges) == 1


# --- bodies ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("coding", "encode"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("br", brotli.compress)],
)
def test_compressed_bodies_are_decoded(coding: str, encode: Any) -> None:
    body, headers = decoded(encode(b'{"ok": true}'), [("Content-Encoding", coding)])
    assert body == '{"ok": true}' and headers == []


def test_text_stored_decoded_beside_its_header_loses_the_header() -> None:
    assert decoded('{"ok": true}', [("content-encoding", "gzip")]) == ('{"ok": true}', [])
    # Bytes that are neither what the header says nor text stay as they were.
    assert decoded(b"\xff\x00", [("Content-Encoding", "gzip")]) == (
        b"\xff\x00",
        [("Content-Encoding", "gzip")],
    )


# --- placeholders --------------------------------------------------------------------------

PAY_CASSETTE = """\
---
http_interactions:
- request:
    method: post
    uri: https://api.stripe.com/v<VENDOR_ID>/customers/cus_TOnNRMI<VENDOR_ID>CGJPpe?e<VENDOR_AUTH_CODE>pand[]=tax
    body:
      encoding: UTF-8
      string: e<VENDOR_AUTH_CODE>pand[]=invoice_settings
    headers:
      Authorization:
      - Bearer sk_test_e<VENDOR_AUTH_CODE>0JDdQGDv6z2QmAIVQUOyE6
      Stripe-Version:
      - 2025-<VENDOR_ID>0-29.clover
      Access-Control-E<VENDOR_AUTH_CODE>pose-Headers:
      - Request-Id
  response:
    status:
      code: 200
      message: OK
    headers: {}
    body:
      encoding: ASCII-8BIT
      string: !binary |-
        BODY
  recorded_at: Mon, 10 Nov 2025 18:26:17 GMT
recorded_with: VCR 6.3.1
"""


def pay_cassette() -> str:
    body = (
        b'{"id": "cus_TOnNRMI<VENDOR_ID>CGJPpe", "client_<PADDLE_API_KEY>": null, '
        b'"n": <VENDOR_ID>0}'
    )
    return PAY_CASSETTE.replace("BODY", base64.b64encode(body).decode())


def test_placeholders_are_undone_in_urls_headers_json_keys_and_binary_bodies(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "test_connect_transfer.yml", pay_cassette())
    placeholders = placeholders_from_options(
        ["<VENDOR_ID>=1", "<VENDOR_AUTH_CODE>=x", "<PADDLE_API_KEY>=secret"]
    )
    (exchange,), result, out = imported(tmp_path, path, placeholders=placeholders)
    request = exchange.request
    assert request.path == "/v1/customers/cus_TOnNRMI1CGJPpe"
    assert request.query == "expand[]=tax" and request.body == "expand[]=invoice_settings"
    assert request.header("Stripe-Version") == "2025-10-29.clover"
    assert request.header("Access-Control-Expose-Headers") == "Request-Id"
    body = json.loads(exchange.response.text)  # parses only once the placeholders are gone
    assert body == {"id": "cus_TOnNRMI1CGJPpe", "client_secret": None, "n": 10}
    # The key came back whole, and was redacted like any key.
    assert request.header("Authorization") == (
        f"Bearer sk_test_<redacted:{fingerprint('sk_test_ex0JDdQGDv6z2QmAIVQUOyE6')}>"
    )
    assert result.placeholders == {"<VENDOR_ID>": 5, "<VENDOR_AUTH_CODE>": 4, "<PADDLE_API_KEY>": 1}
    assert read_header(out).source["placeholders_undone"] == dict(result.placeholders)
    assert "<VENDOR" not in "".join(out.read_text().splitlines(keepends=True)[1:])


def test_placeholders_left_inside_words_refuse_the_file(tmp_path: Path) -> None:
    """Left as they are, they would hide a key or a client secret from redaction."""
    path = write(tmp_path / "test_connect_transfer.yml", pay_cassette())
    exchanges, result, out = imported(tmp_path, path)
    assert exchanges == [] and result.exit_code == 2
    (problem,) = result.problems
    assert problem.startswith(f"{path}: entry 0 (line 3): <VENDOR_ID> replaced parts of words")
    assert "--placeholder '<VENDOR_ID>=VALUE'" in problem
    assert "0JDdQGDv6z2QmAIVQUOyE6" not in out.read_text()


def test_scan_lists_placeholders_with_counts_and_redacted_examples(tmp_path: Path) -> None:
    path = write(tmp_path / "test_connect_transfer.yml", pay_cassette())
    result = scan_paths([path], ImportOptions(placeholders=Placeholders({"<PADDLE_API_KEY>": "x"})))
    assert set(result.sightings) == {"<VENDOR_ID>", "<VENDOR_AUTH_CODE>"}
    vendor = result.sightings["<VENDOR_ID>"]
    assert vendor.count == 5 and vendor.parts == {"url": 2, "header": 1, "body": 2}
    assert any("/v<VENDOR_ID>/customers" in example for example in vendor.examples)
    assert len(vendor.examples) <= 3
    shown = " ".join(result.sightings["<VENDOR_AUTH_CODE>"].examples)
    assert "0JDdQGDv6z2QmAIVQUOyE6" not in shown  # the Authorization header is never shown


def test_a_placeholder_file_and_bad_placeholder_options(tmp_path: Path) -> None:
    listed = write(tmp_path / "placeholders.txt", "# pay's test_helper.rb\n<VENDOR_ID>=1\n\n<X>=\n")
    assert placeholders_from_options([f"@{listed}"]).values == {"<VENDOR_ID>": "1", "<X>": ""}
    with pytest.raises(InputError, match=r"expected PLACEHOLDER=VALUE"):
        placeholders_from_options(["<VENDOR_ID>"])
    bad = write(tmp_path / "bad.txt", "<VENDOR_ID>\n")
    with pytest.raises(InputError, match=r"bad.txt:1: expected PLACEHOLDER=VALUE"):
        placeholders_from_options([f"@{bad}"])


# --- order, groups, refusals --------------------------------------------------------------


def vcrpy_cassette(*calls: tuple[str, str, str | None]) -> str:
    """(method, url, Date) per interaction."""
    interactions = []
    for method, url, date in calls:
        headers = {"Date": [date]} if date else {}
        interactions.append(
            {
                "request": {"body": None, "headers": {}, "method": method, "uri": url},
                "response": {
                    "body": {"string": "{}"},
                    "headers": headers,
                    "status": {"code": 200, "message": "OK"},
                },
            }
        )
    return json.dumps({"interactions": interactions, "version": 1})


def test_ties_keep_file_and_position_and_files_without_times_come_last(tmp_path: Path) -> None:
    date = "Thu, 08 Aug 2019 13:41:59 GMT"
    api = "https://api.stripe.com/v1"
    a = write(
        tmp_path / "a.json", vcrpy_cassette(("GET", f"{api}/a1", date), ("GET", f"{api}/a2", None))
    )
    b = write(tmp_path / "b.json", vcrpy_cassette(("GET", "https://api.stripe.com/v1/b1", None)))
    c = write(tmp_path / "c.json", vcrpy_cassette(("GET", "https://api.stripe.com/v1/c1", date)))
    exchanges, result, _ = imported(tmp_path, b, c, a)
    # a2 has no time of its own: it keeps its place after a1 (same second as c1, file order).
    assert [e.request.path for e in exchanges] == ["/v1/c1", "/v1/a1", "/v1/a2", "/v1/b1"]
    assert [e.seq for e in exchanges] == [0, 1, 2, 3]
    assert {e.started for e in exchanges} == {1565271719.0}
    assert result.first_time == result.last_time == 1565271719.0


def test_a_malformed_file_is_refused_in_one_line_and_the_rest_imported(tmp_path: Path) -> None:
    good = write(tmp_path / "cassettes" / "good.yml", ruby_vcr())
    broken = write(tmp_path / "cassettes" / "broken.yml", ruby_vcr()[:900] + "\n  - : [\n")
    write(tmp_path / "cassettes" / ".hidden.yml", "not: a cassette")
    write(tmp_path / "cassettes" / "empty.yml", "")
    exchanges, result, _ = imported(tmp_path, tmp_path / "cassettes")
    assert len(exchanges) == 3
    (problem,) = result.problems
    assert problem.startswith(f"{broken}: line ") and "not valid YAML" in problem
    assert "\n" not in problem
    assert problem.endswith("refused; its 1 imported exchanges are left out")
    assert result.exit_code == 2
    assert result.skipped == [str(tmp_path / "cassettes" / n) for n in (".hidden.yml", "empty.yml")]
    assert [f.path for f in result.files] == [str(broken), str(good)]


def test_response_only_files_and_strangers_are_refused_with_a_reason(tmp_path: Path) -> None:
    responses = write(tmp_path / "twg.json", json.dumps([{"response": {"status": 200}}]))
    stranger = write(tmp_path / "notes.json", json.dumps({"name": "x", "items": []}))
    missing = tmp_path / "missing.har"
    _, result, _ = imported(tmp_path, responses, stranger, missing)
    assert result.problems == [
        f"{responses}: a response-only recording (its entries have a response and no request); "
        "a replay needs the requests; refused",
        f"{stranger}: JSON of no known recording format (top-level keys: items, name); known: "
        "vcrpy, ruby-vcr, exvcr, go-vcr, har, mitmproxy; refused",
        f"{missing}: cannot be read (no such file or directory); refused",
    ]


def test_a_malformed_entry_is_refused_alone(tmp_path: Path) -> None:
    cassette = json.loads(vcrpy_cassette(("GET", "https://api.stripe.com/v1/balance", None)))
    cassette["interactions"].insert(0, {"request": {"method": "GET", "uri": 7}, "response": {}})
    path = write(tmp_path / "c.json", json.dumps(cassette))
    exchanges, result, _ = imported(tmp_path, path)
    assert len(exchanges) == 1 and result.dropped == {"malformed": 1}
    assert result.problems == [f"{path}: entry 0: request.uri: expected a string, got int"]


def test_strict_makes_the_first_problem_fatal_and_writes_nothing(tmp_path: Path) -> None:
    path = write(tmp_path / "c.json", "{")
    out = tmp_path / "out.jsonl"
    with pytest.raises(ImportRefused, match=r"c.json: not valid JSON"):
        import_paths([path], out, ImportOptions(strict=True))
    assert not out.exists() and list(tmp_path.iterdir()) == [path]


def test_cassettes_join_only_on_ids_one_of_them_created(tmp_path: Path) -> None:
    """A fixture customer used by two tests, a PaymentIntent one test made and another
    captured, and a teardown that lists every customer and deletes what it finds."""
    created = "pi_1F5BsRIUmJaD6Oqvz2XMKZCD"

    def interaction(method: str, path: str, answer: dict[str, Any], day: int) -> dict[str, Any]:
        return {
            "request": {"method": method, "uri": f"https://api.stripe.com{path}", "body": None},
            "response": {
                "status": {"code": 200},
                "headers": {"Date": [f"Thu, {day:02d} Aug 2019 13:41:59 GMT"]},
                "body": {"string": json.dumps(answer)},
            },
        }

    def cassette(name: str, *interactions: dict[str, Any]) -> Path:
        return write(tmp_path / f"{name}.json", json.dumps({"interactions": list(interactions)}))

    made = {"id": "cus_MadeByTest1A", "object": "customer"}
    paths = [
        cassette(
            "test_authorize",
            interaction("POST", "/v1/payment_intents", {"id": created}, 1),
            interaction("POST", "/v1/customers", made, 1),
            interaction("GET", "/v1/customers/cus_FixtureCust01", {"id": "cus_FixtureCust01"}, 1),
        ),
        cassette(
            "test_capture",
            interaction("POST", f"/v1/payment_intents/{created}/capture", {"id": created}, 2),
            interaction("GET", "/v1/customers/cus_FixtureCust01", {"id": "cus_FixtureCust01"}, 2),
        ),
        cassette(
            "test_teardown",
            interaction("GET", "/v1/customers", {"object": "list", "data": [made]}, 3),
            interaction("DELETE", f"/v1/customers/{made['id']}", {**made, "deleted": True}, 3),
        ),
    ]
    _, _, out = imported(tmp_path, *paths)
    journeys = plan_recording(out).journey_seqs()
    assert sorted(journeys) == [[0, 3], [1], [2], [4], [5], [6]]


# --- the command line ----------------------------------------------------------------------


def test_the_command_prints_the_summary_and_the_plan(tmp_path: Path) -> None:
    path = write(tmp_path / "test_connect_transfer.yml", pay_cassette())
    out = tmp_path / "imported.jsonl"
    result = CliRunner().invoke(
        main,
        ["import", str(path), "--out", str(out), "--placeholder", "<VENDOR_ID>=1",
         "--placeholder", "<VENDOR_AUTH_CODE>=x", "--placeholder", "<PADDLE_API_KEY>=secret"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:2] == ["files: 1 (ruby-vcr 1)", "interactions: 1, imported: 1"]
    assert "time span: 2025-11-10 18:26:17 → 2025-11-10 18:26:17 UTC (0 s)" in lines
    assert "placeholders undone: <VENDOR_ID> 5, <VENDOR_AUTH_CODE> 4, <PADDLE_API_KEY> 1" in lines
    assert "API versions: 2025-10-29.clover (1)" in lines
    assert f"{out}: 1 exchanges in 1 journeys" in lines and lines[-1] == f"wrote {out}"


def test_the_command_refuses_with_exit_2_and_scans(tmp_path: Path) -> None:
    good = write(tmp_path / "good.yml", pay_cassette())
    bad = write(tmp_path / "bad.har", '{"log": {"entries": [{"request": ')
    out = tmp_path / "imported.jsonl"
    result = CliRunner().invoke(main, ["import", str(good), str(bad), "-o", str(out)])
    assert result.exit_code == 2
    assert f"shadow: refused: {bad}: entry 0: not valid JSON" in result.stderr
    assert "Traceback" not in result.output and out.exists()
    scanned = CliRunner().invoke(main, ["import", "--scan", str(good)])
    assert scanned.exit_code == 0 and not (tmp_path / "imported.jsonl.tmp").exists()
    assert scanned.stdout.splitlines()[0] == "<VENDOR_ID>  5 times (url 2, body 2, header 1)"
    unknown = CliRunner().invoke(main, ["import", str(good), "-o", str(out), "--format", "har2"])
    assert unknown.exit_code == 2
    assert "--format har2: unknown importer 'har2' (did you mean har?)" in unknown.stderr
    no_out = CliRunner().invoke(main, ["import", str(good)])
    assert no_out.exit_code == 2 and "--out FILE is required" in no_out.stderr
