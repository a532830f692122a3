"""Absolute times in requests move by the run's shift: form bodies, query filters, nested
parameters and JSON, never metadata, `now` or numbers that are not times (plain data)."""

from __future__ import annotations

import json
from urllib.parse import quote

from hypothesis import given
from hypothesis import strategies as st

from harness.model import Request
from harness.replay.idmap import IdMap
from harness.replay.rewrite import TargetContext, rewrite_request
from harness.stripe import form_tree, parse_form_pairs
from harness.stripe.times import REQUEST_TIME_FIELDS

SHIFT = 1_209_600  # two weeks
T = 1_795_464_128  # 2026-11-23T20:02:08Z
TARGET = TargetContext(name="twin", run_id="run1", time_shift=SHIFT)
FORM = [("Content-Type", "application/x-www-form-urlencoded")]


def sent(request: Request, target: TargetContext = TARGET) -> tuple[Request, list[tuple]]:
    rewritten = rewrite_request(request, 0, IdMap(), target)
    return rewritten.request, rewritten.shifted


def test_a_form_body_moves_its_times_and_keeps_everything_else_byte_for_byte() -> None:
    body = (
        f"customer=cus_Abcdefgh1234&trial_end={T}&billing_cycle_anchor={T + 86_400}"
        f"&items[0][price]=price_Basic0001&metadata[signed_up_at]={T}&quantity=1700000000"
        "&cancel_at_period_end=true"
    )
    request = Request("POST", "/v1/subscriptions", headers=FORM, body=body)
    ids = IdMap({"cus_Abcdefgh1234": "cus_Target000001", "price_Basic0001": "price_Target001"})
    rewritten = rewrite_request(request, 0, ids, TARGET)
    assert rewritten.request.body == (
        f"customer=cus_Target000001&trial_end={T + SHIFT}&billing_cycle_anchor="
        f"{T + 86_400 + SHIFT}&items[0][price]=price_Target001&metadata[signed_up_at]={T}"
        "&quantity=1700000000&cancel_at_period_end=true"
    )
    assert rewritten.shifted == [
        ("body:trial_end", T, T + SHIFT, "shift"),
        ("body:billing_cycle_anchor", T + 86_400, T + 86_400 + SHIFT, "shift"),
    ]


def test_query_filters_in_either_bracket_encoding_move() -> None:
    query = f"created%5Bgte%5D={T}&created[lte]={T + 60}&limit=10&due_date={T}"
    request, shifted = sent(Request("GET", "/v1/invoices", query=query))
    assert request.query == (
        f"created%5Bgte%5D={T + SHIFT}&created[lte]={T + 60 + SHIFT}&limit=10&due_date={T + SHIFT}"
    )
    assert [where for where, _, _, _ in shifted] == [
        "query:created[gte]",
        "query:created[lte]",
        "query:due_date",
    ]


def test_nested_parameters_and_test_clocks_move_now_stays() -> None:
    body = (
        f"phases[0][start_date]={T}&phases[0][end_date]={T + 1}&trial_end=now"
        f"&invoice_items[0][period][start]={T}&invoice_items[0][period][end]={T + 2}"
        f"&start=5&frozen_time={T}"
    )
    request, shifted = sent(Request("POST", "/v1/subscription_schedules", headers=FORM, body=body))
    tree = form_tree(parse_form_pairs(str(request.body)))
    assert tree["phases"][0] == {"start_date": str(T + SHIFT), "end_date": str(T + 1 + SHIFT)}
    assert tree["trial_end"] == "now"
    period = tree["invoice_items"][0]["period"]
    assert period == {"start": str(T + SHIFT), "end": str(T + 2 + SHIFT)}
    assert tree["start"] == "5"
    assert tree["frozen_time"] == str(T + SHIFT)
    assert len(shifted) == 5


