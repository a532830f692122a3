"""Redaction of secrets (and optionally personal data) before anything reaches disk.

Applied by the recorder to every exchange, and again by the later stages to whatever they
write (result files, launched targets' logs, reports). Every rule leaves a marker that
later stages can parse (docs/recording-format.md):

    API key          sk_test_<redacted:1a2b3c4d>   (prefix, mode, sha256 fingerprint)
    webhook secret   whsec_<redacted:1a2b3c4d>
    OAuth token      rt_<redacted:1a2b3c4d>, ac_<redacted:1a2b3c4d>
    Basic auth       Basic base64("sk_test_<redacted:1a2b3c4d>:")
    card number      <redacted:card:4242>          (last four digits)
    mistyped card    <redacted:card_invalid:4241>  (in a field that names a card)
    CVC              <redacted:cvc>
    bank account     <redacted:bank_account:6789>
    IBAN             <redacted:iban:DE:3000>        (country, last four)
    routing number   <redacted:routing_number>
    branch number    <redacted:sort_code>, <redacted:bsb_number>, <redacted:transit_number>…
    identity number  <redacted:id_number>, <redacted:ssn_last_4>, <redacted:ssn>
    client secret    pi_123_secret_<redacted>      (the object id is kept)
    signature        t=1700000000,v1=<redacted>
    anything else    <redacted>                    (cookies, tokens, unknown credentials)

Texts are read leniently, the way Stripe's own parser reads a request: a form body with
unencoded spaces, `+` or `%20`, duplicate keys, bracket or dotted nesting; JSON (escaped
characters too); multipart bodies; URLs and query strings inside any of these; and free
text (logs, error messages); then without the disguises a text may wear (HTML entities,
quoted-printable, `\\x` escapes, digits of other scripts), and base64 or hex runs that
hint at a secret are decoded. A secret is found by the name of the field that holds it
first, and by its shape second. A card number is a whole token (never digits inside a
longer word or number), and a number in a field of a known non-secret kind (a multipart
boundary, an amount, a time, an id) is never one.

Redaction is idempotent and no marker looks like a key or a card number.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import hashlib
import json
import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, unquote_plus

from harness.capture.compressed import compress, sniff
from harness.capture.pii import PII_MODES, Pseudonymizer
from harness.formats.untrusted import lone_surrogate
from harness.model import Exchange, Headers, Request, Response

SECRET_RULES = (
    "api_keys",
    "basic_auth",
    "card_numbers",
    "cvc",
    "bank_account_numbers",
    "identity_numbers",
    "client_secrets",
    "oauth_tokens",
    "signatures",
    "cookies",
    "authorization",
)

REDACTED = "<redacted>"
CVC_MARKER = "<redacted:cvc>"
INVALID_CARD_MARKER = "<redacted:card_invalid>"

FieldRule = Callable[[str], str]
"""A field's rule: its value redacted, or the value itself when the rule does not apply."""

# Nested encodings (a URL in a JSON string in a form value...) are read this deep.
_MAX_DEPTH = 6


@dataclass(frozen=True, slots=True)
class RedactionPolicy:
    """What to redact. Secrets always; personal data when `pii` is `pseudonymize`.

    `pii_key` keys the fakes; it lives in memory for one recording and is never written.
    """

    pii: str = "keep"
    pii_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    def __post_init__(self) -> None:
        if self.pii not in PII_MODES:
            raise ValueError(f"pii must be one of {', '.join(PII_MODES)}, not {self.pii!r}")

    @property
    def rules(self) -> list[str]:
        return [*SECRET_RULES, "pii"] if self.pii == "pseudonymize" else list(SECRET_RULES)

    def header_json(self) -> dict[str, Any]:
        """The `redaction` object of a recording header."""
        return {"applied": True, "rules": self.rules, "pii": self.pii}


SECRETS_ONLY = RedactionPolicy()


