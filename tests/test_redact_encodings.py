"""Redaction against every way a client, a cassette or a target may encode a secret: array
keys, keys encoded twice, camel case, base64 of a key anywhere, folded headers, blanks of
other kinds in a card number, UTF-16 bodies, compressed bodies nobody undid. Each property
plants a secret, encodes it, and reads everything written back in every encoding it was
planted in."""

from __future__ import annotations

import base64
import binascii
import contextlib
import gzip
import json
import re
import string
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_plus

import brotli
import pytest
import zstandard
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.capture.compressed import LIMIT, sniff
from harness.capture.importers import ImportOptions, import_paths
from harness.capture.redact import is_secret_field, redact_exchange, redact_text, redact_tree
from harness.cli import main
from harness.formats.recording import iter_exchanges
from harness.formats.results import iter_results
from harness.model import Exchange, Request, Response
from harness.replay.resultwriter import ResultPipe
from harness.replay.session import result_header
from tests.test_redact_lenient import NAMED_SECRETS, card_numbers

ALNUM = string.ascii_letters + string.digits


@st.composite
def api_keys(draw: st.DrawFn) -> tuple[str, str]:
    """(key, the part of it that tells it apart)."""
    # Ends in letters and a digit, as no marker, status or time does.
    # No `redacted` in it: every marker holds that word, so finding it proves nothing.
    body = draw(st.text(ALNUM, min_size=8, max_size=36).filter(lambda text: "redact" not in text))
    body += "Zq7x"
    kind = draw(st.sampled_from(["sk", "rk", "pk", "ek", "whsec"]))
    if kind == "whsec":
        return f"whsec_{body}", body
    return f"{kind}_{draw(st.sampled_from(['test', 'live']))}_{body}", body


def _written(exchange: Exchange) -> str:
    return json.dumps(redact_exchange(exchange).to_json())


# --- field names ------------------------------------------------------------------------

CVC = "739"


@pytest.mark.parametrize(
    "text",
    [
        "card[cvc][]=739&amount=100",
        "card[cvc][0]=739&amount=100",
        "card.cvc.0=739&amount=100",
        "card%5Bcvc%5D%5B%5D=739",
        "card%5bcvc%5d%5b0%5d=739",
        "card%255Bcvc%255D=739",  # encoded twice
        "card%25255Bcvc%25255D%25255B%25255D=739",  # three times
        "payment_method_data[card][cvc]=739",
        '{"card[cvc][]": "739"}',
        '{"cardCvc": "739", "cvcNumber": "739", "securityCode": "739"}',
        '{"payment_method_data": {"card": {"cvc": ["739"]}}}',
        '--b\r\nContent-Disposition: form-data; name="card[cvc][]"\r\n\r\n739\r\n--b--\r\n',
        '--b\r\nContent-Disposition: form-data; name="card%255Bcvc%255D"\r\n\r\n739\r\n--b--\r\n',
        "log: card[cvc][]=739 sent",
        "log: card%5Bcvc%5D%5B0%5D=739 sent",
    ],
)
def test_a_cvc_under_any_key_shape_is_redacted(text: str) -> None:
    redacted = redact_text(text)
    assert CVC not in redacted and "<redacted:cvc>" in redacted
    assert redact_text(redacted) == redacted


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("bank_account[account_number][]=000123456789", "000123456789"),
        ('{"accountNumber": "000123456789"}', "000123456789"),
        ('{"routingNumber": "110000000"}', "110000000"),
        ('{"bankAccountNumber": "000123456789"}', "000123456789"),
        ('{"cardNumber": "4000 0566 5566 5556"}', "5566 5566"),
        ('{"Cookie": "session=a1b2c3d4e5f6"}', "a1b2c3d4e5f6"),
        ('{"headers": {"Set-Cookie": "__stripe_mid=a1b2c3d4e5f6; path=/"}}', "a1b2c3d4e5f6"),
        ('{"X-Api-Key": "a1b2c3d4e5f6g7"}', "a1b2c3d4e5f6g7"),
        ('{"account_number": ["000123456780", "000987654321"]}', "000987654321"),
        ('{"card": {"cvc": {"value": "739"}}, "amount": 100}', "739"),
        ('{"cvc": [{"a": ["1", 739]}], "amount": 100}', "739"),
    ],
)
def test_secret_fields_in_camel_case_array_form_and_header_named_members(
    text: str, secret: str
) -> None:
    assert secret not in redact_text(text)