def test_a_json_body_moves_its_times() -> None:
    body = json.dumps({"trial_end": T, "metadata": {"trial_end": T}, "amount": 1_800_000_000})
    request = Request("POST", "/v2/x", headers=[("Content-Type", "application/json")], body=body)
    moved, shifted = sent(request)
    assert json.loads(str(moved.body)) == {
        "trial_end": T + SHIFT,
        "metadata": {"trial_end": T},
        "amount": 1_800_000_000,
    }
    assert shifted == [("body:trial_end", T, T + SHIFT, "shift")]


def test_without_a_shift_nothing_moves_and_extra_fields_are_honoured() -> None:
    request = Request("POST", "/v1/subscriptions", headers=FORM, body=f"trial_end={T}")
    unchanged, shifted = sent(request, TargetContext(name="t", run_id="r", time_shift=None))
    assert unchanged.body == f"trial_end={T}" and shifted == []
    custom = TargetContext(
        name="t", run_id="r", time_shift=SHIFT, time_fields=REQUEST_TIME_FIELDS | {"renews_on"}
    )
    request = Request("POST", "/v1/x", headers=FORM, body=f"metadata[a]=1&renews_on={T}")
    moved, _ = sent(request, custom)
    assert moved.body == f"metadata[a]=1&renews_on={T + SHIFT}"


def test_a_time_copied_from_an_answer_is_sent_as_the_targets_own() -> None:
    # The recording read a subscription whose period ends at T + 30 days, then asked to
    # cancel it then; the target's period ends 31 days after its own start.
    ids = IdMap({"sub_Recorded00001": "sub_Target000001"})
    recorded_answer = {"id": "sub_Recorded00001", "current_period_end": T + 30 * 86_400}
    target_answer = {"id": "sub_Target000001", "current_period_end": T + SHIFT + 31 * 86_400}
    ids.learn(recorded_answer, target_answer)
    body = f"cancel_at={T + 30 * 86_400}&trial_end={T + 3}"
    request = Request("POST", "/v1/subscriptions/sub_Recorded00001", headers=FORM, body=body)
    rewritten = rewrite_request(request, 0, ids, TARGET)
    assert rewritten.request.path == "/v1/subscriptions/sub_Target000001"
    cancel_at, trial_end = T + SHIFT + 31 * 86_400, T + 3 + SHIFT
    assert rewritten.request.body == f"cancel_at={cancel_at}&trial_end={trial_end}"
    assert [how for _, _, _, how in rewritten.shifted] == ["answer", "shift"]


# --- as a property ----------------------------------------------------------------------

names = st.sampled_from(["trial_end", "cancel_at", "created[gte]", "due_date", "frozen_time"])
others = st.sampled_from(["amount", "quantity", "metadata[at]", "description", "limit"])
times = st.integers(min_value=100_000_000, max_value=4_000_000_000)
plain = st.one_of(
    st.integers(min_value=0, max_value=9_999_999_999).map(str),
    st.text(alphabet=st.characters(codec="ascii"), max_size=10),
)


@given(
    st.lists(
        st.one_of(st.tuples(names, times.map(str)), st.tuples(others, plain)),
        max_size=8,
    ),
    st.integers(min_value=-(10**9), max_value=10**9),
)
def test_only_times_move_and_by_exactly_the_shift(pairs: list[tuple[str, str]], shift: int) -> None:
    body = "&".join(f"{quote(k, safe='[]')}={quote(v, safe='')}" for k, v in pairs)
    target = TargetContext(name="t", run_id="r", time_shift=shift)
    request, shifted = sent(Request("POST", "/v1/x", headers=FORM, body=body), target)
    out = parse_form_pairs(str(request.body))
    assert [k for k, _ in out] == [k for k, _ in pairs]
    expected_moves = []
    for (key, before), (_, after) in zip(pairs, out, strict=True):
        if key in ("trial_end", "cancel_at", "created[gte]", "due_date", "frozen_time"):
            assert int(after) == int(before) + shift
            expected_moves.append((f"body:{key}", int(before), int(before) + shift, "shift"))
        else:
            assert after == before
    assert shifted == expected_moves
