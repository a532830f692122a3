"""Stripe's time rules: calendar months from an anchor, which fields anchor which, and
which request parameters hold an absolute time (pure functions and tables); and times
written as text, an answer's HTTP `Date` or a cassette's ISO 8601 time, read as Unix time.

Stripe bills in calendar months from an anchor day, in UTC: an anchor on Jan 31 bills
on Feb 28 (29 in a leap year), then Mar 31, then Apr 30 — each date is counted from the
anchor, never from the previous period, and the day comes back after a short month. A
period that is "one month" long is therefore 28 to 31 days long depending on when it
starts, so two answers given on different dates are compared in calendar months, not in
seconds.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# Unix times before this are durations or counts that happen to sit in a time-named field
# (a usage record's `start` can be 0), not times.
EARLIEST_TIME = 100_000_000  # 1973-03-03
# The last second a calendar can name (9999-12-31T23:59:59Z); beyond it nothing is a time.
LATEST_TIME = 253_402_300_799

_DAY = 86_400.0
# The shortest calendar month: a distance shorter than this holds no whole month.
SHORTEST_MONTH = 28 * _DAY


def _utc(moment: float) -> datetime:
    return datetime.fromtimestamp(math.floor(moment), UTC)


def is_calendar_time(moment: float) -> bool:
    """A number the calendar can place (between 1973 and the year 9999)."""
    return EARLIEST_TIME <= moment <= LATEST_TIME


def add_months(moment: float, months: int) -> float | None:
    """The same day and time of day `months` later (earlier when negative), in UTC, with
    the day clamped to the length of the month it lands in (Jan 31 + 1 → Feb 28 or 29).
    None when the result falls outside the calendar."""
    whole = math.floor(moment)
    when = _utc(whole)
    index = when.year * 12 + (when.month - 1) + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        return None
    day = min(when.day, calendar.monthrange(year, month + 1)[1])
    landed = when.replace(year=year, month=month + 1, day=day).timestamp()
    return landed + (moment - whole) if landed <= LATEST_TIME else None


def calendar_distance(anchor: float, moment: float) -> tuple[int, float] | None:
    """(months, seconds): the most whole calendar months from `anchor` that do not pass
    `moment`, and the seconds left over (0 <= seconds < the next month's length). Negative
    months when `moment` is before `anchor`. None outside the calendar."""
    if not (is_calendar_time(anchor) and is_calendar_time(moment)):
        return None
    start, end = _utc(anchor), _utc(moment)
    months = (end.year - start.year) * 12 + (end.month - start.month)
    # The months between the two calendar months, or one fewer when the moment's day and
    # time of day come before the anchor's.
    for guess in (months, months - 1):
        landed = add_months(anchor, guess)
        if landed is not None and landed <= moment:
            return guess, moment - landed
    return None


def same_calendar_distance(
    anchor: float, moment: float, other_anchor: float, other_moment: float, tolerance: float
) -> bool:
    """True when `moment` lies as many calendar months and seconds after `anchor` as
    `other_moment` after `other_anchor`, within `tolerance` seconds.

    Measured from either side, so it is symmetric: a period of one month that is 30 days
    long on one side and 31 on the other is the same period.
    """
    if abs((moment - anchor) - (other_moment - other_anchor)) <= tolerance:
        return True
    if abs(moment - anchor) < SHORTEST_MONTH and abs(other_moment - other_anchor) < SHORTEST_MONTH:
        return False  # neither holds a whole month: seconds said it all
    for start, end, other_start, other_end in (
        (anchor, moment, other_anchor, other_moment),
        (other_anchor, other_moment, anchor, moment),
    ):
        distance = calendar_distance(start, end)
        if distance is None:
            continue
        months, _ = distance
        # From the month boundary before the moment and, when the moment is less than a
        # day short of it, from the one after it: a time a second short of a month (an
        # object created within its request's first second, its period counted from then)
        # is a month less a second.
        for whole in (months, months + 1):
            boundary, other_boundary = add_months(start, whole), add_months(other_start, whole)
            if boundary is None or other_boundary is None:
                continue
            if whole > months and boundary - end > _DAY:
                continue
            if abs((end - boundary) - (other_end - other_boundary)) <= tolerance:
                return True
    return False


def describe_distance(seconds: float) -> str:
    """`+30d`, `-8s`, `+1d2h`: a distance in seconds for a reader, to the second."""
    sign = "-" if seconds < 0 else "+"
    left = round(abs(seconds))
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        count, left = divmod(left, size)
        if count:
            parts.append(f"{count}{unit}")
    if left or not parts:
        parts.append(f"{left}s")
    return sign + "".join(parts)


# --- which field anchors which ----------------------------------------------------------

# The times a later time of the same object is counted from, by how fundamental each is:
# a field is measured only from fields of a lower rank (in its own object or one that
# encloses it), so two fields can never vouch for each other. A period's end is counted
# from its start, a subscription's periods from its billing cycle anchor, everything from
# the object's creation.
ANCHOR_RANKS: dict[str, int] = {
    "created": 0,
    "date": 0,  # an invoice's creation before 2019-03-14
    "start_date": 1,
    "billing_cycle_anchor": 1,
    "trial_start": 2,
    "trial_end": 2,  # a subscription's first paid period starts when its trial ends
    "current_period_start": 2,
    "period_start": 2,
    "start": 2,  # period.start, discount.start
}
# Every other time field: measured from any anchor above.
UNRANKED = 3


def anchor_rank(field: str) -> int:
    return ANCHOR_RANKS.get(field, UNRANKED)


# --- absolute times in requests ---------------------------------------------------------

# Request parameters that hold an absolute Unix time. Replayed later, such a time would be
# in the past (refused: `trial_end must be in the future`) or mean something else (a list
# filtered on `created[lte]=<then>`), so the replay moves them (docs/replay.md). A name
# with a dot names a parameter inside another (`period[start]`); any other name matches
# the parameter wherever it sits (`phases[0][end_date]`), and `[gt]`, `[gte]`, `[lt]`,
# `[lte]` after it are range filters on it.
REQUEST_TIME_FIELDS = frozenset(
    {
        "arrival_date",
        "automatically_finalizes_at",
        "available_on",
        "backdate_start_date",
        "billing_cycle_anchor",
        "cancel_at",
        "created",
        "current_period_end",
        "date",
        "due_date",
        "effective_at",
        "end_date",
        "ends_at",
        "expires_at",
        "frozen_time",
        "period.end",
        "period.start",
        "period_end",
        "period_start",
        "proration_date",
        "redeem_by",
        "resumes_at",
        "start_date",
        "starts_at",
        "subscription_billing_cycle_anchor",
        "subscription_cancel_at",
        "subscription_proration_date",
        "subscription_start_date",
        "subscription_trial_end",
        "timestamp",
        "trial_end",
    }
)
RANGE_FILTERS = frozenset({"gt", "gte", "lt", "lte"})
# Parameters whose values are the customer's own data, never moved: metadata is stored
# and echoed back as it was sent.
VERBATIM_PARAMETERS = frozenset({"metadata"})


def time_parameter(path: Iterable[str], fields: frozenset[str] = REQUEST_TIME_FIELDS) -> bool:
    """True when a request parameter (its path: `["items", "0", "period", "start"]`,
    `["created", "gte"]`) holds an absolute time by `fields`."""
    names = [part for part in path if part and not part.isdigit()]
    if not names or any(name in VERBATIM_PARAMETERS for name in names):
        return False
    if len(names) > 1 and names[-1] in RANGE_FILTERS:
        names.pop()
    last = names[-1]
    if last in fields:
        return True
    return len(names) > 1 and f"{names[-2]}.{last}" in fields


def shiftable_time(value: str) -> int | None:
    """The Unix time a request value holds, when it is one (digits only, a date between
    1973 and 2286); `now` and anything else stay as they are."""
    if not (value.isascii() and value.isdigit()) or len(value) > 10:
        return None
    number = int(value)
    return number if EARLIEST_TIME <= number < 10_000_000_000 else None


# --- times written as text: an HTTP `Date`, an ISO 8601 time ---------------------------


def http_date(value: str | None) -> float | None:
    """An HTTP date or a Ruby VCR `recorded_at` (`Sat, 10 Aug 2024 16:21:56 GMT`) as Unix
    time; None when it is not one."""
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return iso_time(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _timestamp(moment)


def iso_time(value: str | None) -> float | None:
    """An ISO 8601 time (HAR's `startedDateTime`: `2023-12-13T14:32:05.123Z`) as Unix time."""
    if not value or not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _timestamp(moment)


def _timestamp(moment: datetime) -> float | None:
    """Unix time, or None for a moment a recording cannot hold: one before 1970."""
    try:
        stamp = moment.timestamp()
    except (OverflowError, OSError, ValueError):
        return None
    return stamp if stamp >= 0 else None