def fingerprint(secret: str) -> str:
    """First 8 hex digits of sha256: tells keys apart without revealing them."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:8]


def _is_marked(value: str) -> bool:
    return "<redacted" in value


# --- secrets found by their shape ------------------------------------------------------


def _key_marker(match: re.Match[str]) -> str:
    key = match.group(0)
    if key.startswith("whsec_"):
        return f"whsec_<redacted:{fingerprint(key)}>"
    prefix, mode, _ = key.split("_", 2)
    return f"{prefix}_{mode}_<redacted:{fingerprint(key)}>"


# API keys: secret, restricted, publishable and ephemeral keys, terminal connection
# tokens; webhook secrets. Found even glued to a word before them (`xsk_test_…`): a
# longer word is no reason to keep a key.
API_KEY = re.compile(r"(?:(?:sk|rk|pk|ek|pst)_(?:test|live)_[A-Za-z0-9]{8,}|whsec_[A-Za-z0-9]{8,})")

# Connect OAuth: an authorization code (`code=ac_…`) and a refresh token (`rt_…`).
_OAUTH_TOKEN = re.compile(r"(?<![A-Za-z0-9_])(?:ac|rt)_[A-Za-z0-9]{8,}")


def _oauth_marker(match: re.Match[str]) -> str:
    token = match.group(0)
    return f"{token[:2]}_<redacted:{fingerprint(token)}>"


# Client secrets: `pi_X_secret_Y`, `seti_X_secret_Y`, `cs_test_X_secret_Y`,
# `src_client_secret_Y`, `cuss_secret_Y`, and any other `<prefix>_secret_<random>`. The
# part up to `_secret_` names the object and is kept, so a replay can map it.
_CLIENT_SECRET = re.compile(
    r"(?<![A-Za-z0-9])((?:[a-z]{2,8}_)(?:(?:test|live)_)?(?:[A-Za-z0-9]+_)?secret_)"
    r"([A-Za-z0-9]+)"
)
# Prefixes of Stripe's own client secrets: their random part may be short. Any other
# `<word>_secret_<word>` is one only when its random part looks random (long, with a
# digit), so `top_secret_plan` stays as it is.
_CLIENT_SECRET_PREFIXES = ("pi_", "seti_", "cs_", "src_", "cuss_", "fcsess_", "vs_", "cpi_")


def _client_secret_marker(match: re.Match[str]) -> str:
    prefix, random = match.group(1), match.group(2)
    if prefix.startswith(_CLIENT_SECRET_PREFIXES) or (
        len(random) >= 10 and any(char.isdigit() for char in random)
    ):
        return prefix + REDACTED
    return match.group(0)


# A webhook signature (`Stripe-Signature: t=…,v1=<64 hex>`): the time is kept.
_SIGNATURE = re.compile(r"(?<![A-Za-z0-9])(v[0-9])=[0-9a-fA-F]{32,}")

# `Basic <base64>`: the Python SDK and curl -u send `sk_…:` this way.
_BASIC = re.compile(r"(\bBasic\s+)([A-Za-z0-9+/]{4,}={0,2})", re.IGNORECASE)


def _redact_basic(match: re.Match[str]) -> str:
    try:
        decoded = base64.b64decode(match.group(2), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return match.group(0)
    redacted = redact_text(decoded)
    if redacted == decoded:
        return match.group(0)
    return match.group(1) + base64.b64encode(redacted.encode("utf-8")).decode("ascii")


# A key broken over lines as a header folded with obs-fold is (`Bearer sk_test_51Ab` CRLF
# SP `CdEf…`): its pieces are joined before the key is looked for, so none is left.
_FOLDED_KEY = re.compile(
    r"(?:(?:sk|rk|pk|ek|pst)_(?:test|live)_|whsec_)[A-Za-z0-9]*(?:\r?\n[ \t]+[A-Za-z0-9]+)+"
)


def _unfold(match: re.Match[str]) -> str:
    return "".join(match.group(0).split())


# --- base64 of a key, wherever it is -----------------------------------------------------


def _base64_of(word: bytes) -> list[tuple[str, int]]:
    """The base64 characters that `word` alone decides, at each of the three offsets it
    can start at in the encoded bytes, in both alphabets (standard and URL-safe): each
    with where it starts in its group of four (so the groups can be found again)."""
    out = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + word).decode("ascii")
        start, end = -(-offset * 8 // 6), (offset + len(word)) * 8 // 6
        for alphabet in (encoded, encoded.replace("+", "-").replace("/", "_")):
            out.append((alphabet[start:end], start % 4))
    return list(dict.fromkeys(out))


# Base64 of a key's mode or of a webhook secret's prefix, or of a CVC's name with what
# ends it in a form or JSON (`cvc"`, `cvc]`, `cvc=`, `cvc%`): a client that encodes a key,
# a card or a whole form or JSON text itself (in a query, a body, a custom header, a
# cookie, a token of its own) hides it from every other rule. Only runs that hold one of
# these, or base64 of nine digits in a row (below), are decoded. Each word more costs
# every text a little (`number` alone doubles the search), so a field's name is looked
# for only where its value can be short: a card, an account or a routing number is
# found by its digits.
_BASE64_WORDS: tuple[bytes, ...] = (
    b"_test_", b"_live_", b"whsec_",
    *(name + end for name in (b"cvc", b"cvv") for end in (b'"', b"]", b"=", b"%")),
)  # fmt: skip
_BASE64_HINTS = tuple(hint for word in _BASE64_WORDS for hint in _base64_of(word))
# A run hinted by a key's base64 alone has only its shapes (keys, client secrets) redacted:
# a run cut short (by a `%` in a form, say) decodes to a text cut short too, a marker's
# half among it, whose fields every rule would read wrongly.
_BASE64_KEY_HINTS = frozenset(hint for word in _BASE64_WORDS[:3] for hint, _ in _base64_of(word))
_BASE64_POSITIONS: dict[str, list[int]] = {}
for _hint, _start in _BASE64_HINTS:
    _BASE64_POSITIONS.setdefault(_hint, []).append(_start)
del _hint, _start


def _trie_pattern(words: list[str]) -> str:
    """A pattern matching any of `words`, written as a tree of their shared prefixes: the
    regex engine then tries one branch per character where it would try every word
    (several times faster for a few dozen)."""
    root: dict[str, dict[str, Any]] = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def pattern(node: dict[str, Any]) -> str:
        branches = [
            re.escape(char) + pattern(child) for char, child in sorted(node.items()) if char
        ]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"
        return f"(?:{body})?" if "" in node else body

    return pattern(root)


# One search for any of them (faster than a substring search for each).
_BASE64_HINT = re.compile(_trie_pattern(list(_BASE64_POSITIONS)))
# Base64 of three ASCII digits is one of these groups of four (`0011dddd` three times);
# three groups hold nine digits, which a card number of 13 at any offset fills. (Written
# out: a repeated group is searched three times slower.)
_BASE64_DIGITS = re.compile("[MNO][DTjz][AEIMQUYcgk][w-z0-5]" * 3)
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{8,}={0,2}")
_BASE64_PADDED = re.compile(r"[A-Za-z0-9+/_-]{8,}={1,2}")


def _redact_base64_run(match: re.Match[str]) -> str:
    """A run of base64 that holds a hint: decoded from the group of four the hint says
    (characters glued before it are kept), its keys redacted, encoded again in the same
    alphabet, with padding if it came with it."""
    run = match.group(0)
    if _BASE64_HINT.search(run) is None and _BASE64_DIGITS.search(run) is None:
        return run  # most runs of a text that has a hint somewhere
    hints = _base64_hints_in(run)
    redact = (
        _redact_shapes if all(hint in _BASE64_KEY_HINTS for hint, _ in hints) else _redact_decoded
    )
    for hint, position in hints:
        at = run.find(hint)
        first = (at - position) % 4
        body = run[first:].rstrip("=")
        whole = len(body) - (1 if len(body) % 4 == 1 else 0)  # a lone last character is no byte
        urlsafe = "-" in body or "_" in body
        try:
            raw = base64.b64decode(
                body[:whole] + "=" * (-whole % 4),
                altchars=b"-_" if urlsafe else None,
                validate=True,
            )
        except binascii.Error:
            continue
        decoded = raw.decode("latin-1")
        redacted = redact(decoded)
        if redacted == decoded:
            continue
        encoded = base64.b64encode(redacted.encode("latin-1"), altchars=b"-_" if urlsafe else None)
        text = encoded.decode("ascii")
        if not run.endswith("="):
            text = text.rstrip("=")
        return run[:first] + text + body[whole:]
    return run


def _base64_hints_in(run: str) -> list[tuple[str, int]]:
    """Each hint in a run of base64, with where it starts in its group of four."""
    found: list[tuple[str, int]] = []
    for hint in _BASE64_HINT.finditer(run):
        found.extend((hint.group(0), position) for position in _BASE64_POSITIONS[hint.group(0)])
    for digits in _BASE64_DIGITS.finditer(run):
        found.append((digits.group(0), 0))  # a group's start
    return list(dict.fromkeys(found))


def _redact_decoded(decoded: str) -> str:
    """What a client decoded from base64 or hex (a key, a card, a form or JSON text):
    redacted by every secret rule."""
    return _redact(decoded, _context(SECRETS_ONLY), 1)


# Hex of a key's mode or a webhook secret's prefix, or of twelve digits in a row: a run
# of hex that holds one is decoded, redacted, and written back in hex.
_HEX_WORDS = ("5f746573745f", "5f6c6976655f", "77687365635f")
_HEX_HINT = re.compile(rf"(?i:{'|'.join(_HEX_WORDS)})|{'3[0-9]' * 12}")
_HEX_DIGITS = re.compile("3[0-9]" * 12)
_HEX_RUN = re.compile(r"[0-9A-Fa-f]{24,}")


def _hex_hinted(text: str) -> bool:
    if "5f" in text or "5F" in text:  # every word ends in `_`
        lower = text.lower()
        if any(word in lower for word in _HEX_WORDS):
            return True
    return _HEX_DIGITS.search(text) is not None


def _redact_hex_run(match: re.Match[str]) -> str:
    run = match.group(0)
    hint = _HEX_HINT.search(run)
    if hint is None:
        return run
    first = hint.start() % 2
    end = first + (len(run) - first) // 2 * 2
    decoded = bytes.fromhex(run[first:end]).decode("latin-1")
    redacted = _redact_decoded(decoded)
    if redacted == decoded:
        return run
    encoded = redacted.encode("latin-1", "replace").hex()
    if not run[first:end].islower() and not run[first:end].isdigit():
        encoded = encoded.upper()
    return run[:first] + encoded + run[end:]


def _redact_base64(text: str) -> str:
    if _BASE64_HINT.search(text) is not None or _BASE64_DIGITS.search(text) is not None:
        return _BASE64_RUN.sub(_redact_base64_run, text)
    return text


# --- card numbers ----------------------------------------------------------------------

# Digits with separators between them: one or two spaces, a dash, a dot, or a space as
# it appears in a form body (`+`, `%20`). A run is a whole token: it starts neither inside
# a word, a longer number nor a percent escape (`%20`, `%2B`), though right after one
# (`%204242…`), and it ends before any letter or digit.
# What may stand between two digits of a card number: one to three blanks (a space, a
# tab, a no-break or thin space as a card copied from a page or a PDF has them; also as
# a form writes a space: `+`, `%20`, `++`), a dash or a dot.
_BLANKS = " \t\u00a0\u2007\u2009\u202f"
_CARD_SEPARATOR = rf"(?:[{_BLANKS}]{{1,3}}|[-.]|(?:\+|%20){{1,3}})"
_DIGIT_RUN = re.compile(
    r"(?:(?<![A-Za-z0-9_%])(?<!%[0-9A-Fa-f])(?<![0-9][.,])|(?<=%[0-9A-Fa-f]{2}))"
    rf"[0-9](?:{_CARD_SEPARATOR}?[0-9])+(?![A-Za-z0-9_])(?![.,][0-9])"
)
_DIGIT_GROUP = re.compile(r"[0-9]+")


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every card number carries."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def card_shaped(number: str) -> bool:
    """13 to 19 digits that a card network issues and that pass the Luhn check.

    Networks issue numbers starting with 2 (Mastercard's 2221-2720, 16 digits) to 6;
    none starts with 1, so a Unix time in seconds, milliseconds or microseconds (all of
    them start with 1 until 2033) is never taken for a card.
    """
    if not 13 <= len(number) <= 19 or not luhn_valid(number):
        return False
    if number[0] == "2":
        return len(number) == 16 and 2221 <= int(number[:4]) <= 2720
    return "3" <= number[0] <= "6"


def _redact_card_run(match: re.Match[str]) -> str:
    """Replace each card number in a run of digit groups: consecutive whole groups
    holding a card-shaped number (so `4242 4242 4242 4242 12` loses the card and keeps
    the `12`). Groups split by dots are a card only in fours (`4242.4242.4242.4242`):
    otherwise they are a decimal or a version."""
    run = match.group(0)
    groups = [(group.start(), group.end(), group.group(0)) for group in _DIGIT_GROUP.finditer(run)]
    if sum(len(digits) for _, _, digits in groups) < 13:
        return run
    out: list[str] = []
    copied = 0  # offset in `run` copied to `out` so far
    # The first group is the value of a field that never holds a card (`t=1700000000`):
    # only the groups after it may be one.
    first = 1 if _never_a_card_before(match.string, match.start()) else 0
    while first < len(groups):
        for last in range(len(groups), first, -1):
            number = "".join(digits for _, _, digits in groups[first:last])
            dotted = "." in run[groups[first][1] : groups[last - 1][0]]
            if dotted and any(len(digits) != 4 for _, _, digits in groups[first : last - 1]):
                continue
            before = run[groups[first - 1][1] : groups[first][0]] if first else ""
            after = run[groups[last - 1][1] : groups[last][0]] if last < len(groups) else ""
            if "." in before or "." in after:
                continue  # a part of a decimal or a version
            if card_shaped(number):
                start, end = groups[first][0], groups[last - 1][1]
                whole = start == 0 and end == len(run) == len(match.string)
                out.append(run[copied:start])
                out.append(card_marker(number, run if whole else None))
                copied = groups[last - 1][1]
                first = last
                break
        else:
            first += 1
    out.append(run[copied:])
    return "".join(out)


_CARD_FIELD_VALUE = re.compile(rf"[0-9](?:(?:[{_BLANKS}]{{1,3}}|[-.+])?[0-9])+")


def _redact_card_field(value: str) -> str:
    """A `number` field: a card number of any network (12 to 19 digits that pass the
    Luhn check, however grouped). Any other number (an invoice's) is no card."""
    if _is_marked(value):
        return value
    written = _as_ascii(value.strip())
    if _CARD_FIELD_VALUE.fullmatch(written) is None:
        return value
    digits = re.sub(r"[^0-9]", "", written)
    if 12 <= len(digits) <= 19 and luhn_valid(digits):
        return card_marker(digits, written)
    return value


def _redact_card_digits(value: str) -> str:
    """A field that names a card number (`card[number]`, `card_number`): any digits in
    it. A number that fails the Luhn check is a card mistyped, still someone's digits:
    `<redacted:card_invalid:4241>` (the last four, when it is long enough that they are
    not most of it)."""
    redacted = _redact_card_field(value)
    if redacted != value or _is_marked(value):
        return redacted
    written = _as_ascii(value.strip())
    if _CARD_FIELD_VALUE.fullmatch(written) is None and not written.isdigit():
        return value
    digits = re.sub(r"[^0-9]", "", written)
    return f"<redacted:card_invalid:{digits[-4:]}>" if len(digits) >= 12 else INVALID_CARD_MARKER


# The parent a `number` field's key or member names a card by: `card[number]`,
# `payment_method_data[card][number]`, `card.number`, `"card": {"number": …}`.
_CARD_PARENT = re.compile(r"(?i)card")


def _names_a_card(name: str) -> bool:
    """Whether the key `name`, whose last name is `number`, files it under a card."""
    before = name.lower().rsplit("number", 1)[0]
    return _CARD_PARENT.search(before) is not None


# How a card number was written, for its marker: `n` a digit, `_` a blank; dashes and
# dots as they were. None of them needs escaping in a form, a URL or JSON.
_LAYOUT = str.maketrans("0123456789 ", "nnnnnnnnnn_")
_LAID_OUT = re.compile(r"[0-9]+(?:(?: {1,2}|[-.])[0-9]+)+")


def card_marker(digits: str, written: str | None = None) -> str:
    """`<redacted:card:LAST4>`. A value that is a card number written in groups keeps
    how (`4000 0000 0000 0002`: `<redacted:card:0002:nnnn_nnnn_nnnn_nnnn>`): a replay
    then sends its test card written the same way, and a target that refuses the blanks
    (or takes them) answers as it did when recorded."""
    if written is None or _LAID_OUT.fullmatch(written) is None:
        return f"<redacted:card:{digits[-4:]}>"
    return f"<redacted:card:{digits[-4:]}:{written.translate(_LAYOUT)}>"


# --- fields whose value is secret wherever they appear --------------------------------


def _redact_cvc(value: str) -> str:
    return value if not value or _is_marked(value) else CVC_MARKER


# An IBAN: a country, two check digits, then 11 to 30 letters and digits.
_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")
# An IBAN in free text: a whole token, in groups of four or not.
_IBAN_TOKEN = re.compile(
    r"(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?![A-Za-z0-9])"
)


def iban_valid(iban: str) -> bool:
    """The ISO 13616 check: the number read with its first four characters moved to the
    end, letters as 10 to 35, is 1 modulo 97."""
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def _redact_bank_account(value: str) -> str:
    if not value or _is_marked(value):
        return value
    plain = re.sub(r"[^A-Za-z0-9]", "", value)
    if _IBAN.fullmatch(plain.upper()):
        # The country is no secret, and a replay needs it to send a test IBAN of its own.
        return f"<redacted:iban:{plain[:2].upper()}:{plain[-4:]}>"
    return f"<redacted:bank_account:{plain[-4:]}>"


def _redact_iban_token(match: re.Match[str]) -> str:
    plain = match.group(0).replace(" ", "")
    if 15 <= len(plain) <= 34 and iban_valid(plain):
        return f"<redacted:iban:{plain[:2]}:{plain[-4:]}>"
    return match.group(0)


def _marker_named(name: str) -> FieldRule:
    """A rule that replaces any value with `<redacted:NAME>`."""
    marker = f"<redacted:{name}>"

    def redact(value: str) -> str:
        return value if not value or _is_marked(value) else marker

    return redact


def _redact_opaque(value: str) -> str:
    """A value that is secret whatever it holds: its shape's marker, or `<redacted>`."""
    if not value or _is_marked(value):
        return value
    redacted = _redact_shapes(value)
    return redacted if _is_marked(redacted) else REDACTED


SECRET_FIELDS: dict[str, FieldRule] = {
    "number": _redact_card_field,
    "cvc": _redact_cvc,
    "cvv": _redact_cvc,
    "cvc2": _redact_cvc,
    "cvv2": _redact_cvc,
    # As custom clients name them (camel case is read as snake case: `cardCvc`).
    "card_cvc": _redact_cvc,
    "card_cvv": _redact_cvc,
    "cvc_number": _redact_cvc,
    "security_code": _redact_cvc,
    "card_number": _redact_card_digits,
    "bank_account_number": _redact_bank_account,
    "account_number": _redact_bank_account,
    "iban": _redact_bank_account,
    "routing_number": _marker_named("routing_number"),
    # A bank's branch, as each country numbers it: with the account's last four, it
    # narrows the account to a few (a UK account number is eight digits), and it is
    # filed with the account as a routing number is.
    "bsb_number": _marker_named("bsb_number"),
    "sort_code": _marker_named("sort_code"),
    "transit_number": _marker_named("transit_number"),
    "institution_number": _marker_named("institution_number"),
    "branch_code": _marker_named("branch_code"),
    "bank_code": _marker_named("bank_code"),
    "id_number": _marker_named("id_number"),
    "id_number_secondary": _marker_named("id_number"),
    "personal_id_number": _marker_named("id_number"),
    "ssn": _marker_named("ssn"),
    "ssn_last_4": _marker_named("ssn_last_4"),
    "ssn_last4": _marker_named("ssn_last_4"),  # `ssnLast4` in snake case
    "client_secret": _redact_opaque,
    "access_token": _redact_opaque,
    "refresh_token": _redact_opaque,
    "password": _redact_opaque,
    "secret": _redact_opaque,
    "api_key": _redact_opaque,
}
"""Field name → rule, for the fields whose value is secret in any encoding (form key
`card[cvc]` or `card.cvc`, JSON member, multipart part, query parameter)."""

# Fields whose value is a number of a known kind that is never a card: a multipart
# boundary, an amount, a count, a time, an id.
_NUMBER_FIELDS = frozenset(
    {"boundary", "id", "created", "updated", "date", "time", "timestamp", "ts", "t"}
    | {"amount", "quantity", "count", "total", "subtotal", "balance", "limit", "expires"}
    | {"idempotency_key", "request_id", "livemode", "version", "content_length"}
)
_NUMBER_FIELD_PARTS = ("amount", "_at", "_date", "_time", "_timestamp", "_id", "_start", "_end")


def never_a_card(name: str) -> bool:
    """Whether a number in the field `name` is of a kind that is never a card."""
    name = name.lower().replace("-", "_")
    if name in _NUMBER_FIELDS:
        return True
    return name.startswith("amount") or name.endswith(_NUMBER_FIELD_PARTS)


# A field name just before a value: `name=`, `name]=`, `"name": `, `name%5D%3D`.
_NAME_BEFORE = re.compile(
    r"([A-Za-z0-9_-]+)(?:\]|%5[Dd])?[\"']?[ \t]*(?:=|:|%3[Dd])[ \t]*[\"']?(?:\"|%22)?$"
)


def _never_a_card_before(text: str, start: int) -> bool:
    """Whether the number at `start` is the value of a field that never holds a card."""
    found = _NAME_BEFORE.search(text, max(0, start - 64), start)
    return found is not None and never_a_card(found.group(1))


# --- headers ---------------------------------------------------------------------------


def _redact_authorization(value: str) -> str:
    redacted = redact_text(value)
    scheme, _, credentials = redacted.partition(" ")
    if _is_marked(redacted):
        return redacted
    if scheme.lower() == "basic":
        try:
            if _is_marked(base64.b64decode(credentials).decode("utf-8", "replace")):
                return redacted
        except (binascii.Error, ValueError):
            pass
    # A credential we do not recognise: drop it rather than guess.
    return f"{scheme} {REDACTED}" if credentials else REDACTED


def _redact_signature(value: str) -> str:
    """`Stripe-Signature: t=…,v1=…,v0=…`: the time is kept, every signature dropped."""
    parts = []
    for part in value.split(","):
        name, equals, signed = part.partition("=")
        keep = name.strip() == "t" or not equals or _is_marked(signed)
        parts.append(part if keep else f"{name}={REDACTED}")
    return ",".join(parts)


def _drop(value: str) -> str:
    return REDACTED if value else value


HEADER_RULES: dict[str, FieldRule] = {
    "authorization": _redact_authorization,
    "proxy-authorization": _redact_authorization,
    "cookie": _drop,
    "set-cookie": _drop,
    "stripe-signature": _redact_signature,
}
"""Header name (lower case) → rule, for headers whose value is secret as a whole."""

# Any other header whose name says it holds a credential: `X-Api-Key`, `X-Auth-Token`.
_SECRET_HEADER_NAME = re.compile(r"(?i)api-?key|token|secret|password|signature|credential")
# Headers that hold ids, times and sizes, whose digits are never a card.
_NUMBER_HEADERS = frozenset(
    {"idempotency-key", "request-id", "x-request-id", "content-length", "date", "stripe-version"}
)


@functools.lru_cache(maxsize=256)
def _header_rule(name: str) -> FieldRule | None:
    lower = name.lower()
    rule = HEADER_RULES.get(lower)
    # CORS headers name credentials without holding one (Stripe answers with
    # `Access-Control-Allow-Credentials: true`).
    cors = lower.startswith("access-control-")
    if rule is None and not cors and _SECRET_HEADER_NAME.search(lower) is not None:
        return _redact_opaque
    return rule


def _key_name(key: str) -> str | None:
    """The name at the end of a key, before any closing brackets and array indexes:
    `card[cvc]`, `card.cvc`, `…?cvc`, `card[cvc][]`, `card[cvc][0]`, `card.cvc.0` →
    `cvc`; None when there is none (`a.`, `]`, `[]`). (Stripe's parser reads `[]` and
    `[0]` as a list of the name before them, so a client may send any field so.)

    Read from the end, in one pass whatever the key's length: a search for
    `([A-Za-z0-9_-]+)\\]*$` from the start is quadratic on a long run of name
    characters that ends in anything else (minutes for a key of 100,000)."""
    reversed_key = key[::-1]
    if reversed_key.startswith("\n"):  # `$` matches before a final newline too
        reversed_key = reversed_key[1:]
    named = _REVERSED_KEY_NAME.match(reversed_key)
    return named.group(1)[::-1] if named is not None else None


_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _last_name(name: str) -> str:
    """The name a key files its value under: `card[cvc]`, `card.cvc`, `…?cvc` → `cvc`;
    in snake case, as custom clients may write it in camel case (`cardCvc` →
    `card_cvc`, `accountNumber` → `account_number`); percent-decoded first (a JSON member
    named `card%5Bcvc%5D`)."""
    if "%" in name:
        name = _fully_unquoted(name)
    last = _key_name(name) or name
    if not last.islower():
        last = _CAMEL_HUMP.sub("_", last)
    return last.lower()


def _fully_unquoted(key: str) -> str:
    """A key percent-decoded until nothing is left to decode (`card%255Bcvc%255D`, which a
    client that encodes twice sends), as deep as any text is read."""
    for _ in range(_MAX_DEPTH):
        if "%" not in key:
            break
        decoded = unquote(key)
        if decoded == key:
            break
        key = decoded
    return key


# --- the encodings a text can be in ------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _context(policy: RedactionPolicy) -> _Context:
    return _Context(policy)


class _Context:
    """The field rules in force (secrets, and fakes for personal data when asked)."""

    def __init__(self, policy: RedactionPolicy) -> None:
        self.policy = policy
        self.pseudonymizer = Pseudonymizer(policy.pii_key) if policy.pii == "pseudonymize" else None
        rules = dict(self.pseudonymizer.field_rules()) if self.pseudonymizer else {}
        rules.update(SECRET_FIELDS)
        self.rules = rules


_PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def _field_rule(name: str, context: _Context) -> FieldRule | None:
    """The rule of the field `name` (a form key, a JSON member, a multipart part): its
    last name's, or, for a name that is a header's (`Cookie`, `Stripe-Signature`,
    `X-Api-Key`: a custom client's JSON, a report's table of headers), the header's."""
    lower = _last_name(name)
    if lower == "number" and _names_a_card(name):
        return _redact_card_digits
    rule = context.rules.get(lower)
    if rule is None and (lower in HEADER_RULES or "-" in lower):
        rule = _header_rule(lower)
    return rule


def _redact_value(value: str, name: str | None, context: _Context, depth: int) -> str:
    """A field's decoded value: by the field's rule first, then as a text of its own."""
    if name is not None:
        lower = _last_name(name)
        rule = _field_rule(name, context)
        if rule is not None:
            redacted = rule(value)
            if redacted != value:
                return redacted
        if _PLAIN_NUMBER.fullmatch(value) and never_a_card(lower):
            return value
    return _redact(value, context, depth + 1)


# JSON: a string (a member name when a colon follows) or a number. (The string's loop is
# unrolled, which the regex engine runs many times faster than an alternation per
# character; a number is taken wherever it starts, harmless inside a word of free text.)
_JSON_TOKEN = re.compile(
    r'"(?P<string>[^"\\]*(?:\\.[^"\\]*)*)"(?P<colon>[ \t\r\n]*:)?'
    r"|(?P<number>-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)"
)


def _json_string(raw: str) -> str:
    if "\\" not in raw:
        return raw
    try:
        decoded = json.loads(f'"{raw}"')
    except ValueError:
        return raw
    return decoded if isinstance(decoded, str) else raw


def _json_dump(value: str) -> str:
    # `\ud800` alone decodes to a lone surrogate, which UTF-8 cannot hold: written back
    # as an escape, as it came.
    return json.dumps(value, ensure_ascii=lone_surrogate(value) is not None)


def _redact_json(text: str, context: _Context, depth: int) -> tuple[str, bool]:
    """Each string and number of a JSON text (or of JSON inside free text), decoded; a
    member's value by its member's name. Also says whether a hint of a secret lies
    outside them (a Python dict's repr, a log line around a JSON value), which free
    text's rules must then read.

    One search over the whole text finds where a secret may be: only the tokens there,
    and the values of members whose name is one, are decoded and read (every token when
    personal data is pseudonymized). A secret member that holds a list or an object
    (`"cvc": ["739", "123"]`, `"cvc": {"value": "739"}`) has its rule applied to every
    value in it."""
    hints = _hint_spans(text)
    every = context.pseudonymizer is not None
    out: list[str] = []
    copied = 0
    next_hint = 0
    name: str | None = None
    name_hinted = False
    outside = False
    container: str | None = None  # the secret member whose list or object is being read
    level = 0  # brackets open in it
    read_to = 0  # where its last token ended
    for token in _JSON_TOKEN.finditer(text):
        if next_hint == len(hints) and not name_hinted and container is None and not every:
            break  # no token after the last hint needs a look
        start, end = token.span()
        if container is not None:
            # Between tokens lie only brackets, commas, colons, blanks and literals.
            gap = text[read_to:start]
            level += gap.count("[") + gap.count("{") - gap.count("]") - gap.count("}")
            read_to = end
            if level <= 0:
                container = None
        while next_hint < len(hints) and hints[next_hint][0] < start:
            outside = True  # a hint between tokens
            next_hint += 1
        hinted = False
        while next_hint < len(hints) and hints[next_hint][0] < end:
            hinted = True
            outside = outside or hints[next_hint][1] > end  # across tokens: `4242 4242…`
            next_hint += 1
        raw = token.group("string")
        if raw is not None and token.group("colon") is not None:
            if container is not None:
                continue  # a member of the secret member's object: filed under it
            name, name_hinted = _json_string(raw), hinted
            if hinted:
                new_name = _redact(name, context, depth + 1)
                if new_name != name:
                    out.append(text[copied:start] + _json_dump(new_name))
                    copied = token.end("string") + 1
                if text[end : end + 64].lstrip()[:1] in ("[", "{") and (
                    _field_rule(name, context) is not None
                ):
                    container, level, read_to = name, 0, end
            continue
        if container is not None:
            name, name_hinted = container, True
        if hinted or name_hinted or every:
            if name is None:  # a value outside JSON: `boundary="…"`, `amount=…`
                before = _NAME_BEFORE.search(text, max(0, start - 64), start)
                name = before.group(1) if before is not None else None
            value = _json_string(raw) if raw is not None else token.group("number")
            if name is not None and name[-6:].lower() == "number" and _last_name(name) == "number":
                name = _json_parent(text, start) + name
            new = _redact_value(value, name, context, depth)
            if new != value:
                out.append(text[copied:start] + _json_dump(new))
                copied = token.end("string") + 1 if raw is not None else end
        name, name_hinted = None, False
    out.append(text[copied:])
    return "".join(out), outside or next_hint < len(hints)


_NAME_BEFORE_BRACE = re.compile(r'"([^"\\]{1,64})"[ \t\r\n]*:[ \t\r\n]*\Z')


def _json_parent(text: str, start: int) -> str:
    """The name of the member whose object holds the token at `start`, with a `.` after
    it (`"card": {"number": …}` → `card.`); empty when there is none (or an object inside
    the same object lies between, which this reading does not follow)."""
    brace = text.rfind("{", max(0, start - 4096), start)
    if brace < 0 or text.find("}", brace, start) >= 0:
        return ""
    found = _NAME_BEFORE_BRACE.search(text, max(0, brace - 80), brace)
    return found.group(1) + "." if found is not None else ""


# A form's key: no blanks, quotes or braces (a URL before a query counts: `…/x?key`).
_FORM_KEY = re.compile(r"[^\s\"'{}<>&=]+")
# The name a key files its value under: `card[cvc]`, `card.cvc`, `…?cvc` → `cvc`.
_REVERSED_KEY_NAME = re.compile(r"(?:\][0-9]*\[|[0-9]+\.)*\]*([A-Za-z0-9_-]+)")
# Markers stay readable in a form body: `<`, `>` and `:` are left unescaped.
_MARKER_SAFE = "<>:"


def _form_encoded(new: str, raw: str) -> str:
    """A redacted value written back into a form: percent-encoded, unless it came with no
    escape at all (a lenient body, bytes read as latin-1) and needs none."""
    if "%" not in raw and "+" not in raw and not any(char in new for char in "&%+#"):
        return new
    return quote(new, safe=_MARKER_SAFE)


def _is_form(text: str) -> bool:
    """A form body or query string, read leniently: pairs joined by `&`, a value may hold
    unencoded blanks; one line."""
    body = text.rstrip("\r\n")
    if "=" not in body or "\n" in body or "\r" in body:
        return False
    if body[-1] == "=" and _BASE64_PADDED.fullmatch(body) is not None:
        return False  # base64 with its padding, not a key without a value
    key = body.partition("=")[0]
    return _FORM_KEY.fullmatch(key) is not None


def _redact_form(text: str, context: _Context, depth: int) -> str:
    """Each `key=value` pair on its decoded value, by the name its key files it under.

    A pair with no hint of a secret (its key and value, decoded or not) is left as it is:
    every secret field's name is a hint, and so is every value a rule would change."""
    parts = text.split("&")
    every = context.pseudonymizer is not None
    for position, part in enumerate(parts):
        if not every and not _may_hold_secret(part):
            continue
        key, equals, value = part.partition("=")
        decoded_key = unquote_plus(key)
        new_key = key
        redacted_key = _redact_free(decoded_key, context, depth + 1)
        if redacted_key != decoded_key:
            new_key = quote(redacted_key, safe=_MARKER_SAFE + "[]/?.:_-")
        if not equals:
            parts[position] = new_key
            continue
        # The whole key: its last name files the value, and the names before it may say
        # what kind of number it is (`card[number]`).
        full = _fully_unquoted(decoded_key)
        name = full if _key_name(full) is not None else None
        decoded = unquote_plus(value)
        new = _redact_value(decoded, name, context, depth)
        if new != decoded:
            value = _form_encoded(new, value)
        parts[position] = f"{new_key}={value}"
    return "&".join(parts)


_MULTIPART_START = re.compile(r"--([^\r\n]{1,200})\r?\n")
# A part's field name, quoted as RFC 7578 says or bare as lenient clients write it.
_PART_NAME = re.compile(r'(?i)\bname=(?:"([^"]*)"|([^";\s]+))')
_PART_FILE = re.compile(r"(?i)\bfilename\*?=")
_BINARY = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def _redact_multipart(text: str, context: _Context, depth: int) -> str | None:
    """A multipart body, part by part: the delimiters are left exactly as they are (the
    boundary is never a secret), each part's content is redacted by its field's name.
    A file whose content is binary is kept byte for byte but for the keys and client
    secrets in it. None if `text` is not one."""
    start = _MULTIPART_START.match(text)
    if start is None:
        return None
    delimiter = "--" + start.group(1).rstrip()
    pieces = text.split(delimiter)
    if len(pieces) < 3:
        return None
    for position in range(1, len(pieces) - 1):
        piece = pieces[position]
        newline = "\r\n" if "\r\n\r\n" in piece else "\n"
        head, blank, content = piece.partition(newline * 2)
        if not blank:
            continue
        end = newline if content.endswith(newline) else ""
        body = content[: len(content) - len(end)]
        found = _PART_NAME.search(head)
        name = found.group(1) or found.group(2) if found is not None else None
        if name is not None:
            # A client that percent-encodes names: `card%5Bcvc%5D`.
            name = _fully_unquoted(name)
        if _PART_FILE.search(head) is not None and _BINARY.search(body) is not None:
            # A binary file is kept byte for byte, so it is replayed as it was sent; only
            # a key in it is redacted (the file then is not what was sent, but no key is
            # ever written).
            new = _redact_shapes(body)
        else:
            new = _redact_value(body, name, context, depth)
        new_head = _redact_free(head, context, depth + 1) if _may_hold_secret(head) else head
        pieces[position] = new_head + blank + new + end
    return delimiter.join(pieces)


# `name=value`, `name: value`, `"name": "value"`, `name%5D=value`, `name][]=value` in
# free text, for the fields and headers whose value is secret; and `Name: value` header
# lines of a dump. A name starts after a percent escape (`card%5Bcvc`), not inside one.
_FREE_FIELD = re.compile(
    r"(?:(?<![A-Za-z0-9_%])(?<!%[0-9A-Fa-f])|(?<=%[0-9A-Fa-f]{2}))(?<!<redacted:)"
    r"(?P<name>[A-Za-z0-9_-]*"
    # cvc cvv cookie credential number iban ssn secret security signature sort_code token
    # password api_key authorization bank_code branch_code, written as a tree of their
    # prefixes (a third faster than a list of them on a long text).
    r"(?i:c(?:v[cv]|ookie|redential)|number|iban|s(?:sn|e(?:cret|curity)|ignature|ort_?code)|"
    r"token|password|api[-_]?key|authorization|b(?:ank|ranch)_?code)[A-Za-z0-9_-]*)"
    r"(?P<sep>(?:\]|%5[Dd])?(?:\[[0-9]*\]|%5[Bb][0-9]*%5[Dd]|\.[0-9]+)*"  # `cvc][0]=`, `cvc.0=`
    r"[\"']?[ \t]*(?:=|:|%3[Dd])[ \t]*[\"']?)"
    r"(?P<value>(?:(?i:bearer|basic|token)[ \t]+)?"
    # Digits in groups (`card[number]=4242 4242 4242 4241`) are one value, not their first
    # group: a card field's rule given `4242` alone would leave the rest.
    rf"(?:[0-9]+(?:[{_BLANKS}]{{1,3}}[0-9]+)+(?=[\s&,;\"'<>\\.)\]:]|$)"
    r"|[^\s&,;\"'<>\\]+(?:<redacted[^<>]*>)?))"
)
_LITERALS = frozenset({"null", "true", "false", "None", "True", "False"})
_FREE_PARENT = re.compile(r"[A-Za-z0-9_]+(?:\[|%5[Bb]|\.)\Z")


def _free_field_rule(name: str, context: _Context) -> FieldRule | None:
    """A secret field's rule, or a header's whose name says it holds a credential (with
    a dash, as headers are named: a field called `token` holds a token's id)."""
    lower = _last_name(name)
    if lower == "number" and _names_a_card(name):
        return _redact_card_digits
    if lower in SECRET_FIELDS:
        return context.rules[lower]
    if lower in HEADER_RULES or "-" in lower:
        return _header_rule(name)
    return None


def _redact_free_field(context: _Context) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        # Punctuation that ends a sentence is not part of the value.
        value = match.group("value").rstrip(".)]:")
        end = match.group("value")[len(value) :]
        name = match.group("name")
        if name.lower().endswith("number"):
            # `card[number]=…`: the name the match starts at is `number`; its parent is
            # what says it is a card's.
            parent = _FREE_PARENT.search(match.string, max(0, match.start() - 64), match.start())
            name = parent.group(0) + name if parent is not None else name
        rule = _free_field_rule(name, context)
        if rule is None or not value or value in _LITERALS:
            return match.group(0)
        if rule is _redact_authorization and " " not in value:
            return match.group(0)  # `authorization=Bearer` without its credential
        new = rule(value)
        if new == value:
            return match.group(0)
        return match.group("name") + match.group("sep") + new + end

    return replace


# Runs of characters that may hide a secret behind escapes: `sk%5Ftest%5F…`,
# `sk\u005ftest…` (only the runs that hold an escape are decoded).
_ESCAPED_RUN = re.compile(r"(?:[A-Za-z0-9_.\-=]|%[0-9A-Fa-f]{2}|\\u[0-9A-Fa-f]{4}|\\/)+")


def _redact_escaped(context: _Context, depth: int) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        run = match.group(0)
        if "%" not in run and "\\u" not in run:
            return run
        decoded = unquote(_json_string(run) if "\\" in run else run)
        if decoded == run or not _may_hold_secret(decoded):
            return run
        new = _read_as_ascii(lambda text: _redact_free(text, context, depth + 1), decoded)
        if new == decoded:
            return run
        return quote(new, safe=_MARKER_SAFE + "_.-=") if "%" in run else new

    return replace


def _redact_shapes(text: str) -> str:
    """The secrets recognisable by their shape alone (base64 of a key too)."""
    if "_test_" in text or "_live_" in text or "whsec_" in text:
        if "\n" in text:
            text = _FOLDED_KEY.sub(_unfold, text)
        text = API_KEY.sub(_key_marker, text)
    text = _redact_base64(text)
    if _hex_hinted(text):
        text = _HEX_RUN.sub(_redact_hex_run, text)
    if "_secret_" in text:
        text = _CLIENT_SECRET.sub(_client_secret_marker, text)
    if "rt_" in text or "ac_" in text:
        text = _OAUTH_TOKEN.sub(_oauth_marker, text)
    return text


def _redact_free(text: str, context: _Context, depth: int) -> str:
    """Free text: a log line, an error message, a header value, a form value."""
    if depth < _MAX_DEPTH and ("%" in text or "\\u" in text):
        text = _ESCAPED_RUN.sub(_redact_escaped(context, depth), text)
    if _BASIC_HINT.search(text) is not None:
        text = _BASIC.sub(_redact_basic, text)
    text = _redact_shapes(text)
    if "=" in text or ":" in text:
        text = _FREE_FIELD.sub(_redact_free_field(context), text)
    if "v0=" in text or "v1=" in text:
        text = _SIGNATURE.sub(rf"\1={REDACTED}", text)
    if _CARD_HINT.search(text) is not None:
        text = _DIGIT_RUN.sub(_redact_card_run, text)
    if _IBAN_HINT.search(text) is not None:
        text = _IBAN_TOKEN.sub(_redact_iban_token, text)
    if context.pseudonymizer is not None and "@" in text:
        text = context.pseudonymizer.emails_in(text)
    return text


def _redact(text: str, context: _Context, depth: int) -> str:
    """Any text, read as the encoding its shape says; then, if it has characters a
    reader takes for ASCII (`_as_ascii`), read so (a card in full-width digits is a
    card): when that finds more, the text so read is what is written."""
    return _read_as_ascii(lambda text: _redact_as_it_is(text, context, depth), text)


def _read_as_ascii(redact: Callable[[str], str], text: str) -> str:
    """`redact(text)`, and again on what it gave read as ASCII (`_as_ascii`) if that has
    characters a reader takes for ASCII: the second wins when it finds more."""
    redacted = redact(text)
    if redacted.isascii() or _OTHER_ASCII.search(redacted) is None:
        return redacted
    plain = _as_ascii(redacted)
    again = redact(plain)
    return again if again != plain else redacted


def _redact_as_it_is(text: str, context: _Context, depth: int) -> str:
    """Any text, read as the encoding its shape says: JSON, multipart, form, free text."""
    if depth > _MAX_DEPTH:
        return _redact_free(text, context, depth)
    stripped = text.lstrip()
    if stripped[:1] in ("{", "[") or (stripped[:1] == '"' and stripped.rstrip()[-1:] == '"'):
        redacted, outside = _redact_json(text, context, depth)
        return _redact_free(redacted, context, depth) if outside else _redact_shapes(redacted)
    if stripped.startswith("--"):
        multipart = _redact_multipart(text, context, depth)
        if multipart is not None:
            return multipart
    if _is_form(text):
        body = text.rstrip("\r\n")
        redacted = _redact_form(body, context, depth)
        if "v0=" in redacted or "v1=" in redacted:
            # A signature's `v1=` reads as a form's key: `t=1700000000,v1=5257…` is the
            # pair `t` and `1700000000,v1=5257…`, neither of which holds all of it.
            redacted = _SIGNATURE.sub(rf"\1={REDACTED}", redacted)
        return redacted + text[len(body) :]
    if '"' in text:
        text = _redact_json(text, context, depth)[0]
    return _redact_free(text, context, depth)


# --- disguises: a text written another way ----------------------------------------------

# HTML entities (`sk&#95;test_…`, `&#x73;k_…`, `card&lbrack;cvc&rbrack;`): a page, an
# email or a log that escaped its text. Only entities closed by `;`, so a form's
# `&amount=` stays as it is.
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
# Quoted-printable (an email, a MIME part): `=3D` for `=`, a soft line break `=` CRLF,
# or a run of escapes. (One `=20` is a form's value, not a sign of it.)
_QP_SIGN = re.compile(r"=(?:3D|\r?\n|[0-9A-F]{2}=[0-9A-F]{2})")
# An `=` quoted-printable never writes: one before anything but an upper-case escape of a
# printable or non-ASCII byte, or a line break (`x=000000` is a form's, `=00` a NUL).
_NOT_QP = re.compile(r"=(?![2-7][0-9A-F]|[89A-F][0-9A-F]|\r?\n)")
_QP = re.compile(r"=(?:\r?\n|([0-9A-Fa-f]{2}))")
# `\x73k_test_…`: a language's string escapes in a log line.
_X_ESCAPE = re.compile(r"\\x([0-9A-Fa-f]{2})")
# What a reader takes for ASCII, or for nothing: a decimal digit of another script
# (full-width U+FF14, Arabic-Indic U+0664, Devanagari U+096A all are a 4: Python's int()
# and many parsers read them as the ASCII digits, so a card may come in them), a
# full-width letter or sign (U+FF01 to U+FF5E: a key typed so), and the invisible
# characters a copy from a page leaves in a number (a soft hyphen, zero-width spaces and
# joiners, a byte order mark).
_OTHER_ASCII = re.compile(r"(?![0-9])\d|[\uff01-\uff5e\u00ad\u200b-\u200d\u2060\ufeff]")
# `\uff14`: such a character escaped in JSON.
_U_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})")


