"""Redaction sees through the disguises a client, a log or a cassette may put a secret in:
base64 of a card or of a form or JSON holding one, HTML entities, hex, quoted-printable,
`\\x` escapes, digits of other scripts; a mistyped card in a field named for a card; a
bank's branch number under each of its names. And what it keeps on purpose: a key as
Stripe masks it, object ids and tokens, a card's expiry. Each property plants a secret,
disguises it, and looks for it in every view of what comes back."""

from __future__ import annotations

import base64
import binascii
import html
import json
import quopri
import re
import string
import unicodedata
from urllib.parse import quote, unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.capture.redact import luhn_valid, redact_text, redact_tree
from tests.test_redact_lenient import card_numbers

# Nothing here depends on the date: CI's clock-ahead pass leaves this module out.
pytestmark = pytest.mark.no_clock

ALNUM = string.ascii_letters + string.digits
KEY = "sk_test_" + "4eC39HqLyjWDarjtT1zdp7dc"
CARD = "4242424242424242"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@st.composite
def keys(draw: st.DrawFn) -> str:
    body = (
        draw(st.text(ALNUM, min_size=8, max_size=30).filter(lambda t: "redact" not in t)) + "Zq7x"
    )
    kind = draw(st.sampled_from(["sk", "rk", "pk"]))
    return f"{kind}_{draw(st.sampled_from(['test', 'live']))}_{body}"


_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{4,}={0,2}")


def views(text: str) -> list[str]:
    """`text` as it is, and every way a reader could decode it: each run of base64 (at
    each offset, either alphabet), each run of hex, HTML entities, quoted-printable, `\\x`
    escapes, digits of any script as ASCII digits."""
    out = [text, html.unescape(text), quopri.decodestring(text.encode("utf-8")).decode("latin-1")]
    out.append(re.sub(r"\\x([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), text))
    out.append("".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text))
    for run in _BASE64_RUN.findall(text):
        for skip in range(4):
            body = run[skip:].rstrip("=")
            body = body[: len(body) - len(body) % 4 if len(body) % 4 == 1 else len(body)]
            for altchars in (None, b"-_"):
                try:
                    raw = base64.b64decode(body + "=" * (-len(body) % 4), altchars=altchars)
                except (binascii.Error, ValueError):
                    continue
                out.append(raw.decode("latin-1"))
    for run in re.findall(r"[0-9A-Fa-f]{8,}", text):
        for skip in range(2):
            part = run[skip:]
            out.append(bytes.fromhex(part[: len(part) - len(part) % 2]).decode("latin-1"))
    return out


def leaks(secret: str, text: str) -> bool:
    return any(secret in view for view in views(text))


# --- base64 of a card, a CVC, a form or JSON holding one ---------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "data=" + b64(f"card[number]={CARD}&card[cvc]=739"),
        json.dumps({"blob": b64(CARD)}),
        json.dumps({"c": b64('{"cvc":"739"}')}),
        json.dumps({"c": b64('{"card": {"number": "4242424242424242", "cvc": "739"}}')}),
        "note " + b64(f"paid with {CARD} today") + " end",
        "x-payload: " + base64.urlsafe_b64encode(f"card[cvc]=739&n={CARD}".encode()).decode(),
        "data=" + b64(f"card%5Bnumber%5D={CARD}&card%5Bcvc%5D=739").rstrip("="),
    ],
)
def test_base64_of_a_card_or_a_cvc_is_redacted(text: str) -> None:
    redacted = redact_text(text)
    assert not leaks(CARD, redacted)
    assert not leaks("739", redacted)
    assert redact_text(redacted) == redacted


