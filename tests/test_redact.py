"""Redaction at capture, on plain data: the markers, and properties over generated secrets."""

from __future__ import annotations

import base64
import json
import re
import string
from urllib.parse import quote, unquote

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from harness.capture.redact import (
    SECRET_FIELDS,
    RedactionPolicy,
    fingerprint,
    is_secret_field,
    luhn_valid,
    never_a_card,
    redact_every_rule,
    redact_exchange,
    redact_headers,
    redact_text,
)
from harness.model import Exchange, Request, Response
from harness.stripe import API_KEY_PATTERN, encode_form_pairs, parse_form_pairs

# Nothing here depends on the date: CI's clock-ahead pass leaves this module out.
pytestmark = pytest.mark.no_clock


def basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


# --- markers -----------------------------------------------------------------------------

# A made-up live-mode key, the fixture for redacting one; joined here so that no string in
# the repository looks like a real live key to a secret scanner.
MADE_UP_LIVE_KEY = "sk_" + "live_51Habcdefghijklmnop"


@pytest.mark.parametrize(
    ("secret", "marker_prefix"),
    [
        ("sk_test_4eC39HqLyjWDarjtT1zdp7dc", "sk_test_"),
        (MADE_UP_LIVE_KEY, "sk_live_"),
        ("rk_test_abcdefghijkl", "rk_test_"),
        ("pk_live_abcdefghijkl", "pk_live_"),
        ("ek_test_YWNjdF8xMjM0NTY3ODkw", "ek_test_"),
        ("whsec_abcdefghijklmnop", "whsec_"),
    ],
)
def test_keys_keep_prefix_and_mode_and_a_fingerprint(secret: str, marker_prefix: str) -> None:
    assert redact_text(f"key={secret}") == f"key={marker_prefix}<redacted:{fingerprint(secret)}>"


def test_the_fingerprint_tells_keys_apart() -> None:
    one, other = "sk_test_aaaaaaaaaaaa", "sk_test_bbbbbbbbbbbb"
    assert redact_text(one) == redact_text(one)
    assert redact_text(one) != redact_text(other)
    assert len(fingerprint(one)) == 8 and all(c in string.hexdigits for c in fingerprint(one))