def test_names_that_hold_no_secret_are_kept() -> None:
    after = '{"cvc": ["739"], "metadata": {"a": ["739"], "b": {"c": 739}}, "cvc_check": ["pass"]}'
    assert redact_text(after) == after.replace('["739"], "m', '["<redacted:cvc>"], "m', 1)
    kept = (
        "items[0][price]=price_123&expand[]=customer&amount=4242424242424242&cvc_check=pass"
        "&metadata[order-id]=4000056655665556x&unitAmount=100"
    )
    assert redact_text(kept) == kept
    assert redact_text('{"cvc_check": "pass", "unitAmount": 4242424242424242}') == (
        '{"cvc_check": "pass", "unitAmount": 4242424242424242}'
    )
    assert not is_secret_field("expand[]") and not is_secret_field("Content-Type")
    assert is_secret_field("card[cvc][]") and is_secret_field("Cookie")


def test_a_report_redacts_a_secret_members_list_and_object() -> None:
    tree = {"card": {"cvc": ["739"], "number": {"value": "4000056655665556"}}, "amount": 739}
    redacted = json.dumps(redact_tree(tree))
    assert '"739"' not in redacted and "5665" not in redacted
    assert redact_tree({"amount": 739, "metadata": {"a": "739"}}) == {
        "amount": 739,
        "metadata": {"a": "739"},
    }


# --- base64 of a key --------------------------------------------------------------------

_RUN = re.compile(r"[A-Za-z0-9+/_-]{4,}")


def _decodings(text: str) -> list[str]:
    """Every base64 run of `text` decoded from each of the four places a group may start,
    in both alphabets, leniently: what a reader of the file could recover."""
    out = []
    for run in _RUN.findall(text):
        for first in range(4):
            body = run[first:]
            body = body[: len(body) - len(body) % 4]
            for altchars in (None, b"-_"):
                with contextlib.suppress(binascii.Error):
                    out.append(base64.b64decode(body, altchars=altchars).decode("latin-1"))
    return out


def _b64(text: str, urlsafe: bool, padded: bool) -> str:
    encoded = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(text.encode())
    return encoded.decode().rstrip("=" if not padded else "")


@settings(max_examples=300, deadline=None)
@given(
    key=api_keys(),
    wrapper=st.sampled_from(["{}", "{}:", ":{}", '{{"api_key": "{}"}}', "user={}&x=1", "a{}"]),
    before=st.text("ab", max_size=3),  # bytes before the key shift where it falls in a group
    urlsafe=st.booleans(),
    padded=st.booleans(),
    place=st.sampled_from(["query", "json", "form", "header", "cookie", "free", "bearer"]),
)
def test_no_key_survives_in_base64_anywhere(
    key: tuple[str, str], wrapper: str, before: str, urlsafe: bool, padded: bool, place: str
) -> None:
    secret, body = key
    encoded = _b64(before + wrapper.format(secret), urlsafe, padded)
    query, headers, payload = "", [("Content-Type", "application/json")], ""
    if place == "query":
        query = f"token={quote(encoded, safe='')}&limit=3"
    elif place == "json":
        payload = json.dumps({"metadata": {"blob": encoded}})
    elif place == "form":
        payload = f"metadata[blob]={quote(encoded, safe='')}"
    elif place == "header":
        headers.append(("X-Shop-Blob", encoded))
    elif place == "cookie":
        headers.append(("X-Forwarded", f"session={encoded}; path=/"))
    elif place == "free":
        payload = f"auth blob {encoded} end"
    else:
        headers.append(("Authorization", f"Bearer {encoded}"))
    exchange = Exchange(
        0,
        0.0,
        0.0,
        Request("POST", "/v1/customers", query=query, headers=headers, body=payload),
        Response(400, body=json.dumps({"error": {"message": f"Unknown blob {encoded}"}})),
    )
    written = _written(exchange)
    assert body not in written
    assert not any(body in decoded for decoded in _decodings(written))
    assert redact_text(written) == written


