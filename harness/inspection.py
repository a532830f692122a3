"""What is in a recording: counts, time span, API versions, endpoints and their statuses."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.model import Exchange
from harness.stripe import endpoint_template


@dataclass(slots=True)
class EndpointStats:
    count: int = 0
    statuses: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True)
class Inspection:
    exchanges: int = 0
    errors: int = 0
    first_started: float | None = None
    last_finished: float | None = None
    api_versions: Counter[str] = field(default_factory=Counter)
    endpoints: dict[str, EndpointStats] = field(default_factory=dict)

    @property
    def span_seconds(self) -> float:
        if self.first_started is None or self.last_finished is None:
            return 0.0
        return max(0.0, self.last_finished - self.first_started)

    def to_json(self) -> dict[str, Any]:
        return {
            "exchanges": self.exchanges,
            "errors": self.errors,
            "first_started": self.first_started,
            "last_finished": self.last_finished,
            "span_seconds": round(self.span_seconds, 3),
            "api_versions": dict(self.api_versions.most_common()),
            "endpoints": {
                name: {"count": stats.count, "statuses": dict(sorted(stats.statuses.items()))}
                for name, stats in sorted(
                    self.endpoints.items(), key=lambda item: (-item[1].count, item[0])
                )
            },
        }


def inspect_exchanges(exchanges: Iterable[Exchange]) -> Inspection:
    """Summarise exchanges in one streaming pass.

    An exchange counts as an error when the upstream failed (no response) or answered
    with a status of 400 or more. Its status is listed as `error` when there was none.
    """
    result = Inspection()
    for exchange in exchanges:
        result.exchanges += 1
        if result.first_started is None or exchange.started < result.first_started:
            result.first_started = exchange.started
        finished = exchange.started + exchange.duration
        if result.last_finished is None or finished > result.last_finished:
            result.last_finished = finished
        version = exchange.request.header("Stripe-Version")
        if exchange.response is not None:
            version = version or exchange.response.header("Stripe-Version")
        if version:
            result.api_versions[version] += 1
        name = endpoint_template(exchange.request.method, exchange.request.path)
        stats = result.endpoints.setdefault(name, EndpointStats())
        stats.count += 1
        if exchange.response is None:
            stats.statuses["error"] += 1
            result.errors += 1
        else:
            stats.statuses[str(exchange.response.status)] += 1
            if exchange.response.status >= 400:
                result.errors += 1
    return result