def test_bearer_and_basic_authorization() -> None:
    key = "sk_test_abcdefgh12345678"
    headers = redact_headers([("Authorization", f"Bearer {key}")])
    assert headers == [("Authorization", f"Bearer sk_test_<redacted:{fingerprint(key)}>")]
    ((_, value),) = redact_headers([("authorization", basic(f"{key}:"))])
    scheme, encoded = value.split(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode() == f"sk_test_<redacted:{fingerprint(key)}>:"


def test_an_unrecognised_credential_is_dropped() -> None:
    assert redact_headers([("Authorization", "Bearer opaque-token")]) == [
        ("Authorization", "Bearer <redacted>")
    ]
    assert redact_headers([("Authorization", basic("user:hunter2"))]) == [
        ("Authorization", "Basic <redacted>")
    ]


def test_cookies_are_dropped() -> None:
    headers = redact_headers([("Cookie", "session=abc"), ("Set-Cookie", "__stripe_mid=x; Path=/")])
    assert headers == [("Cookie", "<redacted>"), ("Set-Cookie", "<redacted>")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card[number]=4242424242424242", "card[number]=<redacted:card:4242>"),
        ("card%5Bnumber%5D=4000000000000002", "card%5Bnumber%5D=<redacted:card:0002>"),
        # A value that is the card alone keeps how it was written (`n` a digit, `_` a blank).
        (
            "card[number]=4242+4242+4242+4242",
            "card[number]=<redacted:card:4242:nnnn_nnnn_nnnn_nnnn>",
        ),
        (
            '{"number": "5555-5555-5555-4444"}',
            '{"number": "<redacted:card:4444:nnnn-nnnn-nnnn-nnnn>"}',
        ),
        ("paid with 4000 0027 6000 3184 today", "paid with <redacted:card:3184> today"),
        ("note=card%204242424242424242", "note=card%20<redacted:card:4242>"),
        ("amount=4242424242424241", "amount=4242424242424241"),  # fails Luhn: not a card
        ("created=1795461361", "created=1795461361"),
    ],
)
def test_card_numbers(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card[cvc]=123&card[exp_month]=12", "card[cvc]=<redacted:cvc>&card[exp_month]=12"),
        ("card%5Bcvc%5D=4321", "card%5Bcvc%5D=<redacted:cvc>"),
        ("cvc=123", "cvc=<redacted:cvc>"),
        ('{"card": {"cvc": "123"}}', '{"card": {"cvc": "<redacted:cvc>"}}'),
        ('{"cvc": 123}', '{"cvc": "<redacted:cvc>"}'),
        (
            "bank_account[account_number]=000123456789&bank_account[routing_number]=110000000",
            "bank_account[account_number]=<redacted:bank_account:6789>"
            "&bank_account[routing_number]=<redacted:routing_number>",
        ),
        # An IBAN keeps its country: a replay sends a test IBAN of the same country.
        ('{"iban": "DE89 3704 0044 0532 0130 00"}', '{"iban": "<redacted:iban:DE:3000>"}'),
        (
            "sepa_debit[iban]=fr1420041010050500013M02606",
            "sepa_debit[iban]=<redacted:iban:FR:2606>",
        ),
        ("account_number=GB82WEST12345698765432", "account_number=<redacted:iban:GB:5432>"),
        ("iban=<redacted:bank_account:3000>", "iban=<redacted:bank_account:3000>"),
    ],
)
def test_cvc_and_bank_accounts(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_client_secrets_keep_the_object_id() -> None:
    body = json.dumps(
        {
            "id": "pi_3MtwBwLkdIwHu7ix",
            "client_secret": "pi_3MtwBwLkdIwHu7ix_secret_YrKJUKribcBjcG8HVhfZluoGH",
            "setup": "seti_1Mm8s8LkdIwHu7ix_secret_abcDEF123",
            "source": "src_client_secret_kl8JTBQZz8jHnBr3r1X0q3ss",
        }
    )
    assert json.loads(redact_text(body)) == {
        "id": "pi_3MtwBwLkdIwHu7ix",
        "client_secret": "pi_3MtwBwLkdIwHu7ix_secret_<redacted>",
        "setup": "seti_1Mm8s8LkdIwHu7ix_secret_<redacted>",
        "source": "src_client_secret_<redacted>",
    }
    # A customer session's secret keeps its prefix; a client_secret field that is not in a
    # known shape is dropped whole.
    assert redact_text('{"client_secret": "cuss_secret_abc"}') == (
        '{"client_secret": "cuss_secret_<redacted>"}'
    )
    assert redact_text('{"client_secret": "opaque"}') == '{"client_secret": "<redacted>"}'


def test_redacted_form_bodies_still_parse() -> None:
    body = encode_form_pairs(
        [("card[number]", "4242 4242 4242 4242"), ("card[cvc]", "123"), ("metadata[a b]", "x&y")]
    )
    pairs = dict(parse_form_pairs(redact_text(body)))
    assert pairs == {
        "card[number]": "<redacted:card:4242:nnnn_nnnn_nnnn_nnnn>",
        "card[cvc]": "<redacted:cvc>",
        "metadata[a b]": "x&y",
    }


def test_exchange_is_redacted_in_every_part_and_left_alone_otherwise() -> None:
    key = "sk_test_abcdefghijklmnop"
    exchange = Exchange(
        seq=3,
        started=1.0,
        duration=0.5,
        request=Request(
            method="POST",
            path="/v1/payment_methods",
            query=f"key={key}",
            headers=[("Authorization", f"Bearer {key}"), ("Cookie", "a=b")],
            body="type=card&card[number]=4242424242424242&card[cvc]=123",
        ),
        response=Response(
            status=200,
            headers=[("Set-Cookie", "x=y"), ("Request-Id", "req_123")],
            body='{"id": "pm_123", "card": {"last4": "4242"}, "secret": "whsec_abcdefghijkl"}',
        ),
        error=None,
        extra={"journey": 1},
    )
    redacted = redact_exchange(exchange)
    line = json.dumps(redacted.to_json())
    for secret in (key, "4242424242424242", "card[cvc]=123", "a=b", "x=y", "whsec_abcdefghijkl"):
        assert secret not in line
    assert redacted.seq == 3 and redacted.extra == {"journey": 1}
    assert redacted.response is not None and redacted.response.header("Request-Id") == "req_123"
    assert '"last4": "4242"' in redacted.response.text
    # The input is not changed.
    assert exchange.request.header("Cookie") == "a=b"


def test_binary_bodies_are_redacted_byte_for_byte() -> None:
    body = b"\xff\x00card=4242424242424242\xfe"
    exchange = Exchange(0, 0.0, 0.0, Request("POST", "/v1/files", body=body), Response(200))
    assert redact_exchange(exchange).request.body == b"\xff\x00card=<redacted:card:4242>\xfe"


def test_the_header_lists_the_rules() -> None:
    assert RedactionPolicy().header_json() == {
        "applied": True,
        "rules": list(RedactionPolicy().rules),
        "pii": "keep",
    }
    assert "pii" in RedactionPolicy(pii="pseudonymize").rules
    with pytest.raises(ValueError, match="pii must be one of"):
        RedactionPolicy(pii="remove")


# --- personal data -----------------------------------------------------------------------


def test_pii_is_kept_by_default() -> None:
    body = "email=jenny%40example.org&name=Jenny+Rosen&phone=%2B15555550123"
    assert redact_text(body) == body


def test_pseudonymized_pii_is_stable_within_a_recording_and_keyed() -> None:
    policy = RedactionPolicy(pii="pseudonymize", pii_key=b"k" * 32)
    request = "email=jenny%40example.org&name=Jenny+Rosen&address[line1]=1+Main+St"
    response = json.dumps(
        {"email": "jenny@example.org", "name": "Jenny Rosen", "address": {"line1": "1 Main St"}}
    )
    faked = dict(parse_form_pairs(redact_text(request, policy)))
    answer = json.loads(redact_text(response, policy))
    assert faked["email"] == answer["email"] != "jenny@example.org"
    assert faked["name"] == answer["name"] != "Jenny Rosen"
    assert faked["address[line1]"] == answer["address"]["line1"] != "1 Main St"
    assert answer["email"].endswith("@example.com")
    # Another recording (another key) gets other fakes; pseudonymizing twice changes nothing.
    other = RedactionPolicy(pii="pseudonymize", pii_key=b"o" * 32)
    assert json.loads(redact_text(response, other))["email"] != answer["email"]
    assert redact_text(redact_text(response, policy), policy) == redact_text(response, policy)


def test_emails_in_free_text_are_pseudonymized() -> None:
    policy = RedactionPolicy(pii="pseudonymize")
    text = redact_text('{"description": "invoice for ops@acme.io"}', policy)
    assert "ops@acme.io" not in text and "@example.com" in text


# --- properties ----------------------------------------------------------------------------

ALNUM = string.ascii_letters + string.digits


@st.composite
def api_keys(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["sk", "rk", "pk", "ek", "whsec"]))
    body = draw(st.text(ALNUM, min_size=8, max_size=40))
    if kind == "whsec":
        return f"whsec_{body}"
    return f"{kind}_{draw(st.sampled_from(['test', 'live']))}_{body}"


