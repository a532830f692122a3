"""Latency percentiles that merge: a histogram over fixed logarithmic buckets.

A duration of d milliseconds falls in bucket ceil(log(d) / log(GROWTH)), so each bucket
spans a factor of GROWTH = 2^(1/8) (about 9 %). A percentile is answered by the geometric
middle of its bucket, which is within a factor of GROWTH^(1/2) of the true value: better
than ±4.5 % relative, whatever the range (0.01 ms to days). Two sketches merge by adding
their counts, so the sketch of a week of recordings equals the sketch of their
concatenation exactly, and a sketch of a million durations holds a few dozen numbers.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

GROWTH = 2 ** (1 / 8)
# Durations at or below this many milliseconds share the lowest bucket.
FLOOR_MS = 0.01
_FLOOR_BUCKET = math.ceil(math.log(FLOOR_MS) / math.log(GROWTH))
_YEAR_MS = 365 * 86_400_000.0
# Relative error bound of a percentile read from the sketch.
PRECISION = math.sqrt(GROWTH) - 1


def bucket_of(milliseconds: float) -> int:
    """The bucket a duration in milliseconds falls in."""
    if not milliseconds > FLOOR_MS:  # NaN too
        return _FLOOR_BUCKET
    # A year is as long as any duration needs to be told apart.
    return math.ceil(math.log(min(milliseconds, _YEAR_MS)) / math.log(GROWTH))


def bucket_middle(bucket: int) -> float:
    """The geometric middle of a bucket, in milliseconds."""
    if bucket <= _FLOOR_BUCKET:
        return FLOOR_MS
    return GROWTH ** (bucket - 0.5)


@dataclass(slots=True)
class LatencySketch:
    """Counts of durations per logarithmic bucket."""

    counts: Counter[int] = field(default_factory=Counter)

    def add(self, seconds: float) -> None:
        self.counts[bucket_of(seconds * 1000.0)] += 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def quantile(self, q: float) -> float | None:
        """The q-quantile (0 < q <= 1) in milliseconds: the middle of the bucket holding the
        ceil(q * n)-th smallest duration; None when the sketch is empty."""
        total = self.total
        if not total:
            return None
        rank = max(1, math.ceil(q * total))
        seen = 0
        for bucket in sorted(self.counts):
            seen += self.counts[bucket]
            if seen >= rank:
                return round(bucket_middle(bucket), 3)
        raise AssertionError("unreachable: the ranks add up to the total")

    def merge(self, other: LatencySketch) -> None:
        self.counts.update(other.counts)

    def to_json(self) -> dict[str, Any]:
        return {str(bucket): count for bucket, count in sorted(self.counts.items())}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LatencySketch:
        return cls(Counter({int(bucket): int(count) for bucket, count in data.items()}))
