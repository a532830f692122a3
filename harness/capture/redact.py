"""Redaction of secrets (and optionally personal data) before anything reaches disk.

Applied by the recorder to every exchange, and again by the later stages to whatever they
write. Every rule leaves a marker that later stages can parse (docs/recording-format.md):

    API key          sk_test_<redacted:1a2b3c4d>   (prefix, mode, sha256 fingerprint)
    webhook secret   whsec_<redacted:1a2b3c4d>
    Basic auth       Basic base64("sk_test_<redacted:1a2b3c4d>:")
    card number      <redacted:card:4242>          (last four digits)
    CVC              <redacted:cvc>
    bank account     <redacted:bank_account:6789>
    IBAN             <redacted:iban:DE:3000>        (country, last four)
    client secret    pi_123_secret_<redacted>      (the object id is kept)
    cookie           <redacted>

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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote_plus

from harness.capture.pii import PII_MODES, Pseudonymizer
from harness.formats.untrusted import lone_surrogate
from harness.model import Exchange, Headers, Request, Response
from harness.stripe import form_key_path

SECRET_RULES = (
    "api_keys",
    "basic_auth",
    "card_numbers",
    "cvc",
    "bank_account_numbers",
    "client_secrets",
    "cookies",
    "authorization",
)

REDACTED = "<redacted>"
CVC_MARKER = "<redacted:cvc>"

FieldRule = Callable[[str], str]


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


# --- API keys and client secrets -------------------------------------------------------


def _key_marker(match: re.Match[str]) -> str:
    key = match.group(0)
    if key.startswith("whsec_"):
        return f"whsec_<redacted:{fingerprint(key)}>"
    prefix, mode, _ = key.split("_", 2)
    return f"{prefix}_{mode}_<redacted:{fingerprint(key)}>"


# Where a secret may start: not inside a longer word, but right after a percent escape
# (`%22sk_test_…` in an encoded URL) too.
_START = r"(?:(?<![A-Za-z0-9])|(?<=%[0-9A-Fa-f]{2}))"

# API keys: secret, restricted, publishable and ephemeral keys; webhook secrets.
API_KEY = re.compile(
    _START + r"(?:(?:sk|rk|pk|ek)_(?:test|live)_[A-Za-z0-9]{8,}|whsec_[A-Za-z0-9]{8,})"
)

# Client secrets: `pi_X_secret_Y`, `seti_X_secret_Y`, `src_client_secret_Y`. The part up
# to `_secret_` names the object and is kept, so a replay can map it.
_CLIENT_SECRET = re.compile(
    _START + r"((?:pi|seti|cs_test|cs_live)_[A-Za-z0-9]+_secret_|src_client_secret_)"
    r"[A-Za-z0-9]+"
)

# `Basic <base64>`: the Python SDK and curl -u send `sk_…:` this way.
_BASIC = re.compile(r"(\bBasic\s+)([A-Za-z0-9+/]{4,}={0,2})", re.IGNORECASE)


def _redact_basic(match: re.Match[str]) -> str:
    try:
        decoded = base64.b64decode(match.group(2), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return match.group(0)
    redacted = _redact_secrets(decoded)
    if redacted == decoded:
        return match.group(0)
    return match.group(1) + base64.b64encode(redacted.encode("utf-8")).decode("ascii")


# --- card numbers ----------------------------------------------------------------------

# Digits with single separators between them: a space, a dash, or a space as it appears
# in a form body (`+`, `%20`). A run never starts inside a percent escape (`%20`, `%2B`).
_DIGIT_RUN = re.compile(r"(?<!%)(?<!%[0-9A-Fa-f])[0-9](?:(?: |-|\+|%20)?[0-9])+")
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


def _redact_card_run(match: re.Match[str]) -> str:
    """Replace each card number in a run of digit groups: consecutive whole groups
    holding 13 to 19 digits that pass the Luhn check (so `4242 4242 4242 4242 12`
    loses the card and keeps the `12`)."""
    run = match.group(0)
    groups = [(group.start(), group.end(), group.group(0)) for group in _DIGIT_GROUP.finditer(run)]
    if sum(len(digits) for _, _, digits in groups) < 13:
        return run
    out: list[str] = []
    copied = 0  # offset in `run` copied to `out` so far
    first = 0
    while first < len(groups):
        for last in range(len(groups), first, -1):
            number = "".join(digits for _, _, digits in groups[first:last])
            if 13 <= len(number) <= 19 and luhn_valid(number):
                out.append(run[copied : groups[first][0]])
                out.append(f"<redacted:card:{number[-4:]}>")
                copied = groups[last - 1][1]
                first = last
                break
        else:
            first += 1
    out.append(run[copied:])
    return "".join(out)


# --- fields whose value is secret wherever they appear --------------------------------


def _redact_cvc(value: str) -> str:
    return value if value == CVC_MARKER or not value else CVC_MARKER


# An IBAN: a country, two check digits, then 11 to 30 letters and digits.
_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")


def _redact_bank_account(value: str) -> str:
    if not value or value.startswith(("<redacted:bank_account:", "<redacted:iban:")):
        return value
    plain = re.sub(r"[^A-Za-z0-9]", "", value)
    if _IBAN.fullmatch(plain.upper()):
        # The country is no secret, and a replay needs it to send a test IBAN of its own.
        return f"<redacted:iban:{plain[:2].upper()}:{plain[-4:]}>"
    return f"<redacted:bank_account:{plain[-4:]}>"


def _redact_client_secret(value: str) -> str:
    redacted = _CLIENT_SECRET.sub(r"\1<redacted>", value)
    if redacted != value or not value or "<redacted" in value:
        return redacted
    return REDACTED


SECRET_FIELDS: dict[str, FieldRule] = {
    "cvc": _redact_cvc,
    "cvv": _redact_cvc,
    "cvc2": _redact_cvc,
    "cvv2": _redact_cvc,
    "account_number": _redact_bank_account,
    "iban": _redact_bank_account,
    "client_secret": _redact_client_secret,
}


def _field_rules(policy: RedactionPolicy) -> dict[str, FieldRule]:
    if policy.pii != "pseudonymize":
        return SECRET_FIELDS
    rules = dict(Pseudonymizer(policy.pii_key).field_rules())
    rules.update(SECRET_FIELDS)
    return rules


# A JSON member whose value is a string or a number: `"cvc": "123"`, `"cvc": 123`.
_JSON_MEMBER = re.compile(
    r'"(?P<name>[A-Za-z0-9_]+)"(?P<colon>\s*:\s*)(?P<value>"(?:[^"\\]|\\.)*"|-?[0-9]+(?:\.[0-9]+)?)'
)


def _redact_json_members(text: str, rules: dict[str, FieldRule]) -> str:
    def replace(match: re.Match[str]) -> str:
        rule = rules.get(match.group("name"))
        if rule is None:
            return match.group(0)
        raw = match.group("value")
        value = json.loads(raw) if raw.startswith('"') else raw
        if not isinstance(value, str):
            return match.group(0)
        new = rule(value)
        if new == value:
            return match.group(0)
        # `\ud800` alone in the text decodes to a lone surrogate, which UTF-8 cannot hold:
        # written back as an escape, as it came.
        dumped = json.dumps(new, ensure_ascii=lone_surrogate(new) is not None)
        return f'"{match.group("name")}"{match.group("colon")}{dumped}'

    return _JSON_MEMBER.sub(replace, text)


# --- form bodies and query strings -----------------------------------------------------

_FORM_LIKE = re.compile(r"[^\s&=]+=[^\s&]*(?:&[^\s&]*)*")
# Markers stay readable in a form body: `<`, `>` and `:` are left unescaped.
_MARKER_SAFE = "<>:"


def _redact_form(text: str, rules: dict[str, FieldRule], policy: RedactionPolicy) -> str:
    """Redact each `key=value` pair of a form body on its decoded value."""
    parts = text.split("&")
    for position, part in enumerate(parts):
        key, equals, value = part.partition("=")
        if not equals:
            continue
        decoded = unquote_plus(value)
        name = form_key_path(unquote_plus(key))[-1]
        rule = rules.get(name)
        new = rule(decoded) if rule is not None else decoded
        new = _redact_free(new, rules, policy)
        if new != decoded:
            parts[position] = f"{key}={quote(new, safe=_MARKER_SAFE)}"
    return "&".join(parts)


# --- putting it together ---------------------------------------------------------------


# What each rule needs to find before it can match: each pattern above starts with a
# lookbehind, which the regex engine tries at every position of a text, so a search for
# a literal (or a short pattern without one) first skips most texts at a fraction of it.
_BASIC_HINT = re.compile(r"(?i)basic")
_CARD_HINT = re.compile(r"[0-9](?:(?: |-|\+|%20)?[0-9]){12}")  # 13 digits at least


@functools.lru_cache(maxsize=8)
def _member_hint(names: frozenset[str]) -> re.Pattern[str]:
    """A JSON member named by one of the field rules."""
    alternatives = "|".join(re.escape(name) for name in sorted(names))
    return re.compile(rf'"(?:{alternatives})"\s*:')


def _redact_secrets(text: str) -> str:
    if "_test_" in text or "_live_" in text or "whsec_" in text:
        text = API_KEY.sub(_key_marker, text)
    if "_secret_" in text:
        text = _CLIENT_SECRET.sub(r"\1<redacted>", text)
    return text


def _redact_free(text: str, rules: dict[str, FieldRule], policy: RedactionPolicy) -> str:
    if _BASIC_HINT.search(text) is not None:
        text = _BASIC.sub(_redact_basic, text)
    text = _redact_secrets(text)
    if _CARD_HINT.search(text) is not None:
        text = _DIGIT_RUN.sub(_redact_card_run, text)
    if '"' in text and _member_hint(frozenset(rules)).search(text) is not None:
        text = _redact_json_members(text, rules)
    if policy.pii == "pseudonymize" and "@" in text:
        text = Pseudonymizer(policy.pii_key).emails_in(text)
    return text


def _redact_once(text: str, rules: dict[str, FieldRule], policy: RedactionPolicy) -> str:
    # A form body is ASCII (everything else is percent-encoded) without blanks.
    if "=" in text and text.isascii() and _FORM_LIKE.fullmatch(text):
        text = _redact_form(text, rules, policy)
    return _redact_free(text, rules, policy)


# Something every rule above needs before it can change a text: a key's or a client
# secret's prefix, `Basic`, a secret field's name as a whole word, or 13 digits with
# single separators between them. Most texts (ids, times, amounts, SDK headers) hold
# none of these, and one search proves it at a fraction of the cost of the rules.
# (Each is a literal or starts with a character class, which the regex engine scans for
# quickly; a leading lookbehind would be tried at every position.)
_SECRET_LITERALS = ("_test_", "_live_", "whsec_", "_secret_")
_SECRET_FIELD_NAME = re.compile(
    r"(?:cvc2?|cvv2?|account_number|iban|client_secret)(?![A-Za-z0-9_])"
)


def _may_hold_secret(text: str) -> bool:
    """False only when no secret rule can match `text`, percent-decoded or not (a form
    body is redacted on its decoded keys and values)."""
    if _hints_secret(text):
        return True
    return "%" in text and _hints_secret(unquote_plus(text))


def _hints_secret(text: str) -> bool:
    return (
        any(literal in text for literal in _SECRET_LITERALS)
        or _CARD_HINT.search(text) is not None
        or _SECRET_FIELD_NAME.search(text) is not None
        or _BASIC_HINT.search(text) is not None
    )


def redact_text(text: str, policy: RedactionPolicy = SECRETS_ONLY) -> str:
    """Redact secrets in any text: a body (form, JSON or other), a query, a header value."""
    if policy.pii == "keep" and not _may_hold_secret(text):
        return text
    return redact_every_rule(text, policy)


def redact_every_rule(text: str, policy: RedactionPolicy = SECRETS_ONLY) -> str:
    """`redact_text` without its quick check: every rule runs on every text."""
    rules = _field_rules(policy)
    # One pass can reveal more: a body that becomes form-shaped once a spaced card number
    # is replaced. Repeat until nothing changes, so redacting twice changes nothing.
    for _ in range(4):
        redacted = _redact_once(text, rules, policy)
        if redacted == text:
            break
        text = redacted
    return text


def _redact_body(body: str | bytes, policy: RedactionPolicy) -> str | bytes:
    if isinstance(body, str):
        return redact_text(body, policy)
    # Every pattern is ASCII, so latin-1 maps bytes to text and back without loss.
    return redact_text(body.decode("latin-1"), policy).encode("latin-1")


def _redact_authorization(value: str) -> str:
    redacted = redact_text(value)
    scheme, _, credentials = redacted.partition(" ")
    if "<redacted" in redacted:
        return redacted
    if scheme.lower() == "basic":
        try:
            if "<redacted" in base64.b64decode(credentials).decode("utf-8", "replace"):
                return redacted
        except (binascii.Error, ValueError):
            pass
    # A credential we do not recognise: drop it rather than guess.
    return f"{scheme} {REDACTED}" if credentials else REDACTED


_COOKIE_HEADERS = frozenset({"cookie", "set-cookie"})
_AUTH_HEADERS = frozenset({"authorization", "proxy-authorization"})
_SIGNATURE_HEADER = "stripe-signature"
_SPECIAL_HEADERS = _COOKIE_HEADERS | _AUTH_HEADERS | {_SIGNATURE_HEADER}
_SIGNATURE_PART = re.compile(r"\b(v[0-9]+)=[^,]*")


def _redact_signature(value: str) -> str:
    """A webhook delivery's `Stripe-Signature`: its time kept, every signature replaced
    (an HMAC with the endpoint's secret is a credential for that one body)."""
    return _SIGNATURE_PART.sub(rf"\1={REDACTED}", value)


def redact_headers(headers: Headers, policy: RedactionPolicy = SECRETS_ONLY) -> Headers:
    # One quick check over every plain value at once (a line break joins them, which no
    # rule can match across): most exchanges have no header any rule would change.
    plain = policy.pii == "keep" and not _may_hold_secret(
        "\n".join(value for name, value in headers if name.lower() not in _SPECIAL_HEADERS)
    )
    out = Headers()
    for name, value in headers:
        lower = name.lower()
        if lower in _COOKIE_HEADERS:
            out.append((name, REDACTED))
        elif lower in _AUTH_HEADERS:
            out.append((name, _redact_authorization(value)))
        elif lower == _SIGNATURE_HEADER:
            out.append((name, _redact_signature(value)))
        else:
            out.append((name, value if plain else redact_text(value, policy)))
    return out


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
        extra=dict(exchange.extra),
    )
