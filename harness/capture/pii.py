"""Deterministic fakes for personal data: emails, names, phone numbers, address lines.

Each fake is picked by an HMAC of the real value under a key that is never stored, so
equal inputs give equal fakes within one recording and nobody can reverse them. A fake is
recognisable as one, so pseudonymizing twice changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable

PII_MODES = ("keep", "pseudonymize")
"""What a recording does with personal data: keeps it, or pseudonymizes it with fakes."""

_FIRST_NAMES = (
    "Alex", "Blair", "Casey", "Devon", "Emery", "Finley", "Harper", "Jordan",
    "Kendall", "Logan", "Morgan", "Parker", "Quinn", "Riley", "Rowan", "Taylor",
)  # fmt: skip
_LAST_NAMES = (
    "Archer", "Brooks", "Carter", "Dalton", "Ellis", "Fisher", "Grant", "Hayes",
    "Irving", "Keller", "Lawson", "Mercer", "Nolan", "Porter", "Reed", "Sutton",
)  # fmt: skip
_STREETS = ("Oak", "Maple", "Cedar", "Pine", "Elm", "Birch", "Willow", "Aspen")

EMAIL_PATTERN = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_FAKE_EMAIL = re.compile(r"[a-z]+\.[a-z]+\.[0-9a-f]{6}@example\.com")
_FAKE_PHONE = re.compile(r"\+1555010[0-9]{4}")
_FAKE_LINE = re.compile(r"[0-9]{1,4} (?:" + "|".join(_STREETS) + r") Street(?: Apt [0-9]{1,3})?")


class Pseudonymizer:
    """Maps personal data to stable fakes under one secret key (kept in memory only)."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _digest(self, kind: str, value: str) -> bytes:
        return hmac.new(self._key, f"{kind}\0{value}".encode(), hashlib.sha256).digest()

    def _person(self, digest: bytes) -> tuple[str, str]:
        first = _FIRST_NAMES[digest[0] % len(_FIRST_NAMES)]
        return first, _LAST_NAMES[digest[1] % len(_LAST_NAMES)]

    def email(self, value: str) -> str:
        if not value or _FAKE_EMAIL.fullmatch(value):
            return value
        digest = self._digest("email", value.lower())
        first, last = self._person(digest)
        return f"{first.lower()}.{last.lower()}.{digest[2:5].hex()}@example.com"

    def name(self, value: str) -> str:
        if not value or self._is_fake_name(value):
            return value
        first, last = self._person(self._digest("name", value))
        return f"{first} {last}"

    @staticmethod
    def _is_fake_name(value: str) -> bool:
        parts = value.split(" ")
        return len(parts) == 2 and parts[0] in _FIRST_NAMES and parts[1] in _LAST_NAMES

    def phone(self, value: str) -> str:
        if not value or _FAKE_PHONE.fullmatch(value):
            return value
        digest = self._digest("phone", value)
        # 555-0100 to 555-0199 are reserved for fiction in the North American plan.
        return f"+1555010{int.from_bytes(digest[:4], 'big') % 10000:04d}"

    def address_line(self, value: str) -> str:
        if not value or _FAKE_LINE.fullmatch(value):
            return value
        digest = self._digest("line", value)
        number = int.from_bytes(digest[:2], "big") % 9000 + 100
        return f"{number} {_STREETS[digest[2] % len(_STREETS)]} Street"

    def emails_in(self, text: str) -> str:
        """Every email address in free text replaced by its fake."""
        return EMAIL_PATTERN.sub(lambda match: self.email(match.group(0)), text)

    def field_rules(self) -> dict[str, Callable[[str], str]]:
        """Field name → fake maker, for the fields that hold personal data."""
        return {
            "email": self.email,
            "receipt_email": self.email,
            "name": self.name,
            "phone": self.phone,
            "line1": self.address_line,
            "line2": self.address_line,
        }