@st.composite
def card_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """(digits, as written): a number a card network could issue (13-19 digits starting
    with 3 to 6, or a 16-digit Mastercard from 2221-2720) with a valid Luhn check digit,
    maybe grouped."""
    if draw(st.booleans()):
        length = 16
        start = str(draw(st.integers(2221, 2720)))
    else:
        length = draw(st.integers(13, 19))
        start = draw(st.sampled_from("3456"))
    size = length - 1 - len(start)
    head = start + draw(st.text(string.digits, min_size=size, max_size=size))
    check = next(d for d in string.digits if luhn_valid(head + d))
    digits = head + check
    separator = draw(st.sampled_from(["", " ", "  ", "-", "."]))
    written = separator.join(digits[i : i + 4] for i in range(0, len(digits), 4))
    return digits, written


# Surrounding text: anything but digits and key characters glued to the secret.
filler = st.text(string.ascii_letters + " ,.:;!?()[]{}'\"/\n", max_size=20)


def _placements(secret: str, before: str, after: str) -> list[Exchange]:
    """The same secret in every part of an exchange, in the encodings they use."""
    free = f"{before} {secret} {after}"
    form = encode_form_pairs([("description", free), ("metadata[note]", secret)])
    raw_form = f"description={secret}&other=1"
    as_json = json.dumps(
        {"description": free, "nested": {"value": secret}, "url": f"/x?q={quote(repr(secret))}"}
    )
    return [
        Exchange(
            seq=0,
            started=0.0,
            duration=0.0,
            request=Request(
                method="POST",
                path="/v1/customers",
                query=f"q={quote(free)}&raw={secret}",
                headers=[
                    ("X-Note", free),
                    ("Authorization", f"Bearer {secret}"),
                    ("Referer", f"https://shop.example/pay?note={quote(repr(free))}"),
                ],
                body=body,
            ),
            response=Response(status=200, headers=[("X-Echo", free)], body=as_json),
            error=free,
        )
        for body in (form, raw_form, as_json, free)
    ]