def test_base64_that_holds_no_key_is_kept() -> None:
    text = "x=" + base64.b64encode(b"this is a test_ of nothing secret").decode()
    assert redact_text(text) == text
    basic = "Basic " + base64.b64encode(b"sk_test_4eC39HqLyjWDarjtT1zdp7dc:").decode()
    assert redact_text(basic).startswith("Basic c2tfdGVzdF88cmVkYWN0ZWQ6")


# --- folded headers, blanks in card numbers ----------------------------------------------


@settings(max_examples=200, deadline=None)
@given(key=api_keys(), cut=st.integers(1, 30), fold=st.sampled_from(["\r\n ", "\n\t", "\r\n  "]))
def test_a_key_folded_over_lines_leaves_no_piece(key: tuple[str, str], cut: int, fold: str) -> None:
    secret, body = key
    at = len(secret) - len(body) + min(cut, len(body) - 1)
    folded = secret[:at] + fold + secret[at:]
    exchange = Exchange(
        0,
        0.0,
        0.0,
        Request("GET", "/v1/balance", headers=[("Authorization", f"Bearer {folded}")]),
        Response(200, body="ok"),
        error=None,
    )
    written = _written(exchange)
    assert secret[at:] not in written and body[:8] not in written
    assert body[-8:] not in redact_text(f"Authorization: Bearer {folded}")


@settings(max_examples=200, deadline=None)
@given(
    number=card_numbers(),
    blank=st.sampled_from(["\t", "\u00a0", "\u202f", "\u2009", "   ", "%20%20%20", "+++"]),
)
def test_a_card_grouped_with_any_blank_is_redacted(number: str, blank: str) -> None:
    written = blank.join(number[i : i + 4] for i in range(0, len(number), 4))
    for text in (f"note: paid with {written} today", f"card[number]={written}"):
        redacted = redact_text(text)
        assert number[4:-4] not in redacted.replace(blank, "")
        assert f"<redacted:card:{number[-4:]}" in redacted


# --- UTF-16 bodies ------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    key=api_keys(),
    number=card_numbers(),
    codec=st.sampled_from(["utf-16", "utf-16-le", "utf-16-be", "utf-32"]),
    as_text=st.booleans(),
)
def test_no_secret_survives_in_a_wide_body(
    key: tuple[str, str], number: str, codec: str, as_text: bool
) -> None:
    secret, body = key
    form = f"card[number]={number}&card[cvc]=739&note=k {secret} ok&amount=1999"
    raw = form.encode(codec)
    # A body of ASCII text in UTF-16 without a byte order mark is valid UTF-8 (with NULs):
    # the recorder keeps it as text.
    payload: str | bytes = raw.decode("utf-8") if as_text and codec.endswith(("le", "be")) else raw
    exchange = Exchange(0, 0.0, 0.0, Request("POST", "/v1/tokens", body=payload), None, "reset")
    redacted = redact_exchange(exchange).request.body
    text = (redacted if isinstance(redacted, bytes) else redacted.encode("utf-8")).decode(codec)
    assert body not in text and number not in text and "=739" not in text
    assert f"card[number]=<redacted:card:{number[-4:]}>" in text
    assert "amount=1999" in text and "<redacted:cvc>" in text


# --- compressed bodies --------------------------------------------------------------------