def _entities_decoded(text: str) -> str:
    # Imported here: the table of named entities costs every process that starts a
    # millisecond and half a MiB, and few texts hold an entity.
    from html import unescape

    return _ENTITY.sub(lambda entity: unescape(entity.group(0)), text)


def _qp_decoded(text: str) -> str:
    """`text` read as quoted-printable; as it is when it cannot be (`_NOT_QP`)."""
    if _NOT_QP.search(text) is not None:
        return text
    return _QP.sub(lambda escape: chr(int(escape.group(1), 16)) if escape.group(1) else "", text)


def _qp_encoded(text: str) -> str:
    return text.replace("=", "=3D")


def _x_decoded(text: str) -> str:
    return _X_ESCAPE.sub(lambda escape: chr(int(escape.group(1), 16)), text)


def _as_ascii_char(found: re.Match[str]) -> str:
    char = found.group(0)
    if "\uff01" <= char <= "\uff5e":
        return chr(ord(char) - 0xFEE0)
    if char.isdecimal():
        return str(unicodedata.decimal(char))
    return ""


def _as_ascii(text: str) -> str:
    """`text` as a reader sees it (`_OTHER_ASCII`): digits of other scripts and full-width
    characters as ASCII, invisible ones dropped."""
    if text.isascii():
        return text
    return _OTHER_ASCII.sub(_as_ascii_char, text)