@settings(max_examples=150, deadline=None)
@given(
    card=card_numbers(),
    cvc=st.text(string.digits, min_size=3, max_size=4).map(lambda c: "9" + c[1:]),
    shape=st.sampled_from(["bare", "form", "json", "text"]),
    prefix=st.text(ALNUM + " =&", max_size=5),
    place=st.sampled_from(["form", "json", "text", "header"]),
    urlsafe=st.booleans(),
    padded=st.booleans(),
)
def test_base64_of_a_card_anywhere(
    card: str, cvc: str, shape: str, prefix: str, place: str, urlsafe: bool, padded: bool
) -> None:
    inner = {
        "bare": card,
        "form": f"card[number]={card}&card[cvc]={cvc}",
        "json": json.dumps({"card": {"number": card, "cvc": cvc}}),
        "text": f"card {card} cvc={cvc}",
    }[shape]
    raw = ((prefix + " " if prefix else "") + inner).encode()
    encoded = (base64.urlsafe_b64encode(raw) if urlsafe else base64.b64encode(raw)).decode()
    if not padded:
        encoded = encoded.rstrip("=")
    text = {
        "form": f"amount=100&data={encoded}&currency=usd",
        "json": json.dumps({"amount": 100, "data": encoded}),
        "text": f"payload {encoded} sent",
        "header": encoded,
    }[place]
    redacted = redact_text(text)
    assert not leaks(card, redacted), redacted
    if shape != "bare":
        assert not any(
            f"cvc{sep}{cvc}" in v or f'"cvc": "{cvc}"' in v for v in views(redacted) for sep in "=]"
        )
    assert redact_text(redacted) == redacted


# --- HTML entities, hex, quoted-printable, \x escapes ------------------------------------


def _entity(char: str, style: int) -> str:
    if style == 0:
        return char
    if style == 1:
        return f"&#{ord(char)};"
    if style == 2:
        return f"&#x{ord(char):x};"
    named = {"_": "&lowbar;", "[": "&lbrack;", "]": "&rbrack;", "=": "&equals;"}
    return named.get(char, f"&#X{ord(char):X};")


@pytest.mark.parametrize(
    "text",
    [
        "key=sk&#95;test_4eC39HqLyjWDarjtT1zdp7dc",
        "key=&#x73;k_test_4eC39HqLyjWDarjtT1zdp7dc",
        "Authorization failed for sk&lowbar;test&lowbar;4eC39HqLyjWDarjtT1zdp7dc",
        '{"note": "sk&#95;test&#95;4eC39HqLyjWDarjtT1zdp7dc"}',
        "card&#91;cvc&#93;=739&amount=100",
        "card&lbrack;cvc&rbrack;=739&amount=100",
        "card&#x5b;cvc&#x5d;&#61;739",
        "<p>card&#91;number&#93;=4242424242424242 cvc&#61;739</p>",
        "&#52;&#50;&#52;&#50;&#52;&#50;&#52;&#50;&#52;&#50;&#52;&#50;&#52;&#50;&#52;&#50;",
        "x=736b5f746573745f34654333394871794c796a57446172746a54317a647037646",
        "x=736B5F746573745F34654333394871794C796A57446172746A54317A64703764630a",
        "dump 34323432343234323432343234323432 end",
        "card[cvc]=3D739",
        "card=3D4242424242424242",
        "key=3Dsk_test_4eC39HqLyjWDa=\r\nrtjT1zdp7dc",
        "card=3D42424242=\n42424242",
        r"log \x73k_test_4eC39HqLyjWDarjtT1zdp7dc",
        r"log sk\x5ftest\x5f4eC39HqLyjWDarjtT1zdp7dc",
        r"card\x5bcvc\x5d\x3d739",
    ],
)
def test_escaped_secrets_are_redacted(text: str) -> None:
    redacted = redact_text(text)
    for secret in ("4eC39HqLyjWDa", "rtjT1zdp7d", "4242424242424242", "42424242=", "739"):
        if secret in "".join(views(text)):
            assert not leaks(secret, redacted), (secret, redacted)
    assert redact_text(redacted) == redacted


@settings(max_examples=150, deadline=None)
@given(
    secret=st.one_of(keys(), card_numbers()),
    styles=st.lists(st.integers(0, 3), min_size=50, max_size=50),
    place=st.sampled_from(["form", "json", "text"]),
)
def test_a_secret_in_html_entities(secret: str, styles: list[int], place: str) -> None:
    encoded = "".join(_entity(char, styles[i]) for i, char in enumerate(secret))
    text = {
        "form": f"amount=100&note={encoded}&currency=usd",
        "json": json.dumps({"note": encoded, "amount": 100}),
        "text": f"<td>{encoded}</td>",
    }[place]
    redacted = redact_text(text)
    identifying = secret[-12:]
    assert not leaks(identifying, redacted), redacted


@settings(max_examples=100, deadline=None)
@given(
    secret=st.one_of(keys(), card_numbers()),
    upper=st.booleans(),
    before=st.sampled_from(["", "x=", "0a", "hex: "]),
)
def test_a_secret_in_hex(secret: str, upper: bool, before: str) -> None:
    encoded = secret.encode().hex()
    text = before + (encoded.upper() if upper else encoded)
    redacted = redact_text(text)
    assert not leaks(secret[-12:], redacted), redacted


