"""Times compared through each side's time map: a slow recording replayed fast, periods of
calendar months on any date, times a request set, and anchors that never vouch for each
other (plain data, dates chosen here)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.compare.diff import diff_trees
from harness.compare.normalize import normalize_tree
from harness.compare.profile import stripe_profile
from harness.compare.timemap import Moment, TimeMap
from harness.model import Request
from harness.stripe.times import add_months

PROFILE = stripe_profile(timestamp_tolerance=5)
RECORDED = datetime(2026, 11, 23, 20, 2, 8, tzinfo=UTC).timestamp()
REPLAYED = datetime(2026, 12, 7, 10, 0, 0, tzinfo=UTC).timestamp()
EP = "GET /v1/subscriptions/{subscription}"


def month_after(moment: float, months: int = 1) -> int:
    landed = add_months(moment, months)
    assert landed is not None
    return int(landed)


def subscription(sid: str, created: float, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": sid,
        "object": "subscription",
        "created": int(created),
        "start_date": int(created),
        "billing_cycle_anchor": int(created),
        "current_period_start": int(created),
        "current_period_end": month_after(created),
    }
    body.update(fields)
    return body


class Side:
    """One side of a comparison: its time map, fed answers in seq order."""

    def __init__(self, origin: float | None = None) -> None:
        self.times = TimeMap(origin)

    def answer(self, body: Any, started: float) -> Any:
        return normalize_tree(body, started, {}, PROFILE, times=self.times)


def test_a_later_read_compares_created_through_the_time_map_not_its_own_request() -> None:
    # Recorded: the subscription was created, then read 8 s later; replayed: 1 s later.
    recorded, replayed = Side(), Side()
    sub_r = subscription("sub_Recorded000001", RECORDED + 0.2)
    sub_c = subscription("sub_Replayed000001", REPLAYED + 0.1)
    assert recorded.answer(sub_r, RECORDED) == replayed.answer(sub_c, REPLAYED)
    read_r = recorded.answer(sub_r, RECORDED + 8)
    read_c = replayed.answer(sub_c, REPLAYED + 1)
    assert read_r == read_c
    # Without a time map `created` is an offset from its own request: -8 s against -1 s
    # (the other times, counted from it, agree: one cause, one difference).
    alone_r = normalize_tree(sub_r, RECORDED + 8, {}, PROFILE)
    alone_c = normalize_tree(sub_c, REPLAYED + 1, {}, PROFILE)
    assert [d.path for d in diff_trees(EP, alone_r, alone_c)] == ["$.created"]


def test_an_object_first_shown_long_after_it_was_named_is_counted_from_its_birth() -> None:
    # A subscription's first invoice is named in the create answer, read an hour later in
    # the recording and a second later in the replay.
    recorded, replayed = Side(), Side()
    recorded.answer({"id": "sub_R00000001", "latest_invoice": "in_R0000000001"}, RECORDED)
    replayed.answer({"id": "sub_C00000001", "latest_invoice": "in_C0000000001"}, REPLAYED)
    invoice_r = {"id": "in_R0000000001", "object": "invoice", "created": int(RECORDED)}
    invoice_c = {"id": "in_C0000000001", "object": "invoice", "created": int(REPLAYED)}
    assert recorded.answer(invoice_r, RECORDED + 3_600) == replayed.answer(invoice_c, REPLAYED + 1)


def test_a_month_is_a_month_on_any_date() -> None:
    # Nov 23 → Dec 23 is 30 days; Dec 7 → Jan 7 is 31: the failure of the migrated account.
    recorded, replayed = Side(), Side()
    assert recorded.answer(subscription("sub_R0000001", RECORDED), RECORDED) == (
        replayed.answer(subscription("sub_C0000001", REPLAYED), REPLAYED)
    )
    invoice = {"object": "invoice", "created": int(RECORDED), "period_end": month_after(RECORDED)}
    other = {"object": "invoice", "created": int(REPLAYED), "period_end": month_after(REPLAYED)}
    assert recorded.answer(invoice, RECORDED) == replayed.answer(other, REPLAYED)


def test_the_31st_bills_on_the_last_day_of_each_short_month_from_its_anchor() -> None:
    # An anchor on Jan 31 bills Feb 28, Mar 31, Apr 30; one on Apr 30 bills May 30, Jun 30,
    # Jul 30. The third period, read from its own start, is a month and a day against a
    # month: only the billing cycle anchor tells them alike.
    jan31 = datetime(2027, 1, 31, 12, tzinfo=UTC).timestamp()
    apr30 = datetime(2027, 4, 30, 12, tzinfo=UTC).timestamp()
    recorded, replayed = Side(), Side()
    for months in range(0, 14):
        one = subscription(
            "sub_R0000001",
            jan31,
            current_period_start=month_after(jan31, months),
            current_period_end=month_after(jan31, months + 1),
        )
        other = subscription(
            "sub_C0000001",
            apr30,
            current_period_start=month_after(apr30, months),
            current_period_end=month_after(apr30, months + 1),
        )
        when_r, when_c = month_after(jan31, months), month_after(apr30, months)
        assert recorded.answer(one, when_r) == replayed.answer(other, when_c), months


def test_a_time_the_request_set_is_counted_from_the_run_origin() -> None:
    # trial_end=<recorded start + 14 days + 3 h> was sent 3 h into a slow recording; the
    # replay moved it by the shift and sent it a second into the replay.
    shift = 1_000_000
    recorded, replayed = Side(origin=RECORDED), Side(origin=RECORDED + shift)
    trial_end = int(RECORDED + 14 * 86_400 + 3 * 3_600)
    one = {"id": "sub_R0000001", "trial_end": trial_end}
    other = {"id": "sub_C0000001", "trial_end": trial_end + shift}
    # Only a time a request sent is counted from the origin.
    assert recorded.answer(one, RECORDED + 3 * 3_600) != replayed.answer(
        other, RECORDED + shift + 1
    )
    recorded.times.note_request(
        Request("POST", "/v1/subscriptions", body=f"trial_end={trial_end}"), 1
    )
    replayed.times.note_request(
        Request("POST", "/v1/subscriptions", body=f"trial_end={trial_end + shift}"), 1
    )
    assert recorded.answer(one, RECORDED + 3 * 3_600) == replayed.answer(
        other, RECORDED + shift + 1
    )
    assert Side().answer(one, RECORDED + 3 * 3_600) != Side().answer(other, RECORDED + shift + 1)


def test_two_times_of_one_object_never_vouch_for_each_other() -> None:
    # Both period bounds a day late: the end, counted from the start, would agree, and the
    # start, counted from the end, would too; but a start is never counted from an end.
    recorded, replayed = Side(), Side()
    one = subscription("sub_R0000001", RECORDED)
    late = subscription(
        "sub_C0000001",
        REPLAYED,
        current_period_start=int(REPLAYED) + 86_400,
        current_period_end=month_after(REPLAYED + 86_400),
    )
    found = diff_trees(EP, recorded.answer(one, RECORDED), replayed.answer(late, REPLAYED))
    paths = [d.path for d in found]
    assert "$.current_period_start" in paths


def test_a_moment_reads_as_its_distance_from_the_request() -> None:
    assert str(Moment(RECORDED - 8, (RECORDED, RECORDED))) == "<request-8s>"
    assert str(Moment(RECORDED + 30 * 86_400, (RECORDED, RECORDED + 2))) == "<request+30d>"


def test_an_object_made_while_a_slow_request_was_served_was_made_now() -> None:
    # Recorded under load: the customer was made 9 s into a request that took 10 s; the
    # replay answered in 0.1 s. Both made it "now", then and on every later read.
    recorded, replayed = Side(), Side()
    one = {"id": "cus_R0000001", "object": "customer", "created": int(RECORDED + 9)}
    other = {"id": "cus_C0000001", "object": "customer", "created": int(REPLAYED)}
    slow = normalize_tree(one, RECORDED, {}, PROFILE, times=recorded.times, finished=RECORDED + 10)
    fast = normalize_tree(
        other, REPLAYED, {}, PROFILE, times=replayed.times, finished=REPLAYED + 0.1
    )
    assert slow == fast
    assert recorded.answer(one, RECORDED + 60) == replayed.answer(other, REPLAYED + 1)
    # Made half a minute after its request had ended is not "now".
    late = {"id": "cus_C0000001", "object": "customer", "created": int(REPLAYED + 30)}
    assert slow != normalize_tree(late, REPLAYED, {}, PROFILE, finished=REPLAYED + 0.1)


# --- a slow recording replayed fast, as a property ---------------------------------------

gaps = st.lists(st.integers(min_value=0, max_value=3 * 86_400), min_size=6, max_size=6)
fast_gaps = st.lists(st.integers(min_value=0, max_value=3), min_size=6, max_size=6)
dates = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC).timestamp()
)


def journey(start: float, gaps: list[int], prefix: str) -> list[tuple[float, dict[str, Any]]]:
    """A customer subscribes, pays its first invoice, then the subscription and invoice are
    read back: (request start, answer) per exchange, `gaps` seconds apart."""
    moments = [start]
    for gap in gaps[1:]:
        moments.append(moments[-1] + gap)
    created = moments[1] + 0.4
    sub = subscription(f"sub_{prefix}0000001", created, latest_invoice=f"in_{prefix}00000001")
    invoice = {
        "id": f"in_{prefix}00000001",
        "object": "invoice",
        "created": int(created),
        "period_start": int(created),
        "period_end": month_after(created),
        "status_transitions": {"paid_at": None},
        "lines": {"data": [{"period": {"start": int(created), "end": month_after(created)}}]},
    }
    paid = dict(invoice, status_transitions={"paid_at": int(moments[3] + 0.3)})
    return [
        (moments[0], {"id": f"cus_{prefix}0000001", "created": int(moments[0])}),
        (moments[1], sub),
        (moments[2], invoice),
        (moments[3], paid),
        (moments[4], sub),
        (moments[5], paid),
    ]


@settings(max_examples=200, deadline=None)
@given(dates, dates, gaps, fast_gaps, st.booleans())
def test_a_slow_recording_replayed_fast_on_another_date_shows_no_difference(
    recorded_at: float, replayed_at: float, slow: list[int], fast: list[int], reverse: bool
) -> None:
    if reverse:  # a fast recording replayed slowly (a rate-limited target)
        slow, fast = fast, slow
    recorded, replayed = Side(recorded_at), Side(replayed_at)
    for (started_r, one), (started_c, other) in zip(
        journey(recorded_at, slow, "R"), journey(replayed_at, fast, "C"), strict=True
    ):
        assert recorded.answer(one, started_r) == replayed.answer(other, started_c)


@settings(max_examples=100, deadline=None)
# Months are 28 to 31 days long: a period three days longer can be a month on another date
# (31 days against 28), so a change of up to three days is a change only where the two
# readings disagree. Four days or more is never a month.
@given(dates, dates, gaps, fast_gaps, st.integers(2, 5), st.integers(4, 20))
def test_a_period_that_really_changed_is_still_a_difference(
    recorded_at: float, replayed_at: float, slow: list[int], fast: list[int], at: int, days: int
) -> None:
    recorded, replayed = Side(recorded_at), Side(replayed_at)
    found = []
    for index, ((started_r, one), (started_c, other)) in enumerate(
        zip(journey(recorded_at, slow, "R"), journey(replayed_at, fast, "C"), strict=True)
    ):
        if index == at and "period_end" in other:
            other = dict(other, period_end=other["period_end"] + days * 86_400)
        elif index == at and "current_period_end" in other:
            other = dict(other, current_period_end=other["current_period_end"] + days * 86_400)
        found.extend(
            diff_trees(EP, recorded.answer(one, started_r), replayed.answer(other, started_c))
        )
    assert [d.path for d in found] in (["$.period_end"], ["$.current_period_end"])