def _unescaped(text: str) -> str:
    """`text` with its `\\u` escapes decoded, as ASCII (`_as_ascii`)."""
    unescaped = _U_ESCAPE.sub(lambda escape: chr(int(escape.group(1), 16)), text)
    # A character beyond the first plane (`\ud835\udfce`, a bold zero) comes as two halves.
    joined = unescaped.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return _as_ascii(joined)


def _as_it_is(text: str) -> str:
    return text


Disguise = tuple[str, re.Pattern[str], Callable[[str], str], Callable[[str], str]]

# (a character every sign of it holds, a sign a text wears it, the text without it, a
# redacted text written back in it).
# A text is redacted as it is first, then without each disguise it wears: a secret found
# only so is redacted in the decoded text, written back in the disguise where it has a
# way to write a marker (quoted-printable), else left decoded: a text that hid a secret
# this way is no request a replay can send as it was anyway.
_DISGUISES: tuple[Disguise, ...] = (
    ("&", _ENTITY, _entities_decoded, _as_it_is),
    ("=", _QP_SIGN, _qp_decoded, _qp_encoded),
    ("\\x", _X_ESCAPE, _x_decoded, _as_it_is),
)
# How far from a sign of a disguise a secret it hides can reach: a live key (107
# characters) broken by a soft line break, a field's name escaped and its value after it.
_DISGUISE_REACH = 200


