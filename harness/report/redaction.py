"""The capture-time redaction applied again to everything a report writes: a target may
echo a secret back (a live key in metadata) that the recording never held."""

from __future__ import annotations

from typing import Any

from harness.capture.redact import is_secret_field, redact_field, redact_text

# Integers this long can be card numbers sent as JSON numbers; shorter ones never are.
_CARD_DIGITS = 13


def redact_tree(value: Any, under: str | None = None) -> Any:
    """A copy of a JSON value with every secret in every string (keys too) redacted.

    Members named like a secret (`cvc`, `account_number`, `client_secret`, `card[cvc]`,
    `Cookie`) get that field's rule, and so does everything in a list or an object such
    a member holds (`"cvc": ["739"]`): `under` is the name of that member. A card-shaped
    integer becomes its card marker, a string.
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
            member = under or str(key)
            if isinstance(item, str):
                out[name] = redact_field(member, item)
            elif isinstance(item, int) and not isinstance(item, bool):
                redacted = redact_field(member, str(item))
                out[name] = item if redacted == str(item) else redacted
            else:
                out[name] = redact_tree(
                    item, under or (str(key) if is_secret_field(str(key)) else None)
                )
        return out
    if isinstance(value, list | tuple):
        return [redact_tree(item, under) for item in value]
    return redact_text(str(value))
