"""Redaction reads every encoding a client may send, leniently, the way Stripe's own parser
does (issue 15): each form a probe found unredacted, the numbers that must never be taken
for a card, and properties over random bodies in every encoding with secrets planted at
random places."""

from __future__ import annotations

import base64
import json
import string
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus, unquote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.capture.redact import (
    RedactionPolicy,
    card_shaped,
    fingerprint,
    iban_valid,
    luhn_valid,
    redact_exchange,
    redact_headers,
    redact_text,
    redact_tree,
)
from harness.model import Exchange, Request, Response

# Nothing here depends on the date: CI's clock-ahead pass leaves this module out.
pytestmark = pytest.mark.no_clock

KEY = "sk_test_" + "4eC39HqLyjWDarjtT1zdp7dc"
KEY_MARKER = f"sk_test_<redacted:{fingerprint(KEY)}>"
PSEUDONYMIZE = RedactionPolicy(pii="pseudonymize", pii_key=b"k" * 32)


# --- lenient forms ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # curl -d 'source[name]=John Smith': an unencoded space, which the form check of
        # before refused, so the CVC stayed.
        (
            "source[cvc]=123&source[name]=John Smith",
            "source[cvc]=<redacted:cvc>&source[name]=John Smith",
        ),
        (
            "source[cvc]=123&source[name]=John+Smith",
            "source[cvc]=<redacted:cvc>&source[name]=John+Smith",
        ),
        (
            "source[name]=John%20Smith&source[cvc]=123",
            "source[name]=John%20Smith&source[cvc]=<redacted:cvc>",
        ),
        # Duplicate keys: each one.
        ("card[cvc]=123&card[cvc]=456", "card[cvc]=<redacted:cvc>&card[cvc]=<redacted:cvc>"),
        # Dotted nesting, and an IBAN written in groups with blanks.
        (
            "card.cvc=123&sepa_debit.iban=DE89 3704 0044 0532 0130 00",
            "card.cvc=<redacted:cvc>&sepa_debit.iban=<redacted:iban:DE:3000>",
        ),
        ("card.number=4242 4242 4242 4242", "card.number=<redacted:card:4242:nnnn_nnnn_nnnn_nnnn>"),
        # A key percent-encoded letter by letter.
        ("card%5B%63vc%5D=123", "card%5B%63vc%5D=<redacted:cvc>"),
        # A trailing line break (curl --data-binary @file).
        ("card[cvc]=123\n", "card[cvc]=<redacted:cvc>\n"),
    ],
)
def test_form_bodies_are_read_as_leniently_as_stripe_reads_them(text: str, expected: str) -> None:
    assert redact_text(text) == expected