_COMPRESS = {
    "gzip": gzip.compress,
    "gzip cut short": lambda data: gzip.compress(data)[:-6],
    "deflate": zlib.compress,
    "raw deflate": lambda data: (lambda c: c.compress(data) + c.flush())(
        zlib.compressobj(wbits=-15)
    ),
    "br": brotli.compress,
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}
# Each read back the way a client would (what was cut short comes back whole).
_DECOMPRESS = {
    "gzip": gzip.decompress,
    "gzip cut short": gzip.decompress,
    "deflate": zlib.decompress,
    "raw deflate": lambda data: zlib.decompress(data, wbits=-15),
    "br": brotli.decompress,
    "zstd": lambda data: zstandard.ZstdDecompressor().decompress(data),
}


@settings(max_examples=100, deadline=None)
@given(key=api_keys(), coding=st.sampled_from(sorted(_COMPRESS)))
def test_no_key_survives_in_a_body_compressed_and_not_undone(
    key: tuple[str, str], coding: str
) -> None:
    secret, body = key
    document = json.dumps({"id": "cus_123", "metadata": {"key": secret}, "pad": "x" * 200})
    compressed = _COMPRESS[coding](document.encode())
    exchange = Exchange(
        0, 0.0, 0.0, Request("GET", "/v1/customers/cus_123"), Response(200, body=compressed)
    )
    redacted = redact_exchange(exchange)
    assert redacted.response is not None and isinstance(redacted.response.body, bytes)
    content = _DECOMPRESS[coding](redacted.response.body)
    assert body not in content.decode() and "cus_123" in content.decode()


def _har(body: bytes, headers: list[dict[str, str]]) -> dict[str, Any]:
    entry = {
        "startedDateTime": "2026-03-02T10:00:00.000Z",
        "time": 10,
        "request": {"method": "GET", "url": "https://api.stripe.com/v1/customers", "headers": []},
        "response": {
            "status": 200,
            "headers": headers,
            "content": {"text": base64.b64encode(body).decode(), "encoding": "base64"},
        },
    }
    return {"log": {"version": "1.2", "entries": [entry]}}


@pytest.mark.parametrize(
    "headers",
    [
        [],  # the exporter dropped the header
        [{"name": "Content-Encoding", "value": "gzip"}],  # said, but cut short
        [{"name": "Content-Encoding", "value": "gzip, x-custom"}],  # said, but not undone
    ],
)
def test_an_imported_compressed_body_nobody_undid_holds_no_key(
    tmp_path: Path, headers: list[dict[str, str]]
) -> None:
    key = "sk_live_" + "Qw3rTy7uI0pAsDfGhJkL1234"
    document = json.dumps({"object": "list", "data": [{"note": key}], "pad": "y" * 300})
    body = gzip.compress(document.encode())
    if headers and headers[0]["value"] == "gzip":
        body = body[:-8]
    path = tmp_path / "capture.har"
    path.write_text(json.dumps(_har(body, headers)))
    out = tmp_path / "out.jsonl"
    import_paths([path], out, ImportOptions())
    (exchange,) = list(iter_exchanges(out))
    assert exchange.response is not None
    stored = exchange.response.body
    content = (
        stored
        if isinstance(stored, str)
        else zlib.decompressobj(wbits=47).decompress(stored).decode()
    )
    assert "Qw3rTy7uI0pAsDfGhJkL1234" not in content and "sk_live_<redacted:" in content
    assert "Qw3rTy7uI0pAsDfGhJkL1234" not in out.read_text()


def test_a_body_compressed_over_and_over_is_read_and_a_bomb_only_up_to_the_bound() -> None:
    key = "sk_test_" + "Nest3dDeepZq7x"
    body = json.dumps({"key": key}).encode()
    for _ in range(3):
        body = gzip.compress(body)
    exchange = Exchange(0, 0.0, 0.0, Request("GET", "/v1/x"), Response(200, body=body))
    redacted = redact_exchange(exchange).response
    assert redacted is not None and isinstance(redacted.body, bytes)
    inner = redacted.body
    for _ in range(3):
        inner = gzip.decompress(inner)
    assert b"Nest3dDeepZq7x" not in inner and b"sk_test_<redacted:" in inner
    # A gzip of 100 MiB of zeros: read up to the bound and no further.
    bomb = zlib.compressobj(wbits=31)
    zeros = bytes(1024 * 1024)
    parts = [bomb.compress(zeros) for _ in range(100)] + [bomb.flush()]
    assert sniff(b"".join(parts)) is not None
    assert len(sniff(b"".join(parts))[1]) == LIMIT  # type: ignore[index]


