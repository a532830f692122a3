"""When to retry a request and how long to wait first (pure functions).

Connection errors, timeouts, 429 and 5xx are retried; `Stripe-Should-Retry` overrides the
status either way, and `Retry-After` sets the wait. Otherwise the wait grows
exponentially with jitter, and the whole exchange is bounded in attempts and seconds.
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from typing import Protocol

from harness.model import Headers


class RetryPolicy(Protocol):
    """How hard the replay tries one exchange (a scenario's `retry:`, RetrySettings)."""

    @property
    def attempts(self) -> int: ...
    @property
    def backoff(self) -> float: ...
    @property
    def max_backoff(self) -> float: ...
    @property
    def budget(self) -> float: ...


def should_retry(status: int, headers: Headers) -> bool:
    """Stripe's own advice when it gives one, else: 429 and 5xx are worth another try."""
    found = headers if type(headers) is Headers else Headers(headers)
    advice = (found.get("stripe-should-retry") or "").strip().lower()
    if advice == "true":
        return True
    if advice == "false":
        return False
    return status == 429 or status >= 500


def retry_after(headers: Headers, now: float) -> float | None:
    """Seconds the server asked us to wait (`Retry-After: 2` or an HTTP date), if any."""
    value = Headers(headers).get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def backoff(failures: int, settings: RetryPolicy, jitter: float) -> float:
    """Exponential backoff after `failures` failed attempts, with `jitter` in [0, 1)
    spreading it over [half, full] so parallel journeys do not retry in lockstep."""
    ceiling = min(settings.max_backoff, settings.backoff * (2 ** max(0, failures - 1)))
    return ceiling * (0.5 + jitter / 2)


def next_delay(
    failures: int, headers: Headers | None, settings: RetryPolicy, jitter: float, now: float
) -> float:
    """How long to wait before the next attempt."""
    if headers is not None:
        asked = retry_after(headers, now)
        if asked is not None:
            return asked
    return backoff(failures, settings, jitter)