def _hints_disguised(text: str) -> bool:
    """Whether `text` without a disguise it wears (the ones above, and what `_as_ascii`
    reads, escaped in JSON or not) holds a hint of a secret. It runs on every text: one
    look for a disguise's character rules most of them out."""
    if text.isascii():
        if "&" not in text and "=" not in text and "\\" not in text:
            return False
    elif _OTHER_ASCII.search(text) is not None and _hints_secret(_as_ascii(text)):
        return True
    for literal, sign, decode, _ in _DISGUISES:
        wears = literal in text and sign.search(text) is not None
        if wears and _hints_secret(_as_ascii(decode(text))):
            return True
    return "\\u" in text and _hints_secret(_unescaped(text))


def _undisguised(text: str, redacted: str, context: _Context) -> str:
    """`text` redacted without each disguise it wears, when that finds more than
    `redacted` (`text` redacted as it is) did: a secret half in the disguise
    (`sk_test_51Ab&#67;d…`, a key broken by a soft line break) is found whole."""
    for literal, sign, decode, encode in _DISGUISES:
        if literal not in text or sign.search(text) is None:
            continue
        plain = decode(text)
        if plain == text or not _near_signs_may_hold_secret(text, sign, decode):
            continue
        found = _redact(plain, context, 0)
        if found != plain and found != decode(redacted):
            text, redacted = plain, encode(found)
    return redacted


