"""Stripe's calendar: months counted from an anchor with the month-end rule, and the
request parameters that hold absolute times (pure functions, dates chosen here)."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from harness.stripe.times import (
    SHORTEST_MONTH,
    add_months,
    calendar_distance,
    describe_distance,
    same_calendar_distance,
    shiftable_time,
    time_parameter,
)


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def day(moment: float | None) -> str:
    assert moment is not None
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S")


# Any second from 1990 to 2100: month ends, leap days and year ends all fall in it.
instants = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 12, 31, 23, 59, 59)
).map(lambda d: float(int(d.replace(tzinfo=UTC).timestamp())))
month_counts = st.integers(min_value=0, max_value=48)
# Less than the shortest month: a remainder no calendar can read as a month.
remainders = st.integers(min_value=0, max_value=int(SHORTEST_MONTH) - 1)


# --- the month-end rule -----------------------------------------------------------------


def test_an_anchor_on_the_31st_bills_on_the_last_day_of_short_months_and_comes_back() -> None:
    anchor = at("2027-01-31T09:30:00")
    assert [day(add_months(anchor, m)) for m in range(1, 5)] == [
        "2027-02-28T09:30:00",
        "2027-03-31T09:30:00",
        "2027-04-30T09:30:00",
        "2027-05-31T09:30:00",
    ]
    assert day(add_months(at("2028-01-31T00:00:00"), 1)) == "2028-02-29T00:00:00"  # leap year
    assert day(add_months(at("2028-02-29T12:00:00"), 12)) == "2029-02-28T12:00:00"
    assert day(add_months(at("2027-12-31T23:59:59"), 2)) == "2028-02-29T23:59:59"
    assert day(add_months(at("2027-03-31T00:00:00"), -1)) == "2027-02-28T00:00:00"


@given(instants, st.integers(min_value=-60, max_value=60))
def test_months_keep_the_time_of_day_and_the_day_unless_the_month_is_shorter(
    anchor: float, months: int
) -> None:
    landed = add_months(anchor, months)
    assert landed is not None
    start, end = datetime.fromtimestamp(anchor, UTC), datetime.fromtimestamp(landed, UTC)
    assert end.time() == start.time()
    assert (end.year * 12 + end.month) - (start.year * 12 + start.month) == months
    assert end.day == min(start.day, calendar.monthrange(end.year, end.month)[1])


@given(instants, month_counts, remainders)
def test_the_distance_of_months_and_seconds_is_read_back(
    anchor: float, months: int, seconds: int
) -> None:
    landed = add_months(anchor, months)
    assert landed is not None
    distance = calendar_distance(anchor, landed + seconds)
    assert distance is not None
    found_months, found_seconds = distance
    # A remainder past the next month boundary reads as one more month: never fewer.
    assert found_months >= months
    assert add_months(anchor, found_months) + found_seconds == landed + seconds  # type: ignore[operator]
    assert found_seconds >= 0


# --- comparing distances ----------------------------------------------------------------


@given(instants, instants, month_counts, remainders)
def test_the_same_months_and_seconds_from_two_anchors_compare_equal(
    one: float, other: float, months: int, seconds: int
) -> None:
    first, second = add_months(one, months), add_months(other, months)
    assert first is not None and second is not None
    assert same_calendar_distance(one, first + seconds, other, second + seconds, 0)
    assert same_calendar_distance(other, second + seconds, one, first + seconds, 0)


@given(instants, instants, month_counts, month_counts, st.integers(0, 27 * 86_400))
def test_other_month_counts_differ(
    one: float, other: float, months: int, other_months: int, seconds: int
) -> None:
    first, second = add_months(one, months), add_months(other, other_months)
    assert first is not None and second is not None
    equal = same_calendar_distance(one, first + seconds, other, second + seconds, 5)
    assert equal == (months == other_months)


@given(instants, instants, month_counts, remainders, st.integers(1, 20 * 86_400))
def test_a_distance_off_by_more_than_the_tolerance_differs(
    one: float, other: float, months: int, seconds: int, off: int
) -> None:
    first, second = add_months(one, months), add_months(other, months)
    assert first is not None and second is not None
    assert not same_calendar_distance(one, first + seconds, other, second + seconds + off + 5, 5)


def test_a_month_that_is_30_days_on_one_date_and_31_on_another_is_one_month() -> None:
    # The migrated account: recorded on Nov 23 (30 days to Dec 23), replayed on Dec 7
    # (31 days to Jan 7).
    recorded, replayed = at("2026-11-23T20:02:08"), at("2026-12-07T10:00:00")
    assert same_calendar_distance(
        recorded, recorded + 30 * 86_400, replayed, replayed + 31 * 86_400, 5
    )
    assert not same_calendar_distance(
        recorded, recorded + 30 * 86_400, replayed, replayed + 33 * 86_400, 5
    )
    # Seconds still count when neither side holds a month: a 14-day trial is 14 days.
    fortnight = 14 * 86_400
    assert same_calendar_distance(recorded, recorded + fortnight, replayed, replayed + fortnight, 0)


def test_month_end_anchors_on_every_pair_of_the_chosen_dates() -> None:
    dates = ["2027-01-31", "2028-02-28", "2028-02-29", "2027-04-30", "2027-12-31", "2028-12-31"]
    for one in dates:
        for other in dates:
            a, b = at(f"{one}T12:00:00"), at(f"{other}T08:15:00")
            for months in (1, 2, 3, 12, 13):
                pa, pb = add_months(a, months), add_months(b, months)
                assert pa is not None and pb is not None
                assert same_calendar_distance(a, pa, b, pb, 0), (one, other, months)
                # Five days more than a month is never a month long, whichever month.
                late = pa + 5 * 86_400
                assert not same_calendar_distance(a, late, b, pb, 5), (one, other, months)


def test_distances_read_in_days_hours_minutes_and_seconds() -> None:
    assert describe_distance(-8.2) == "-8s"
    assert describe_distance(0) == "+0s"
    assert describe_distance(30 * 86_400) == "+30d"
    assert describe_distance(86_400 + 2 * 3_600 + 5) == "+1d2h5s"
    assert describe_distance(timedelta(minutes=3).total_seconds()) == "+3m"


# --- absolute times in requests ---------------------------------------------------------


def test_time_parameters_are_known_by_name_filter_and_parent() -> None:
    assert time_parameter(["trial_end"])
    assert time_parameter(["created", "gte"])
    assert time_parameter(["items", "0", "period", "start"])
    assert time_parameter(["phases", "1", "end_date"])
    assert time_parameter(["subscription_details", "proration_date"])
    assert not time_parameter(["start"])  # only a period's start is a time
    assert not time_parameter(["amount"])
    assert not time_parameter(["metadata", "trial_end"])  # the customer's own data
    assert not time_parameter(["gte"])
    assert time_parameter(["renews_on"], frozenset({"renews_on"}))


@given(st.text(max_size=12))
def test_only_plain_unix_times_are_moved(value: str) -> None:
    found = shiftable_time(value)
    if found is not None:
        assert (value.isascii() and value.isdigit() and str(found) == value.lstrip("0")) or value
        assert 100_000_000 <= found < 10_000_000_000


def test_now_amounts_and_dates_of_birth_stay() -> None:
    assert shiftable_time("1795464128") == 1795464128
    assert shiftable_time("now") is None
    assert shiftable_time("1999") is None
    assert shiftable_time("\uff11\uff17\uff19\uff15\uff14\uff16\uff14\uff11\uff12\uff18") is None
    assert shiftable_time("-1795464128") is None


def test_a_month_less_a_second_is_the_same_on_any_date() -> None:
    # An object created in its request's first second, its period counted from then:
    # the period's end is a month less a fraction after the request on both sides.
    recorded, replayed = at("2026-11-23T20:02:08") + 0.7, at("2026-12-07T10:00:00") + 0.4
    end_r = add_months(at("2026-11-23T20:02:08"), 1)
    end_c = add_months(at("2026-12-07T10:00:00"), 1)
    assert end_r is not None and end_c is not None
    assert same_calendar_distance(recorded, end_r, replayed, end_c, 5)
    assert not same_calendar_distance(recorded, end_r, replayed, end_c + 86_400, 5)