@settings(max_examples=150, deadline=None)
@given(key=api_keys(), before=filler, after=filler)
def test_no_generated_key_survives(key: str, before: str, after: str) -> None:
    for exchange in _placements(key, before, after):
        line = json.dumps(redact_exchange(exchange).to_json())
        assert key not in line
        assert API_KEY_PATTERN.search(line) is None


@settings(max_examples=150, deadline=None)
@given(card=card_numbers(), before=filler, after=filler)
def test_no_generated_card_number_survives(card: tuple[str, str], before: str, after: str) -> None:
    digits, written = card
    # The digits of an id, an amount, a count or a time are no card (never_a_card).
    named = re.search(r"([A-Za-z0-9_-]+)[\]\"']?[ \t]*[=:][ \t]*[\"']?$", before)
    assume(named is None or not never_a_card(named.group(1)))
    separator = written != digits
    for exchange in _placements(written, before, after):
        line = json.dumps(redact_exchange(exchange).to_json())
        assert written not in line and digits not in line
        assert f"<redacted:card:{digits[-4:]}>" in line  # in free text
        # A value that is the card alone keeps how it was written.
        layout = written.replace(" ", "_").translate(str.maketrans(string.digits, "n" * 10))
        assert f"<redacted:card:{digits[-4:]}{':' + layout if separator else ''}>" in line


@settings(max_examples=100, deadline=None)
@given(
    cvc=st.text(string.digits, min_size=3, max_size=4),
    field=st.sampled_from(["cvc", "card[cvc]", "payment_method_data[card][cvc]", "cvv"]),
)
def test_no_generated_cvc_survives(cvc: str, field: str) -> None:
    form = encode_form_pairs([("card[number]", "4242424242424242"), (field, cvc)])
    assert dict(parse_form_pairs(redact_text(form)))[field] == "<redacted:cvc>"
    percent = quote(field, safe="") + "=" + cvc
    assert redact_text(percent).endswith("=<redacted:cvc>")
    name = field.rsplit("[", 1)[-1].rstrip("]")
    for value in (cvc, int(cvc)):
        body = json.dumps({"card": {name: value, "exp_month": 12}})
        assert json.loads(redact_text(body))["card"][name] == "<redacted:cvc>"


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(max_size=60),
    key=api_keys(),
    card=card_numbers(),
)
def test_redaction_is_idempotent_and_markers_look_like_no_secret(
    text: str, key: str, card: tuple[str, str]
) -> None:
    for sample in (text, f"{text} {key} {card[1]}", f"cvc={text}&n={card[1]}", basic(f"{key}:")):
        once = redact_text(sample)
        assert redact_text(once) == once
        assert key not in once
    marked = redact_text(f"{key} {card[1]}")
    assert API_KEY_PATTERN.search(marked) is None
    assert redact_text(marked) == marked