# --- the forms a probe found unredacted ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Keys escaped in JSON, and percent-encoded inside a URL in a JSON value.
        ('{"note": "sk\\u005ftest\\u005f4eC39HqLyjWDarjtT1zdp7dc"}', f'{{"note": "{KEY_MARKER}"}}'),
        (
            '{"url": "https://shop.example/cb?key=sk%5Ftest%5F4eC39HqLyjWDarjtT1zdp7dc&a=1"}',
            f'{{"url": "https://shop.example/cb?key={KEY_MARKER}&a=1"}}',
        ),
        ('{"sk\\u005ftest\\u005f4eC39HqLyjWDarjtT1zdp7dc": 1}', f'{{"{KEY_MARKER}": 1}}'),
        # Connect OAuth: a refresh token, an authorization code, the token answer.
        (
            "grant_type=refresh_token&refresh_token=rt_1GLpAbCdEfGhIjKlMnOp",
            f"grant_type=refresh_token&refresh_token=rt_<redacted:{fingerprint('rt_1GLpAbCdEfGhIjKlMnOp')}>",
        ),
        (
            "code=ac_1GLpAbCdEfGhIjKlMnOp&grant_type=authorization_code",
            f"code=ac_<redacted:{fingerprint('ac_1GLpAbCdEfGhIjKlMnOp')}>&grant_type=authorization_code",
        ),
        ('{"refresh_token": "opaque-value"}', '{"refresh_token": "<redacted>"}'),
        # Identity numbers, in a request and in an answer.
        (
            "individual[id_number]=123456789&individual[ssn_last_4]=6789",
            "individual[id_number]=<redacted:id_number>&individual[ssn_last_4]=<redacted:ssn_last_4>",
        ),
        (
            '{"individual": {"ssn": "123-45-6789", "id_number": 123456789}}',
            '{"individual": {"ssn": "<redacted:ssn>", "id_number": "<redacted:id_number>"}}',
        ),
        # A customer session's secret outside a client_secret field.
        (
            '{"note": "cuss_secret_QWErty123456789abc"}',
            '{"note": "cuss_secret_<redacted>"}',
        ),
        ("see cuss_secret_QWErty123456789abc", "see cuss_secret_<redacted>"),
        # Card numbers grouped with double blanks or dots.
        ("paid with 4242  4242  4242  4242", "paid with <redacted:card:4242>"),
        ("paid with 4242.4242.4242.4242", "paid with <redacted:card:4242>"),
        # card[cvv] echoed as a JSON key.
        ('{"card[cvv]": "123"}', '{"card[cvv]": "<redacted:cvc>"}'),
        ('{"card.cvc": 123}', '{"card.cvc": "<redacted:cvc>"}'),
        # A key glued to the word before it.
        (f"x{KEY}", f"x{KEY_MARKER}"),
        (f"token={KEY}", f"token={KEY_MARKER}"),
        # A webhook signature in free text.
        (
            "Stripe-Signature: t=1700000000,v1=" + "5257a869" * 8,
            "Stripe-Signature: t=1700000000,v1=<redacted>",
        ),
        # A webhook signature in a JSON string, alone, and as a form's value: its `v1=`
        # reads as a form's key.
        (
            '{"stripe_signature": "t=1700000000,v1=' + "5257a869" * 8 + '"}',
            '{"stripe_signature": "t=1700000000,v1=<redacted>"}',
        ),
        ("t=1700000000,v1=" + "5257a869" * 8, "t=1700000000,v1=<redacted>"),
        (
            "sig=t%3D1700000000%2Cv1%3D" + "5257a869" * 8 + "&a=1",
            "sig=t%3D1700000000%2Cv1%3D<redacted>&a=1",
        ),
        # A multipart part named with percent escapes, or without quotes.
        (
            '--b\r\nContent-Disposition: form-data; name="card%5Bcvc%5D"\r\n\r\n123\r\n--b--',
            '--b\r\nContent-Disposition: form-data; name="card%5Bcvc%5D"\r\n\r\n'
            "<redacted:cvc>\r\n--b--",
        ),
        (
            "--b\r\nContent-Disposition: form-data; name=card[cvc]\r\n\r\n123\r\n--b--",
            "--b\r\nContent-Disposition: form-data; name=card[cvc]\r\n\r\n<redacted:cvc>\r\n--b--",
        ),
        # A key percent-encoded twice: a URL with a query, inside a form's value.
        (
            "next=%2Fcb%3Fkey%3Dsk%255Ftest%255F4eC39HqLyjWDarjtT1zdp7dc",
            f"next=%2Fcb%3Fkey%3D{KEY_MARKER}",
        ),
        (f'{{"url": "{quote(quote(KEY, safe=""), safe="")}"}}', f'{{"url": "{KEY_MARKER}"}}'),
        # An IBAN by its shape (it carries a check) in an error message.
        (
            "No such IBAN: DE89370400440532013000.",
            "No such IBAN: <redacted:iban:DE:3000>.",
        ),
        # A dump of request headers in a log line, and a Python dict's repr of them.
        ("Authorization: Bearer opaque-token-xyz", "Authorization: Bearer <redacted>"),
        (
            "{'Authorization': 'Bearer opaque', 'X-Api-Key': 'zzz', 'Idempotency-Key': 'k1'}",
            "{'Authorization': 'Bearer <redacted>', 'X-Api-Key': '<redacted>', "
            "'Idempotency-Key': 'k1'}",
        ),
        # A secret inside a JSON string that is itself JSON.
        (
            json.dumps({"error": json.dumps({"card": {"cvc": "123"}})}),
            json.dumps({"error": json.dumps({"card": {"cvc": "<redacted:cvc>"}})}),
        ),
    ],
)
def test_every_form_a_probe_found_unredacted(text: str, expected: str) -> None:
    assert redact_text(text) == expected
    assert redact_text(expected) == expected