@settings(max_examples=150, deadline=None)
@given(
    secret=st.one_of(keys(), card_numbers()),
    escaped=st.lists(st.booleans(), min_size=50, max_size=50),
    breaks=st.lists(st.integers(1, 40), max_size=3),
    shape=st.sampled_from(["form", "json", "text"]),
    style=st.sampled_from(["qp", "x"]),
)
def test_a_secret_in_quoted_printable_or_x_escapes(
    secret: str, escaped: list[bool], breaks: list[int], shape: str, style: str
) -> None:
    plain = {
        "form": f"amount=100&note={secret}&currency=usd",
        "json": json.dumps({"amount": 100, "note": secret}),
        "text": f"charge failed for {secret}, retrying",
    }[shape]
    start = plain.index(secret)
    out = []
    for index, char in enumerate(plain):
        inside = start <= index < start + len(secret)
        if style == "qp":
            # A text shows it is quoted-printable by an escaped `=`, a soft line break, or
            # escapes side by side; one escaped letter alone in a word reads as a form's
            # `name=30…` (docs/recording-format.md).
            at = index - start
            code = char == "=" or (inside and (escaped[at] or (at > 0 and escaped[at - 1])))
            out.append(f"={ord(char):02X}" if code else char)
            if inside and index - start in breaks:
                out.append("=\r\n")  # a soft line break
        else:
            out.append(f"\\x{ord(char):02x}" if inside and escaped[index - start] else char)
    redacted = redact_text("".join(out))
    assert not leaks(secret[-12:], redacted), redacted


# --- digits of other scripts ---------------------------------------------------------------

# Full-width, Arabic-Indic, Extended Arabic-Indic, Devanagari, Bengali, Thai: Python's
# int() reads each as its digit, and so may a client's parser.
ZEROS = [0xFF10, 0x0660, 0x06F0, 0x0966, 0x09E6, 0x0E50, 0x1D7CE]


@settings(max_examples=150, deadline=None)
@given(
    card=card_numbers(),
    zero=st.sampled_from(ZEROS),
    mixed=st.lists(st.booleans(), min_size=19, max_size=19),
    place=st.sampled_from(["form", "json", "json_escaped", "text", "multipart"]),
)
def test_a_card_in_digits_of_another_script(
    card: str, zero: int, mixed: list[bool], place: str
) -> None:
    written = "".join(chr(zero + int(d)) if mixed[i] else d for i, d in enumerate(card))
    assert int(written) == int(card)
    text = {
        "form": f"card[number]={written}&amount=100",
        "json": json.dumps({"card": {"number": written}}, ensure_ascii=False),
        "json_escaped": json.dumps({"note": f"card {written} ok"}),
        "text": f"paid with {written}, thanks",
        "multipart": (
            '--b\r\nContent-Disposition: form-data; name="card[number]"\r\n\r\n'
            f"{written}\r\n--b--\r\n"
        ),
    }[place]
    redacted = redact_text(text)
    assert not leaks(card[-12:], redacted), redacted
    assert not leaks(card[-12:], json.loads(redacted)["note"]) if place == "json_escaped" else True


def test_digits_of_another_script_in_a_card_field_and_in_text() -> None:
    assert "\uff14\uff12\uff14\uff12\uff14\uff12\uff14\uff12" not in redact_text(
        '{"card":{"number":"\uff14\uff12\uff14\uff12\uff14\uff12\uff14\uff12\uff14\uff12\uff14\uff12\uff14\uff12\uff14\uff12"}}'
    )
    assert "\u0664\u0662\u0664\u0662\u0664\u0662\u0664\u0662" not in redact_text(
        "card number " + "\u0664\u0662" * 8 + " ok"
    )
    # Text in another script with no card in it is kept as it came.
    for kept in (
        "رقم \u0664\u0662 من \u0661\u0660\u0660",
        "注文番号\uff1a\uff11\uff12\uff13\uff14\uff15",
        "\uff12\uff10\uff12\uff16年\uff11\uff12月\uff18日",
    ):
        assert redact_text(kept) == kept