def _near_signs_may_hold_secret(
    text: str, sign: re.Pattern[str], decode: Callable[[str], str]
) -> bool:
    """Whether the text around any sign of a disguise, decoded, may hold a secret: a
    secret found only without the disguise has a sign of it in it or beside it. (A page
    full of `&amp;` is read again whole only when one is near a hint.)"""
    windows: list[list[int]] = []
    for found in sign.finditer(text):
        start, end = max(0, found.start() - _DISGUISE_REACH), found.end() + _DISGUISE_REACH
        if "=" in text[end - 2 : end]:
            end += 2  # a quoted-printable escape is not cut in half
        if windows and start <= windows[-1][1]:
            windows[-1][1] = end
        else:
            windows.append([start, end])
    return any(_may_hold_secret(decode(text[start:end])) for start, end in windows)


# --- the quick check ---------------------------------------------------------------------

# Something every rule above needs before it can change a text: a key's or a token's
# prefix, a secret field's or header's name, `Basic`, an escaped ASCII character, 12
# digits with separators between them, or the start of an IBAN. Most texts (ids, times,
# amounts, SDK headers) hold none of these, and one search proves it at a fraction of the
# cost of the rules. (Each alternative is a literal or starts with a character class,
# which the regex engine scans for quickly; a leading lookbehind would be tried at every
# position.)
_BASIC_HINT = re.compile(r"(?i)basic")
_CARD_HINT = re.compile(rf"[0-9](?:{_CARD_SEPARATOR}?[0-9]){{12}}")  # 13 digits at least
_IBAN_HINT = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9 ]{11}")
# Searched in the lower-cased text: a key's or a token's prefix, an escaped ASCII
# character, a word a credential's header or field is named with, or a secret field's
# whole name (`cvc` but not `cvc_check`, which every card answers with).
_HINT_WORDS = (
    r"_(?:test|live)_|whsec_|rt_|ac_|\\u00[2-7]|"
    r"secret|token|password|api[-_]?key|signature|authorization|basic|cookie|credential|"
    r"(?:cvc2?|cvv2?|iban|ssn(?:_?last_?4)?|"
    r"(?:account|routing|id|card|bsb|transit|institution)_?number(?:_secondary)?|"
    r"cvc_?number|(?:security|sort|bank|branch)_?code)(?![a-z0-9_])"
)
_HINT_WORD = re.compile(_HINT_WORDS)
# Searched in the text as it is: 12 digits with separators between them, the start of an
# IBAN, a signature.
# (Digits glued to a word are never a card: `req_001000000026`.)
_HINT_DIGITS = re.compile(rf"(?<![A-Za-z_])[0-9](?:{_CARD_SEPARATOR}?[0-9]){{11}}")
_HINT_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9 ]{11}")
_HINT_SIGNATURE = re.compile(r"v[0-9]=")