def test_identity_numbers_are_redacted_when_personal_data_is_pseudonymized_too() -> None:
    answer = json.dumps(
        {"individual": {"ssn": "123-45-6789", "ssn_last_4": "6789", "name": "Jenny Rosen"}}
    )
    redacted = json.loads(redact_text(answer, PSEUDONYMIZE))["individual"]
    assert redacted["ssn"] == "<redacted:ssn>"
    assert redacted["ssn_last_4"] == "<redacted:ssn_last_4>"
    assert redacted["name"] != "Jenny Rosen"
    request = redact_text(
        "individual[id_number]=123456789&individual[email]=j%40r.example", PSEUDONYMIZE
    )
    assert request.startswith("individual[id_number]=<redacted:id_number>&individual[email]=")
    assert "j%40r.example" not in request


def test_secret_headers_are_redacted_by_their_name() -> None:
    signature = "t=1700000000,v1=" + "ab" * 32 + ",v0=" + "cd" * 32
    headers = redact_headers(
        [
            ("Stripe-Signature", signature),
            ("X-Api-Key", "partner-key-123"),
            ("X-Auth-Token", "tok-abc"),
            ("Idempotency-Key", "4242424242424242"),
            ("Content-Type", "multipart/form-data; boundary=4242424242424242"),
            ("Access-Control-Allow-Credentials", "true"),
        ]
    )
    assert list(headers) == [
        ("Stripe-Signature", "t=1700000000,v1=<redacted>,v0=<redacted>"),
        ("X-Api-Key", "<redacted>"),
        ("X-Auth-Token", "<redacted>"),
        ("Idempotency-Key", "4242424242424242"),
        ("Content-Type", "multipart/form-data; boundary=4242424242424242"),
        ("Access-Control-Allow-Credentials", "true"),
    ]


def test_a_multipart_body_is_redacted_part_by_part_and_its_boundary_kept() -> None:
    boundary = "4242424242424242"
    binary = b"\x89PNG\x00\x01 4242424242424242 \xff"
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="card[cvc]"\r\n\r\n123\r\n'
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="note"\r\n\r\npaid with 4000 0566 5566 5556\r\n'
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="a.png"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + binary
        + f"\r\n--{boundary}--\r\n".encode()
    )
    exchange = Exchange(0, 0.0, 0.0, Request("POST", "/v1/files", body=body), Response(200))
    redacted = redact_exchange(exchange).request.body
    assert isinstance(redacted, bytes)
    assert redacted == body.replace(b"\r\n\r\n123\r\n", b"\r\n\r\n<redacted:cvc>\r\n").replace(
        b"4000 0566 5566 5556", b"<redacted:card:5556>"
    )
    # The binary file is kept byte for byte, digits and all; the delimiters too.
    assert binary in redacted and redacted.count(f"--{boundary}".encode()) == 4


@pytest.mark.parametrize(
    "text",
    [
        # Digits inside a longer token: an Idempotency-Key, an id, a hex boundary.
        "Idempotency-Key: shadow-3f9a0caf4242424242424242",
        "customer=cus_4242424242424242&pm=pm_4000056655665556",
        "boundary=ab4242424242424242cd",
        # Unix times in seconds, milliseconds and microseconds: no network issues a card
        # starting with 1.
        "metadata[sent_ms]=1765432109876&metadata[sent_us]=1765432109876543",
        '{"metadata": {"sent_ms": "1000000000009"}}',
        # Numbers of fields that never hold a card, card-shaped as they may be.
        "amount=4242424242424242&unit_amount=5555555555554444&created=4000056655665556",
        '{"amount": 4242424242424242, "expires_at": 4242424242424242, "id": "4242424242424242"}',
        "Content-Type: multipart/form-data; boundary=4242424242424242",
        'multipart/form-data; boundary="5555555555554444"',
        # Decimals and versions.
        "ratio 3782822463.100051 and version 4242.42.4242.4242",
        # An invoice number in a `number` field.
        '{"number": "ABC-4242-0001"}',
        # Words that merely contain `_secret_`.
        "plan=top_secret_plan&metadata[my_secret_note]=x",
    ],
)
def test_numbers_and_words_that_are_no_secret_are_left_alone(text: str) -> None:
    assert redact_text(text) == text