@settings(max_examples=150, deadline=None)
@given(
    key=api_keys(),
    levels=st.integers(min_value=1, max_value=4),
    before=st.text(ALNUM + "/?=&", max_size=12),
)
def test_no_key_survives_percent_encoding_however_often(key: str, levels: int, before: str) -> None:
    # A URL in a query in a form's value, each level encoded once more by whoever built
    # it (the first by a client that escapes every character but letters and digits):
    # the key must not be found however far the text is decoded.
    encoded = "".join(char if char.isalnum() else f"%{ord(char):02X}" for char in key)
    for _ in range(levels - 1):
        encoded = quote(encoded, safe="")
    for text in (encoded, f"next={before}{encoded}", json.dumps({"url": before + encoded})):
        redacted = redact_text(text)
        for _ in range(levels + 1):
            assert API_KEY_PATTERN.search(redacted) is None, (text, redacted)
            redacted = unquote(redacted)


# Pieces a secret or its context is made of, glued in any order: the quick check that
# lets most texts skip the rules must never skip one a rule would change.
_PIECES = st.sampled_from(
    [
        "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
        "pi_3MtwBwLkdIwHu7ix_secret_YrKJUKribcBjcG8HVhfZluoGH",
        "src_client_secret_abc123",
        "sk_test_",
        "rk_live_",
        "whsec_",
        "pi_3Mtw",
        "_secret_",
        "src_client_secret_",
        "Basic ",
        "BASIC ",
        "cvc",
        "cvv2",
        "iban",
        "account_number",
        "client_secret",
        "card[cvc]=",
        "card%5Bcvc%5D=",
        "%63vc=123",
        "%5B",
        "%5D",
        "%20",
        "%2D",
        "%34",
        "+",
        "-",
        " ",
        "=",
        "&",
        '"',
        ": ",
        "4242",
        "4000 0566 5566 5556",
        "c2tfdGVzdF9hYmNkZWZnaDEyMzQ1Njc4Og==",
        "basic c2tfdGVzdF9hYmNkZWZnaDEyMzQ1Njc4Og==",
        # The rules issue 15 added: OAuth tokens, signatures, escapes, identity numbers,
        # secret headers in free text, IBANs by shape, cards grouped with dots.
        "rt_1GLpAbCdEfGhIjKl",
        "ac_",
        "v1=",
        "5257a869e7ecebeda32affa62cdca3fa",
        "\\u005f",
        "sk\\u005ftest\\u005f",
        "%5F",
        "%25",
        "%255F",
        "sk%255Ftest%255F4eC39HqLyjWDarjtT1zdp7dc",
        "id_number",
        "ssn_last_4",
        "routing_number",
        "Authorization: ",
        "X-Api-Key: ",
        "Bearer ",
        "cuss_secret_",
        "DE89370400440532013000",
        "DE89 3704 0044 0532 0130 00",
        "4242.4242.4242.4242",
        "4242  4242",
        "boundary=",
        "amount=",
        ".",
        "{",
        "[",
        "--",
        "\r\n",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(_PIECES | st.text(ALNUM + "_%+-= &", max_size=6), max_size=12),
)
def test_the_quick_check_skips_only_texts_no_rule_changes(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert redact_text(text) == redact_every_rule(text)


# How the name at a key's end used to be found (quadratic on long keys), as the reference:
# the name before closing brackets and array indexes (`[]`, `[0]`, `.0`), in snake case.
_REFERENCE_KEY_NAME = re.compile(r"([A-Za-z0-9_-]+)\]*(?:\[[0-9]*\]|\.[0-9]+)*$")


@settings(max_examples=500, deadline=None)
@given(
    key=st.lists(
        st.sampled_from(
            ["card", "[", "]", "cvc", "CVC", ".", "?", "\n", "-", "_", "x", " ", "é", "0", "[]"]
        ),
        max_size=10,
    ).map("".join)
)
def test_a_key_files_its_value_under_the_name_at_its_end(key: str) -> None:
    named = _REFERENCE_KEY_NAME.search(key)
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", named.group(1) if named else key).lower()
    assert is_secret_field(key) == (name in SECRET_FIELDS or name in ("cookie", "set-cookie"))


def test_a_key_of_a_hundred_thousand_characters_is_read_whole() -> None:
    # The run of name characters is followed by something else: every start of a
    # search from the front would read to the end of it.
    assert not is_secret_field("[" + "k" * 100_000 + ".+)]")
    assert is_secret_field("k" * 100_000 + "[cvc]]")