def _lower(text: str) -> str:
    """`text` in lower case, each character in its place (a few characters lower-case to
    two, İ; those stay as they are)."""
    lower = text.lower()
    if len(lower) == len(text):
        return lower
    return "".join(char if len(char.lower()) != 1 else char.lower() for char in text)


def _hint_spans(text: str) -> list[tuple[int, int]]:
    """Where in `text` a hint of a secret may lie, in order: each literal's places (more
    than the words: a place too many only costs a look), each percent escape (a form or
    URL inside a JSON string may hide a field's name behind one), each shape."""
    lower = _lower(text)
    spans = []
    for literal in _HINT_LITERALS:
        at = lower.find(literal)
        while at >= 0:
            spans.append((at, at + len(literal)))
            at = lower.find(literal, at + 1)
    if "%" in text:
        spans.extend(escape.span() for escape in _PERCENT_ESCAPE.finditer(text))
    if "\\u" in text:  # a digit of another script, escaped (`\uff14`), is one
        spans.extend(escape.span() for escape in _U_ESCAPE.finditer(text))
    if _LOOSE_DIGITS.search(text) is not None:
        spans.extend(shape.span() for shape in _HINT_DIGITS.finditer(text))
    if _LOOSE_IBAN.search(text) is not None:
        spans.extend(shape.span() for shape in _HINT_IBAN.finditer(text))
    if "=" in text:
        spans.extend(shape.span() for shape in _HINT_SIGNATURE.finditer(text))
    spans.extend(hint.span() for hint in _BASE64_HINT.finditer(text))
    spans.extend(hint.span() for hint in _BASE64_DIGITS.finditer(text))
    return sorted(spans)


_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


# Substrings of the words above, one of which every hint holds: a search for them rejects
# most texts faster than the regular expression of the words can.
_HINT_LITERALS = (
    "_test_", "_live_", "whsec_", "rt_", "ac_", "\\u00", "secret", "token", "password",
    "api-key", "api_key", "apikey", "signature", "authorization", "basic", "cookie",
    "credential", "cvc", "cvv", "iban", "ssn", "number", "security",
    # Not `code` alone: every form's Content-Type says `urlencoded`.
    "_code", "sortcode", "bankcode", "branchcode",
)  # fmt: skip
# One search for any of them, as a tree of their prefixes: faster than a substring
# search for each (by a third, on an exchange's headers and bodies).
_HINT_LITERAL = re.compile(_trie_pattern(list(_HINT_LITERALS)))
# Loose forms of the shapes, each many times faster to search for than the shape (one
# pattern each: the regex engine skips fast to a character that can start it): most texts
# with digits or capitals hold none, and only those that do are searched for the shape.
_LOOSE_DIGITS = re.compile(rf"[0-9][0-9{_BLANKS}.+%-]{{11}}")
_LOOSE_IBAN = re.compile(r"[A-Z][A-Z][0-9]")


def _hints_secret(text: str) -> bool:
    lower = text.lower()
    if _HINT_LITERAL.search(lower) is not None and _HINT_WORD.search(lower) is not None:
        return True
    if _LOOSE_DIGITS.search(text) is not None and _HINT_DIGITS.search(text) is not None:
        return True
    if _LOOSE_IBAN.search(text) is not None and _HINT_IBAN.search(text) is not None:
        return True
    if "=" in text and _HINT_SIGNATURE.search(text) is not None:
        return True
    if "5f" in lower and any(word in lower for word in _HEX_WORDS):
        return True  # hex of a key (hex of a card is a run of digits, hinted above)
    return _BASE64_HINT.search(text) is not None or _BASE64_DIGITS.search(text) is not None


def _may_hold_secret(text: str) -> bool:
    """False only when no secret rule can match `text`, percent-decoded as many times as
    the rules decode it (a form body is redacted on its decoded keys and values, and an
    escaped run is decoded again while it holds escapes: `sk%255Ftest%255F…`), as it is
    or under any disguise it wears (HTML entities, quoted-printable, `\\x` escapes,
    digits and letters of other forms)."""
    for _ in range(_MAX_DEPTH):
        if _hints_secret(text) or _hints_disguised(text):
            return True
        if "%" not in text:
            return False
        decoded = unquote_plus(text)
        if decoded == text:
            return False
        text = decoded
    return True