def test_a_report_keeps_amounts_and_redacts_secret_members_in_any_spelling() -> None:
    tree = {
        "amount": 4242424242424242,
        "card[cvc]": 123,
        "card.cvc": "123",
        "x": 4242424242424242,
        "ssn_last_4": "6789",
        "number": "INV-0001",
    }
    assert redact_tree(tree) == {
        "amount": 4242424242424242,
        "card[cvc]": "<redacted:cvc>",
        "card.cvc": "<redacted:cvc>",
        "x": "<redacted:card:4242>",
        "ssn_last_4": "<redacted:ssn_last_4>",
        "number": "INV-0001",
    }


# --- properties: random bodies in every encoding -----------------------------------------------

ALNUM = string.ascii_letters + string.digits


def _with_check_digit(head: str) -> str:
    return head + next(d for d in string.digits if luhn_valid(head + d))


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    """A number a card network could issue, with its Luhn check digit."""
    if draw(st.booleans()):
        start, length = str(draw(st.integers(2221, 2720))), 16
    else:
        start, length = draw(st.sampled_from("3456")), draw(st.integers(13, 19))
    size = length - 1 - len(start)
    return _with_check_digit(start + draw(st.text(string.digits, min_size=size, max_size=size)))


@st.composite
def written_cards(draw: st.DrawFn) -> str:
    """A card number as a person or a form may write it."""
    digits = draw(card_numbers())
    separator = draw(st.sampled_from(["", " ", "  ", "-", "."]))
    if separator == "." and len(digits) != 16:
        separator = "-"  # dots group a card in fours only (otherwise: a decimal, a version)
    return separator.join(digits[i : i + 4] for i in range(0, len(digits), 4))


@st.composite
def ibans(draw: st.DrawFn) -> str:
    country = draw(st.sampled_from(["DE", "FR", "GB", "NL", "ES", "IT"]))
    bban = draw(st.text(string.ascii_uppercase + string.digits, min_size=12, max_size=26))
    for check in range(2, 99):
        iban = f"{country}{check:02d}{bban}"
        if iban_valid(iban):
            return iban
    raise AssertionError("some check digits always fit")


def _random(draw: st.DrawFn, size: int = 24) -> str:
    # Ends with a digit: a real key's or secret's random part is base62.
    return draw(st.text(ALNUM, min_size=size, max_size=size)) + "7"


@st.composite
def shaped_secrets(draw: st.DrawFn) -> str:
    """A secret recognisable by its shape alone, wherever it is."""
    kind = draw(
        st.sampled_from(["key", "whsec", "card", "iban", "pi_secret", "cuss", "src", "rt", "ac"])
    )
    if kind == "key":
        prefix = draw(st.sampled_from(["sk", "rk", "pk", "ek", "pst"]))
        return f"{prefix}_{draw(st.sampled_from(['test', 'live']))}_{_random(draw)}"
    if kind == "whsec":
        return f"whsec_{_random(draw)}"
    if kind == "card":
        return draw(written_cards())
    if kind == "iban":
        return draw(ibans())
    if kind == "pi_secret":
        owner = draw(st.sampled_from(["pi", "seti"]))
        return f"{owner}_{_random(draw, 14)}_secret_{_random(draw)}"
    if kind == "cuss":
        return f"cuss_secret_{_random(draw)}"
    if kind == "src":
        return f"src_client_secret_{_random(draw)}"
    return f"{kind}_{_random(draw)}"


# Fields whose value is secret whatever it looks like: (the key path's last name, a value).
NAMED_SECRETS = {
    "cvc": st.text(string.digits, min_size=3, max_size=4),
    "cvv": st.text(string.digits, min_size=3, max_size=4),
    "id_number": st.text(string.digits, min_size=9, max_size=9),
    "ssn_last_4": st.text(string.digits, min_size=4, max_size=4),
    "account_number": st.text(string.digits, min_size=6, max_size=17),
    "routing_number": st.text(string.digits, min_size=9, max_size=9),
    "client_secret": st.text(ALNUM, min_size=8, max_size=30),
    "refresh_token": st.text(ALNUM, min_size=8, max_size=30),
    "password": st.text(ALNUM, min_size=8, max_size=30),
}