def test_an_import_problem_quoting_a_value_prints_no_secret(tmp_path: Path) -> None:
    key = "sk_test_" + "Qw3rTy7uI0pAsDfGhZq7x"
    entry = _har(b"{}", [])["log"]["entries"][0]
    relative = json.loads(json.dumps(entry))
    relative["request"]["url"] = f"/v1/customers?key={key}"
    status = json.loads(json.dumps(entry))
    status["response"]["status"] = key
    path = tmp_path / "capture.har"
    path.write_text(json.dumps({"log": {"version": "1.2", "entries": [relative, status, entry]}}))
    out = tmp_path / "out.jsonl"
    result = import_paths([path], out, ImportOptions())
    assert len(result.problems) == 2
    assert all("sk_test_<redacted:" in line for line in result.problems)
    assert "Qw3rTy7uI0pAsDfGhZq7x" not in " ".join(result.problems) + out.read_text()


def test_an_error_line_quoting_a_secret_prints_it_redacted(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        "name: x\nrecording: r.jsonl\nbaseline: recording\n"
        "targets:\n  - name: replayed\n    launch: sk_test_Qw3rTy7uI0pAsDfGhZq7x\n"
    )
    result = CliRunner().invoke(main, ["validate", str(scenario)])
    assert result.exit_code == 2
    assert "launch kind 'sk_test_<redacted:" in result.output
    assert "Qw3rTy7uI0pAsDfGhZq7x" not in result.output


def test_a_key_in_a_binary_upload_or_a_header_name_is_redacted() -> None:
    key = "sk_test_" + "Qw3rTy7uI0pAsDfGhZq7x"
    upload = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n'
        b"%PDF-1.4\x00\x01\xff 4000056655665556 " + key.encode() + b" \x00\r\n--b--\r\n"
    )
    exchange = Exchange(
        0,
        0.0,
        0.0,
        Request("POST", "/v1/files", headers=[(f"X-{key}", "1")], body=upload),
        Response(200, body="{}"),
    )
    redacted = redact_exchange(exchange)
    assert b"Qw3rTy7uI0pAsDfGhZq7x" not in redacted.request.body  # type: ignore[operator]
    assert b"%PDF-1.4\x00\x01\xff 4000056655665556 sk_test_<redacted:" in redacted.request.body  # type: ignore[operator]
    assert "Qw3rTy7uI0pAsDfGhZq7x" not in str(redacted.request.headers)


def test_a_targets_answer_echoing_secrets_is_written_redacted_by_the_result_writer(
    tmp_path: Path,
) -> None:
    key = "sk_live_" + "Ech0edBackZq7x1234"
    blob = base64.urlsafe_b64encode(f"{key}:".encode()).decode().rstrip("=")
    answers: list[str | bytes] = [
        json.dumps({"metadata": {"blob": blob}, "card": {"cvc": ["739", "740"]}}),
        f"card[number]=4000056655665556&note={key}".encode("utf-16"),
        gzip.compress(json.dumps({"error": {"message": f"Bad key {key}"}}).encode())[:-4],
    ]
    path = tmp_path / "target.jsonl"
    with ResultPipe(path, result_header("run", "target")) as pipe:
        for seq, answer in enumerate(answers):
            pipe.write(
                Exchange(
                    seq, 1_700_000_000.0, 0.01, Request("GET", "/v1/x"), Response(200, body=answer)
                )
            )
    results = list(iter_results(path))
    assert len(results) == 3
    written = path.read_text()
    assert "Ech0edBackZq7x1234" not in written and '"739"' not in written
    assert not any("Ech0edBackZq7x1234" in text for text in _decodings(written))
    wide, cut = (result.response.body for result in results[1:] if result.response)
    assert isinstance(wide, bytes) and isinstance(cut, bytes)
    assert "Ech0edBackZq7x1234" not in wide.decode("utf-16") and "5665" not in wide.decode("utf-16")
    assert b"Ech0edBackZq7x1234" not in gzip.decompress(cut)