def test_other_forms_of_ascii_in_a_form_a_key_or_a_card() -> None:
    wide = "".join(chr(0xFF10 + int(digit)) for digit in CARD)
    for text in (
        f"card[number]={quote(wide)}&amount=100",  # percent-encoded UTF-8
        f"note={quote('paid ' + wide)}&amount=100",
        f"card[number]={quote(quote(wide))}",  # encoded twice
        # A key typed in full-width letters, a card with zero-width spaces or soft hyphens
        # from a copy: what a reader sees is the key, the card.
        "key=\uff53\uff4b\uff3f\uff54\uff45\uff53\uff54_4eC39HqLyjWDarjtT1zdp7dc",
        "card 4242\u200b4242\u200b4242\u200b4242 ok",
        "card 4242\u00ad4242\u00ad4242\u00ad4242",
    ):
        redacted = redact_text(text)
        plain = unicodedata.normalize("NFKC", unquote(unquote(redacted)))
        plain = re.sub("[\u200b\u00ad]", "", plain)
        assert "42424242" not in plain and "4eC39HqLyjWDa" not in plain, redacted


# --- a mistyped card in a field that names a card ----------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "card[number]=4242424242424241&card[exp_month]=12",
        "payment_method_data[card][number]=4242424242424241",
        "card.number=4242 4242 4242 4241",
        '{"card": {"number": "4242424242424241", "exp_month": 12}}',
        '{"payment_method_data": {"type": "card", "card": {"number": "4242424242424241"}}}',
        '{"cardNumber": "4242424242424241"}',
        '{"card_number": "1234567890123"}',
        '--b\r\nContent-Disposition: form-data; name="card[number]"\r\n\r\n'
        "4242424242424241\r\n--b--\r\n",
        "log: card[number]=4242424242424241 sent",
        "log: card[number]=4242 4242 4242 4241 sent",
        "log: card[number]=4242\u00a04242\u00a04242\u00a04241.",
        '{"message": "Declined: card[number]=4242 4242 4242 4241&card[cvc]=739"}',
    ],
)
def test_a_mistyped_card_in_a_card_field_is_redacted(text: str) -> None:
    redacted = redact_text(text)
    digits = re.sub(r"[^0-9<>]", "", redacted)
    assert "42424241" not in digits and "7890123" not in digits, redacted
    assert "<redacted:card_invalid:" in redacted
    assert redact_text(redacted) == redacted


@settings(max_examples=100, deadline=None)
@given(
    card=card_numbers(),
    change=st.integers(1, 9),
    key=st.sampled_from(
        ["card[number]", "payment_method_data[card][number]", "source[card][number]"]
    ),
)
def test_a_card_that_fails_luhn_in_a_card_field(card: str, change: int, key: str) -> None:
    wrong = card[:-1] + str((int(card[-1]) + change) % 10)
    assert not luhn_valid(wrong)
    form = f"{key}={wrong}&amount=100"
    nested = key.replace("]", "").split("[")
    value: object = wrong
    for name in reversed(nested):
        value = {name: value}
    for text in (form, json.dumps(value)):
        redacted = redact_text(text)
        assert wrong[-12:] not in re.sub(r"[^0-9<>]", "", redacted), redacted
        assert f"<redacted:card_invalid:{wrong[-4:]}>" in redacted


def test_a_mistyped_card_in_a_report_tree_is_redacted() -> None:
    tree = {
        "card": {"number": "4242424242424241", "exp_month": 12},
        "payment_method_data": {"card": {"number": 4242424242424241}},
        "cards": [{"number": "4000000000000001"}],
        "invoice": {"number": "00012345678901"},
    }
    redacted = redact_tree(tree)
    assert redacted["card"] == {"number": "<redacted:card_invalid:4241>", "exp_month": 12}
    assert redacted["payment_method_data"]["card"]["number"] == "<redacted:card_invalid:4241>"
    assert redacted["cards"][0]["number"] == "<redacted:card_invalid:0001>"
    assert redacted["invoice"] == tree["invoice"]


@pytest.mark.parametrize(
    "text",
    [
        "card[exp_month]=12&card[exp_year]=2030&card[number]=<redacted:card:4242>",
        '{"card": {"exp_month": 12, "exp_year": 2030, "last4": "4241"}}',
        '{"number": "2F1A3B-0001"}',  # an invoice's number
        '{"invoice": {"number": "00012345678901"}}',
        '{"phone": {"number": "00441234567890"}}',
        "metadata[order_number]=123456789012345",
    ],
)
def test_expiry_and_other_numbers_are_kept(text: str) -> None:
    assert redact_text(text) == text