@st.composite
def kept_values(draw: st.DrawFn) -> tuple[str, str]:
    """A field that is no secret and a value that must come back unchanged: card-shaped
    amounts, times of every precision, ids and keys with digits glued on, words."""
    card = draw(card_numbers())
    kind = draw(st.integers(0, 7))
    if kind == 0:
        return draw(st.sampled_from(["amount", "unit_amount", "amount_captured"])), card
    if kind == 1:
        return "created", str(draw(st.integers(1_000_000_000, 1_999_999_999)))
    if kind == 2:
        return "sent_ms", str(draw(st.integers(10**12, 2 * 10**12 - 1)))
    if kind == 3:
        return "sent_us", str(draw(st.integers(10**15, 2 * 10**15 - 1)))
    if kind == 4:
        return "customer", f"cus_{card}"
    if kind == 5:
        return "order", f"shadow-3f9a0caf{card}"
    if kind == 6:
        return "expires_at", card
    words = draw(
        st.lists(
            st.sampled_from(["gold", "plan", "Jenny", "Rosen", "2026-01-05"]),
            min_size=1,
            max_size=4,
        )
    )
    return "description", " ".join(words)


@dataclass
class Field:
    path: list[str]  # key path: ["card", "cvc"]
    value: str
    secret: str | None  # what must not survive ("named": the value, by its field's name)


@st.composite
def fields(draw: st.DrawFn) -> list[Field]:
    out: list[Field] = []
    for index in range(draw(st.integers(1, 6))):
        choice = draw(st.integers(0, 2))
        if choice == 0:
            name = draw(st.sampled_from(sorted(NAMED_SECRETS)))
            parent = draw(st.sampled_from(["card", "individual", "bank_account", "payment"]))
            value = draw(NAMED_SECRETS[name])
            out.append(Field([parent, name], value, "named"))
        elif choice == 1:
            secret = draw(shaped_secrets())
            before = draw(st.sampled_from(["", "paid with ", "note: ", "(", "\u00e9t\u00e9 "]))
            after = draw(st.sampled_from(["", " thanks", ".", ")", " ok"]))
            out.append(Field(["metadata", f"note{index}"], before + secret + after, secret))
        else:
            name, value = draw(kept_values())
            out.append(
                Field(
                    ["metadata" if name in ("sent_ms", "sent_us", "order") else "x", name],
                    value,
                    None,
                )
            )
    return out


def _key(path: list[str], style: str) -> str:
    if style == "dots":
        return ".".join(path)
    return path[0] + "".join(f"[{part}]" for part in path[1:])


def _nest(items: list[tuple[list[str], str]]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path, value in items:
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return tree


def _escape_ascii(text: str) -> str:
    """JSON with every underscore escaped, as a client that escapes more than it must."""
    return text.replace("_", "\\u005f")


def encode(fields: list[Field], encoding: str, boundary: str) -> tuple[str | bytes, str]:
    """(body, content type) of `fields` in `encoding`; keys are unique per path."""
    unique = {tuple(f.path): f for f in fields}
    items = [(list(path), f.value) for path, f in unique.items()]
    if encoding == "form":
        body = "&".join(f"{quote_plus(_key(p, 'brackets'))}={quote_plus(v)}" for p, v in items)
        return body, "application/x-www-form-urlencoded"
    if encoding == "lenient form":  # curl -d: nothing encoded but what must be
        body = "&".join(f"{_key(p, 'dots')}={v.replace('%', '%25')}" for p, v in items)
        return body, "application/x-www-form-urlencoded"
    if encoding == "json":
        return json.dumps(_nest(items)), "application/json"
    if encoding == "escaped json":
        return _escape_ascii(json.dumps(_nest(items))), "application/json"
    if encoding == "multipart":
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{_key(p, "brackets")}"'
            f"\r\n\r\n{v}\r\n"
            for p, v in items
        ]
        return ("".join(parts) + f"--{boundary}--\r\n").encode(), (
            f"multipart/form-data; boundary={boundary}"
        )
    # A URL whose query holds the fields, inside a JSON value.
    query = "&".join(f"{quote(_key(p, 'brackets'), safe='')}={quote(v, safe='')}" for p, v in items)
    return json.dumps({"url": f"https://shop.example/return?{query}"}), "application/json"


def _path_of(key: str) -> str:
    """`card[cvc]` and `card.cvc` → `card|cvc`."""
    return key.replace("[", "|").replace("]", "").replace(".", "|")