@settings(max_examples=200, deadline=None)
@given(key=api_keys(), urlsafe=st.booleans(), padded=st.booleans(), in_form=st.booleans())
def test_a_redacted_base64_value_still_decodes_as_it_was_sent(
    key: tuple[str, str], urlsafe: bool, padded: bool, in_form: bool
) -> None:
    secret, body = key
    encoded = _b64(f"{secret}:", urlsafe, padded)
    if in_form:
        redacted = unquote_plus(redact_text(f"blob={quote(encoded, safe='')}&limit=3")[5:-8])
    else:
        redacted = redact_text(encoded)
    restored = redacted + "=" * (-len(redacted) % 4)
    decoded = base64.b64decode(restored, altchars=b"-_" if urlsafe else None).decode()
    assert decoded.startswith(secret.split("_")[0]) and "<redacted:" in decoded
    assert body not in decoded and redacted.endswith("=") == (padded and "=" in encoded)


def test_the_fields_a_stage_adds_to_an_exchange_are_redacted_and_kept_otherwise() -> None:
    key = "sk_test_" + "Tr4nsformZq7x1234"
    extra = {
        "journey": 3,
        "attempts": 1,
        "skipped": False,
        "notes": [f"transform x could not learn: ValueError: bad key {key}"],
        "steps": [{"method": "POST", "path": "/v1/x", "status": 200}],
        "times_shifted": [
            {"parameter": "created[gte]", "recorded": 1700000000, "sent": 1800000000}
        ],
    }
    exchange = Exchange(0, 0.0, 0.0, Request("GET", "/v1/x"), Response(200), extra=extra)
    redacted = redact_exchange(exchange).extra
    assert "Tr4nsformZq7x1234" not in json.dumps(redacted)
    assert redacted["notes"] == [
        f"transform x could not learn: ValueError: bad key {redact_text(key)}"
    ]
    assert {k: v for k, v in redacted.items() if k != "notes"} == {
        k: v for k, v in extra.items() if k != "notes"
    }


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(sorted(NAMED_SECRETS)),
    data=st.data(),
    parent=st.sampled_from(["card", "payment_method_data[card]", "bank_account", "individual"]),
    index=st.sampled_from(["", "[]", "[0]", "[3]", ".0"]),
    camel=st.booleans(),
    encodings=st.integers(0, 3),  # times the key is percent-encoded
    place=st.sampled_from(["form", "json", "multipart", "free"]),
)
def test_no_named_secret_survives_any_key_shape(
    name: str,
    data: st.DataObject,
    parent: str,
    index: str,
    camel: bool,
    encodings: int,
    place: str,
) -> None:
    value = data.draw(NAMED_SECRETS[name])
    field = _camel(name) if camel else name
    key = f"{parent}[{field}]{index}"
    for _ in range(encodings):
        key = quote(key, safe="")
    if place == "form":
        text = f"amount=7&{key}={quote(value, safe='')}&currency=usd"
    elif place == "json":
        text = json.dumps({"amount": 7, key: value, "currency": "usd"})
    elif place == "multipart":
        text = (
            f'--xyz\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n--xyz--\r\n'
        )
    else:
        text = f"request failed: {key}={value} (amount=7)"
    redacted = redact_text(text)
    assert f"={value}&" not in redacted and f'"{value}"' not in redacted
    assert f"\n{value}\r" not in redacted and f"={value} " not in redacted
    assert "<redacted" in redacted
    assert place == "multipart" or "amount=7" in redacted or '"amount": 7' in redacted
