"""The capture-time redaction applied again to everything a report writes: a target may
echo a secret back (a live key in metadata) that the recording never held."""

from __future__ import annotations

from typing import Any

from harness.capture.redact import redact_field, redact_text

# Integers this long can be card numbers sent as JSON numbers; shorter ones never are.
_CARD_DIGITS = 13


def redact_tree(value: Any) -> Any:
    """A copy of a JSON value with every secret in every string (keys too) redacted.

    Members named like a secret (`cvc`, `account_number`, `client_secret`, `card[cvc]`)
    get that field's rule; a card-shaped integer becomes its card marker, a string.
    """
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        if len(str(abs(value))) < _CARD_DIGITS:
            return value
        redacted = redact_text(str(value))
        return value if redacted == str(value) else redacted
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = redact_text(str(key))
            if isinstance(item, str):
                out[name] = redact_field(str(key), item)
            elif isinstance(item, int) and not isinstance(item, bool):
                redacted = redact_field(str(key), str(item))
                out[name] = item if redacted == str(item) else redacted
            else:
                out[name] = redact_tree(item)
        return out
    if isinstance(value, list | tuple):
        return [redact_tree(item) for item in value]
    return redact_text(str(value))
