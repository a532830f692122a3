"""Which credential a replayed request carries: the one its recording implies
(docs/replay.md, "Credentials"). Recorded keys are never sent; what is replayed is whether
the client sent a key, and whether Stripe took it.

Stripe answers 401 to every request without a key or with a key it does not know, and
nothing else does: so the recorded answer says what the client's key was worth, even when
the recording lost the header (a cassette's `filter_headers` drops it). A 401 without an
Authorization header is replayed without one; a 401 with one, with a key every target
refuses; any other answer, with the target's own key.
"""

from __future__ import annotations

from enum import StrEnum

from harness.model import Request

# What is sent where a recorded key was refused: not shaped like a key (`sk_…`), so Stripe,
# localstripe (which takes any `sk_` key) and stripe-mock (any `sk_test_` key) all answer
# 401, and no redaction rule mistakes it for a secret.
INVALID_API_KEY = "shadow_invalid_key"


class Credential(StrEnum):
    """How a replayed request is authenticated."""

    TARGET_KEY = "target_key"  # the target's own key (its api_key_env, an emulator's)
    NONE = "none"  # no Authorization header: the client sent none
    INVALID_KEY = "invalid_key"  # INVALID_API_KEY: the client's key was refused


def recorded_credential(request: Request, status: int | None) -> Credential:
    """The credential a recorded request is replayed with, from its Authorization header
    and the status Stripe answered (None: no answer was recorded)."""
    sent_key = bool((request.header("authorization") or "").strip())
    if status == 401:
        return Credential.INVALID_KEY if sent_key else Credential.NONE
    if status is None and not sent_key:
        return Credential.NONE
    # Stripe took a key: the recording's, even when the header did not survive.
    return Credential.TARGET_KEY