def test_a_four_digit_cvc_is_redacted_wherever() -> None:
    for text in (
        "card[cvc]=1234",
        '{"card": {"cvc": 1234}}',
        '{"card": {"cvc": "1234"}}',
        "cvc: 1234",
    ):
        redacted = redact_text(text)
        assert "1234" not in redacted and "<redacted:cvc>" in redacted


# --- bank numbers under every name -------------------------------------------------------------

BANK_FIELDS = [
    ("au_becs_debit", "bsb_number", "082902"),
    ("au_becs_debit", "account_number", "987654321"),
    ("acss_debit", "transit_number", "27491"),
    ("acss_debit", "institution_number", "815"),
    ("acss_debit", "account_number", "00098765432"),
    ("bacs_debit", "sort_code", "309287"),
    ("bacs_debit", "account_number", "87654321"),
    ("us_bank_account", "account_number", "987654321009"),
    ("us_bank_account", "routing_number", "021000021"),
    ("nz_bank_account", "bank_code", "389"),
    ("nz_bank_account", "branch_code", "0713"),
]


@pytest.mark.parametrize(("parent", "name", "value"), BANK_FIELDS)
def test_bank_numbers_are_redacted_in_every_encoding(parent: str, name: str, value: str) -> None:
    camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)
    texts = [
        f"type={parent}&{parent}[{name}]={value}&amount=100",
        f"payment_method_data[{parent}][{name}]={value}",
        json.dumps({"payment_method_data": {parent: {name: value}}}),
        json.dumps({parent: {camel: value}}),
        f'--b\r\nContent-Disposition: form-data; name="{parent}[{name}]"\r\n\r\n'
        f"{value}\r\n--b--\r\n",
        f"log: {parent}[{name}]={value} sent",
        f"{name}: {value}",
    ]
    for text in texts:
        redacted = redact_text(text)
        assert value not in redacted, redacted
        assert redact_text(redacted) == redacted
    assert value not in json.dumps(redact_tree({parent: {name: value}}))


# --- kept on purpose ---------------------------------------------------------------------------


def test_a_form_is_not_taken_for_quoted_printable() -> None:
    text = "card[account_number]=000000&card[client_secret]=3D000000"
    assert redact_text(text) == (
        "card[account_number]=<redacted:bank_account:0000>&card[client_secret]=<redacted>"
    )


def test_a_masked_key_keeps_its_last_four_only() -> None:
    # More shown than Stripe shows: the visible start is a key's, and redacted as one.
    redacted = redact_text("Invalid API Key provided: sk_live_51HxYzAbCdEf****wxyz")
    assert "51HxYzAbCdEf" not in redacted
    assert redacted.startswith("Invalid API Key provided: sk_live_<redacted:")
    assert redacted.endswith("****wxyz")
    # In a field or header that holds a credential, the field's rule redacts it whole.
    assert redact_text('{"api_key": "sk_test_****1234"}') == '{"api_key": "<redacted>"}'


@pytest.mark.parametrize(
    "text",
    [
        # Stripe's own mask: the last four of a key identify no key (a card's last four
        # are kept in its marker too).
        "Invalid API Key provided: sk_test_****1234",
        '{"error": {"message": "Invalid API Key provided: pk_test_***********************fyDZ"}}',
        "Invalid API Key provided: pi_1PiXF************************************************zlzo",
        # Object ids and test tokens: the replay maps and sends them.
        "source=tok_visa&payment_method=pm_card_visa&bank_account=btok_1N3T00LkdIwHu7ix",
        '{"id": "tok_1N3T00LkdIwHu7ixO9pXcYlM", "card": {"id": "card_1N3T00LkdIwHu7ix"}}',
        # Things that look like a disguise and are none.
        "created=1700000000&amount=2000&description=caf&eacute; &amp; cr&egrave;me",
        "etag: 34a1f0c9b2d7e6f5a4b3c2d1e0f9a8b7",
        "id=req_3D4a5b6c7d8e9f&x=3D",
        # A form whose value starts as an escaped `=` would: `=00` is a NUL quoted-printable
        # never writes, so the form is no quoted-printable and is read as the form it is.
        "card[brand]=000000&card[funding]=3D000000",
    ],
)
def test_what_is_kept(text: str) -> None:
    assert redact_text(text) == text