def redact_text(text: str, policy: RedactionPolicy = SECRETS_ONLY) -> str:
    """Redact secrets in any text: a body (form, JSON, multipart or other), a query, a
    header value, a log line; also one in UTF-16 (read as bytes, a NUL beside each ASCII
    character)."""
    if "\x00" in text:
        wide = _redact_wide(text, policy)
        if wide is not None:
            return wide
    if policy.pii == "keep" and not _may_hold_secret(text):
        return text
    return redact_every_rule(text, policy)


# Byte order marks, and the codec that reads what follows each.
_WIDE_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def _wide_codec(raw: bytes) -> tuple[bytes, str] | None:
    """(byte order mark, codec) of UTF-16 or UTF-32 text: by its mark, else by NULs in
    every other byte (ASCII text in UTF-16 without a mark)."""
    for bom, codec in _WIDE_BOMS:
        if raw.startswith(bom):
            return bom, codec
    if len(raw) < 8 or len(raw) % 2:
        return None
    even, odd = raw[0::2].count(0), raw[1::2].count(0)
    half = len(raw) // 2
    if odd >= half * 0.6 and even < half * 0.1:
        return b"", "utf-16-le"
    if even >= half * 0.6 and odd < half * 0.1:
        return b"", "utf-16-be"
    return None


def _redact_wide(text: str, policy: RedactionPolicy) -> str | None:
    """`text` (bytes read as latin-1 or UTF-8) redacted as the UTF-16 or UTF-32 text it
    holds, written back the same way; None when it holds none."""
    narrow = "latin-1" if all(ord(char) < 256 for char in text) else "utf-8"
    try:
        raw = text.encode(narrow)
    except UnicodeEncodeError:
        return None
    found = _wide_codec(raw)
    if found is None:
        return None
    bom, codec = found
    try:
        wide = raw[len(bom) :].decode(codec)
    except UnicodeDecodeError:
        return None
    redacted = redact_text(wide, policy) if "\x00" not in wide else None
    if redacted is None or redacted == wide:
        return None
    back = bom + redacted.encode(codec, "surrogatepass")
    return back.decode(narrow, "replace") if narrow == "utf-8" else back.decode("latin-1")


def redact_every_rule(text: str, policy: RedactionPolicy = SECRETS_ONLY) -> str:
    """`redact_text` without its quick check: every rule runs on every text."""
    # One pass: every rule reads the text as it came, and leaves markers no rule changes
    # (the property tests check that redacting twice changes nothing).
    context = _context(policy)
    return _undisguised(text, _redact(text, context, 0), context)


def redact_field(name: str, value: str, policy: RedactionPolicy = SECRETS_ONLY) -> str:
    """The value of the field `name` (a JSON member, a form key's last name) redacted:
    by the field's rule, then as a text of its own."""
    if policy.pii == "keep" and not _may_hold_secret(value) and not is_secret_field(name):
        return value
    return _redact_value(value, name, _context(policy), 0)


def is_secret_field(name: str) -> bool:
    """Whether `name` (`cvc`, `card[cvc]`, `card.cvc`, `Cookie`) files its value under a
    field whose value is secret whatever it holds."""
    return _field_rule(name, _context(SECRETS_ONLY)) is not None


def _redact_body(body: str | bytes, policy: RedactionPolicy, depth: int = 0) -> str | bytes:
    if isinstance(body, str):
        return redact_text(body, policy)
    if depth < _MAX_DEPTH:
        # Bytes compressed as their first bytes say: read what they hold.
        compressed = _redact_compressed(body, policy, depth, guess=False)
        if compressed is not None:
            return compressed
    # Every pattern is ASCII, so latin-1 maps bytes to text and back without loss.
    plain = redact_text(body.decode("latin-1"), policy).encode("latin-1")
    if plain != body or depth >= _MAX_DEPTH:
        return plain
    # Bytes that hold no secret as they are may be compressed without saying so (raw
    # deflate, brotli). Guessed only now: brotli takes most bytes for a block stored as
    # it is, which the bytes read as they are already were.
    compressed = _redact_compressed(body, policy, depth, guess=True)
    return compressed if compressed is not None else body


def _redact_compressed(
    body: bytes, policy: RedactionPolicy, depth: int, *, guess: bool
) -> bytes | None:
    """Bytes still compressed (harness.capture.compressed) whose content holds a secret:
    compressed again the same way with the secret redacted. None when they are not
    compressed or hold no secret, and are then read as they are."""
    found = sniff(body, guess=guess)
    if found is None:
        return None
    coding, content = found
    redacted = _redact_body(content, policy, depth + 1)
    if redacted == content or not isinstance(redacted, bytes):
        return None
    return compress(redacted, coding)


def redact_header(name: str, value: str, policy: RedactionPolicy = SECRETS_ONLY) -> str:
    """One header's value: by the header's own rule, else as free text (the digits of
    ids, times and sizes are never taken for a card)."""
    rule = _header_rule(name)
    if rule is not None:
        return rule(value)
    if name.lower() in _NUMBER_HEADERS and policy.pii == "keep":
        return _redact_shapes(value)
    return redact_text(value, policy)


def redact_headers(headers: Headers, policy: RedactionPolicy = SECRETS_ONLY) -> Headers:
    # One quick check over every plain value at once (a line break joins them, which no
    # rule can match across): most exchanges have no header any rule would change.
    plain = policy.pii == "keep" and not _may_hold_secret(
        "\n".join(value for name, value in headers if _header_rule(name) is None)
    )
    names = " ".join(name for name, _ in headers)
    keyed = "_test_" in names or "_live_" in names or "whsec_" in names
    out = Headers()
    for name, value in headers:
        if keyed:
            name = _redact_shapes(name)  # a key in a header's name, as no client should
        if plain and _header_rule(name) is None:
            out.append((name, value))
        else:
            out.append((name, redact_header(name, value, policy)))
    return out


# --- JSON values (a report's data, an exchange's extra fields) ---------------------------

# Integers this long can be card numbers sent as JSON numbers; shorter ones never are.
_CARD_DIGITS = 13


def redact_tree(value: Any, under: str | None = None, parent: str = "") -> Any:
    """A copy of a JSON value with every secret in every string (keys too) redacted:
    what a report writes, and the fields a stage adds to an exchange (notes that quote a
    value, an exception's message).

    Members named like a secret (`cvc`, `account_number`, `client_secret`, `card[cvc]`,
    `Cookie`) get that field's rule, and so does everything in a list or an object such
    a member holds (`"cvc": ["739"]`): `under` is the name of that member. `parent` is
    the name of the member that holds `value`, which says what a `number` in it is
    (`"card": {"number": …}`). A card-shaped integer becomes its card marker, a string.
    """
    if isinstance(value, str):
        return redact_field(under, value) if under is not None else redact_text(value)
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        if under is not None:
            redacted = redact_field(under, str(value))
            return value if redacted == str(value) else redacted
        if len(str(abs(value))) < _CARD_DIGITS:
            return value
        redacted = redact_text(str(value))
        return value if redacted == str(value) else redacted
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = redact_text(str(key))
            member = under or (f"{parent}.{key}" if parent else str(key))
            if isinstance(item, str):
                out[name] = redact_field(member, item)
            elif isinstance(item, int) and not isinstance(item, bool):
                redacted = redact_field(member, str(item))
                out[name] = item if redacted == str(item) else redacted
            else:
                out[name] = redact_tree(
                    item, under or (str(key) if is_secret_field(str(key)) else None), str(key)
                )
        return out
    if isinstance(value, list | tuple):
        return [redact_tree(item, under, parent) for item in value]
    return redact_text(str(value))


def redact_exchange(exchange: Exchange, policy: RedactionPolicy = SECRETS_ONLY) -> Exchange:
    """A copy of `exchange` with every secret in every part replaced by its marker."""
    request = exchange.request
    redacted_request: Request = dataclasses.replace(
        request,
        path=redact_text(request.path, policy),
        query=redact_text(request.query, policy),
        headers=redact_headers(request.headers, policy),
        body=_redact_body(request.body, policy),
    )
    response: Response | None = exchange.response
    if response is not None:
        response = dataclasses.replace(
            response,
            headers=redact_headers(response.headers, policy),
            body=_redact_body(response.body, policy),
        )
    error = redact_text(exchange.error, policy) if exchange.error is not None else None
    return dataclasses.replace(
        exchange,
        request=redacted_request,
        response=response,
        error=error,
        extra=redact_tree(exchange.extra) if exchange.extra else {},
    )
