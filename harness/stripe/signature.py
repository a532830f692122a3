"""Stripe's webhook signatures: the `Stripe-Signature` header a delivery carries,
`t=<unix>,v1=<hex>[,v1=<hex>…]`, where each v1 is HMAC-SHA256 of `"<t>.<raw body>"` with
the endpoint's `whsec_` secret. A receiver accepts any v1 that matches, within a
tolerance of t (Stripe's libraries use 300 s) so that a captured delivery cannot be
replayed to it later."""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "Stripe-Signature"
# Seconds between t and the moment of checking that Stripe's own libraries accept.
DEFAULT_TOLERANCE = 300.0


def new_webhook_secret() -> str:
    """A fresh `whsec_` secret for an endpoint the harness sets up itself (a launched
    emulator's): random, held in memory only, never written to disk."""
    return "whsec_" + secrets.token_hex(24)


def sign_payload(payload: bytes, secret: str, timestamp: int) -> str:
    """The `Stripe-Signature` value for `payload` sent at `timestamp`."""
    signed = str(timestamp).encode() + b"." + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def signature_problem(
    payload: bytes,
    header: str | None,
    secret: str,
    now: float,
    tolerance: float = DEFAULT_TOLERANCE,
) -> str | None:
    """Why a delivery's signature is not good for `secret` at `now`, or None when one v1
    matches and t is within `tolerance` seconds of now."""
    if not header:
        return "no Stripe-Signature header"
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return "Stripe-Signature: t is not a Unix time"
        elif name == "v1":
            candidates.append(value)
    if timestamp is None:
        return "Stripe-Signature: no t"
    if not candidates:
        return "Stripe-Signature: no v1 signature"
    expected = sign_payload(payload, secret, timestamp).rpartition("v1=")[2]
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        return "Stripe-Signature: no v1 matches the endpoint's secret"
    if abs(now - timestamp) > tolerance:
        away = abs(now - timestamp)
        return f"Stripe-Signature: t is {away:.0f} s away (tolerance {tolerance:.0f} s)"
    return None