def decode(body: str | bytes, encoding: str, boundary: str) -> dict[str, str]:
    """Key → value of a (redacted) body, read back the way it was encoded."""
    text = body.decode() if isinstance(body, bytes) else body
    if encoding in ("form", "lenient form"):
        pairs = [part.partition("=") for part in text.split("&")]
        return {_path_of(unquote_plus(k)): unquote_plus(v) for k, _, v in pairs}
    if encoding in ("json", "escaped json"):
        out: dict[str, str] = {}

        def walk(node: Any, path: list[str]) -> None:
            if isinstance(node, dict):
                for key, item in node.items():
                    walk(item, [*path, key])
            else:
                out["|".join(path)] = node

        walk(json.loads(text), [])
        return out
    if encoding == "multipart":
        out = {}
        for part in text.split(f"--{boundary}")[1:-1]:
            head, _, content = part.partition("\r\n\r\n")
            name = head.split('name="')[1].split('"')[0]
            out[_path_of(name)] = content[:-2]
        return out
    url = json.loads(text)["url"]
    pairs = [part.partition("=") for part in url.split("?", 1)[1].split("&")]
    return {_path_of(unquote_plus(k)): unquote_plus(v) for k, _, v in pairs}


def _path_key(path: list[str]) -> str:
    return "|".join(path)


ENCODINGS = ["form", "lenient form", "json", "escaped json", "multipart", "url in json"]


@settings(max_examples=400, deadline=None)
@given(
    planted=fields(),
    encoding=st.sampled_from(ENCODINGS),
    boundary=card_numbers(),
    in_query=st.booleans(),
)
def test_no_planted_secret_survives_and_nothing_else_is_touched(
    planted: list[Field], encoding: str, boundary: str, in_query: bool
) -> None:
    body, content_type = encode(planted, encoding, boundary)
    query = ""
    if in_query and encoding in ("form", "lenient form"):
        query, body = str(body), ""
    request = Request(
        "POST",
        "/v1/things",
        query=query,
        headers=[("Content-Type", content_type), ("Idempotency-Key", f"shadow-af{boundary}")],
        body=body,
    )
    exchange = Exchange(
        0, 0.0, 0.0, request, Response(200, body=body if isinstance(body, str) else "")
    )
    redacted = redact_exchange(exchange)
    sent = redacted.request.query if query else redacted.request.body
    assert redacted.request.headers == request.headers  # the boundary, the key: untouched
    values = decode(sent, encoding, boundary)
    texts = [sent, redacted.response.body if redacted.response is not None else ""]
    written = json.dumps([text.decode() if isinstance(text, bytes) else text for text in texts])
    unique = {tuple(f.path): f for f in planted}
    for path, field in unique.items():
        value = values[_path_key(list(path))]
        if field.secret is None:
            assert value == field.value
        elif field.secret == "named":
            assert value.startswith("<redacted") and value.endswith(">")
        else:
            assert field.secret not in value and "<redacted" in value
            kept = [other.value for other in unique.values() if not other.secret] + [boundary]
            if any(field.secret in value for value in kept):
                continue  # the same digits planted as an amount or a boundary too, which stay
            for form in (field.secret, quote_plus(field.secret), quote(field.secret)):
                assert form not in written
    # Redacting again changes nothing.
    assert redact_exchange(redacted).to_json() == redacted.to_json()


@settings(max_examples=200, deadline=None)
@given(secret=shaped_secrets(), name=st.sampled_from(["X-Note", "Referer", "Location"]))
def test_no_secret_survives_in_a_header_or_an_error(secret: str, name: str) -> None:
    value = f"https://shop.example/x?note={quote(secret, safe='')}&t=1700000000 {secret}"
    exchange = Exchange(
        0,
        0.0,
        0.0,
        Request("GET", "/v1/balance", headers=[(name, value), ("Authorization", basic(secret))]),
        Response(400, headers=[(name, value)], body=json.dumps({"error": {"message": value}})),
        error=f"connection reset after {value}",
    )
    line = json.dumps(redact_exchange(exchange).to_json())
    for form in (secret, quote(secret, safe=""), base64.b64encode(f"{secret}:".encode()).decode()):
        assert form not in line
    assert "t=1700000000" in line


def basic(user: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:".encode()).decode()


@settings(max_examples=300, deadline=None)
@given(number=card_numbers())
def test_card_numbers_are_whole_tokens(number: str) -> None:
    assert card_shaped(number)
    assert redact_text(f"paid with {number}.") == f"paid with <redacted:card:{number[-4:]}>."
    for glued in (f"af{number}", f"{number}x", f"cus_{number}", f"1{number}"[:20], f"{number}.5"):
        assert redact_text(glued) == glued
