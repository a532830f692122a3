"""The replay engine against a server of our own that drops connections, fails, rate-limits
and hangs: retries, timeouts, keys, idempotency, and that no result is lost or duplicated."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from click.testing import CliRunner
from replayfixtures import exchange, fault_server, recording, server_stats

from harness.cli import main
from harness.errors import LiveModeRefused
from harness.formats.results import iter_results
from harness.formats.rundir import Run, load_run
from harness.model import Exchange, Request
from harness.replay.engine import Sender, SendOutcome, client_session
from harness.replay.launch.process import free_port
from harness.replay.progress import Occupancy, PlainProgressView, TargetCounters
from harness.replay.ratelimit import TokenBucket
from harness.replay.retry import backoff, next_delay, retry_after, should_retry
from harness.replay.session import ReplayResult, start_replay
from harness.scenario import RetrySettings, load_scenario


@pytest.fixture
def faults(tmp_path: Path) -> Iterator[str]:
    """The fault server (tests/faultserver.py) in a process of its own."""
    with fault_server(tmp_path / "faults.log") as server:
        yield server.url


FAST_RETRY = "{attempts: 4, backoff: 0.01, max_backoff: 0.05, budget: 20}"


def scenario_file(
    tmp_path: Path,
    url: str,
    extra: str = "",
    target: str = "",
    retry: str = FAST_RETRY,
    name: str = "faults.yaml",
) -> Path:
    path = tmp_path / name
    path.write_text(
        "name: faults\n"
        "recording: r.jsonl\n"
        "timeout: 0.5\n"
        f"retry: {retry}\n"
        f"{extra}"
        f"targets: [{{name: faulty, url: '{url}'{target}}}]\n"
    )
    return path


def replay(
    tmp_path: Path,
    url: str,
    exchanges: list[Exchange],
    extra: str = "",
    target: str = "",
    **options: Any,
) -> tuple[ReplayResult, Run]:
    recording(tmp_path / "r.jsonl", exchanges)
    scenario = load_scenario(scenario_file(tmp_path, url, extra, target))
    result = start_replay(scenario, out=tmp_path / "run", **options)
    return result, load_run(tmp_path / "run")


def test_retries_recover_from_drops_errors_rate_limits_and_hangs(
    tmp_path: Path, faults: str
) -> None:
    exchanges = [
        exchange(0, "POST", "/v1/ok/a"),
        exchange(1, "POST", "/v1/drop/b", query="times=2"),
        exchange(2, "POST", "/v1/flaky/c", query="times=3"),
        exchange(3, "GET", "/v1/limited/d", query="times=1&after=0.3"),
        exchange(4, "GET", "/v1/hang/e", query="times=1&hang=5"),
        exchange(5, "POST", "/v1/nudge/f"),
    ]
    result, run = replay(tmp_path, faults, exchanges)
    replayed = run.exchanges("faulty")
    assert {seq: (e.response.status if e.response else e.error) for seq, e in replayed.items()} == {
        i: 200 for i in range(6)
    }
    assert {seq: e.extra["attempts"] for seq, e in replayed.items()} == {
        0: 1,
        1: 3,
        2: 4,
        3: 2,
        4: 2,
        5: 2,
    }
    stats = server_stats(faults)
    # The server saw exactly the attempts each result reports: none hidden, none lost.
    for seq, item in replayed.items():
        assert len(stats[exchanges[seq].request.path]) == item.extra["attempts"]
    assert result.counters[0].retries == 8 and result.counters[0].errors == 0


def test_gives_up_within_its_bounds_and_records_why(tmp_path: Path, faults: str) -> None:
    exchanges = [
        exchange(0, "POST", "/v1/drop/a", query="times=99"),
        exchange(1, "GET", "/v1/flaky/b", query="times=99"),
        exchange(2, "GET", "/v1/hang/c", query="times=99&hang=5"),
        exchange(3, "POST", "/v1/stop/d"),
    ]
    result, run = replay(tmp_path, faults, exchanges)
    replayed = run.exchanges("faulty")
    assert replayed[0].response is None and replayed[0].error is not None
    assert replayed[0].error.startswith("connection error: ServerDisconnectedError")
    assert replayed[1].response is not None and replayed[1].response.status == 500
    assert replayed[2].error == "timeout: no answer within 0.5 s"
    assert replayed[3].response is not None and replayed[3].response.status == 503
    assert [replayed[i].extra["attempts"] for i in range(4)] == [4, 4, 4, 1]  # Should-Retry: false
    stats = server_stats(faults)
    assert [len(stats[e.request.path]) for e in exchanges] == [4, 4, 4, 1]
    assert result.counters[0].errors == 4 and result.counters[0].answered == 2


def test_the_retry_budget_bounds_the_time_spent_on_one_exchange(
    tmp_path: Path, faults: str
) -> None:
    exchanges = [exchange(0, "GET", "/v1/limited/a", query="times=99&after=30")]
    _, run = replay(tmp_path, faults, exchanges)
    # Retry-After: 30 is beyond the 20 s budget: the engine stops instead of waiting.
    item = run.exchanges("faulty")[0]
    assert item.response is not None and item.response.status == 429
    assert item.extra["attempts"] == 1


def test_no_result_is_lost_or_duplicated_under_concurrency(tmp_path: Path, faults: str) -> None:
    behaviours = ["ok", "drop", "flaky", "limited", "nudge", "replayed"]
    exchanges = [
        exchange(
            i, "POST", f"/v1/{behaviours[i % len(behaviours)]}/n{i}", query="times=1&after=0.05"
        )
        for i in range(120)
    ]
    result, run = replay(tmp_path, faults, exchanges, concurrency=16)
    lines = list(iter_results(run.target_file("faulty")))
    assert sorted(line.seq for line in lines) == list(range(120))  # each seq exactly once
    assert all(line.response is not None and line.response.status == 200 for line in lines)
    stats = server_stats(faults)
    assert sum(len(stats[e.request.path]) for e in exchanges) == sum(
        line.extra["attempts"] for line in lines
    )
    assert result.counters[0].idempotent_replayed == 20
    assert sum(1 for line in lines if line.extra["idempotent_replayed"]) == 20
    assert (
        json.loads(Path(run.path / "run.json").read_text())["results"]["faulty"]["exchanges"] == 120
    )


def test_keys_and_idempotency_keys_as_sent(
    tmp_path: Path, faults: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAULTY_KEY", "sk_test_faultykey0001")
    recorded_auth = [("Authorization", "Bearer sk_test_<redacted:1a2b3c4d>")]
    exchanges = [
        exchange(
            0,
            "POST",
            "/v1/flaky/a",
            query="times=2",
            headers=[("Idempotency-Key", "customer-retry")],
        ),
        exchange(
            1, "POST", "/v1/ok/b", headers=[("Idempotency-Key", "customer-retry"), *recorded_auth]
        ),
        exchange(2, "POST", "/v1/ok/c"),
    ]
    _, run = replay(tmp_path, faults, exchanges, target=", api_key_env: FAULTY_KEY")
    stats = server_stats(faults)
    sent_a = [attempt["headers"] for attempt in stats["/v1/flaky/a"]]
    sent_b = stats["/v1/ok/b"][0]["headers"]
    sent_c = stats["/v1/ok/c"][0]["headers"]
    assert {h["authorization"] for h in [*sent_a, sent_b, sent_c]} == {
        "Bearer sk_test_faultykey0001"
    }
    keys_a = {h["idempotency-key"] for h in sent_a}
    assert len(keys_a) == 1  # every retry carries the same key...
    assert keys_a == {sent_b["idempotency-key"]}  # ...and so does the client's own retry
    assert "customer-retry" not in keys_a  # namespaced per run and target
    assert sent_c["idempotency-key"] not in keys_a  # a POST recorded without one gets its own
    written = (run.path / "faulty.jsonl").read_text()
    assert "sk_test_faultykey0001" not in written  # the key never reaches disk


def test_a_recorded_expect_100_continue_is_not_sent(tmp_path: Path, faults: str) -> None:
    """curl asks `Expect: 100-continue` before a large body. Sent again, the HTTP client
    would hold the body until the target says 100 Continue, which this one (as a target
    may) never says: every attempt would time out."""
    body = "description=" + "x" * 2048
    exchanges = [
        exchange(0, "POST", "/v1/ok/expect", form=body, headers=[("Expect", "100-continue")])
    ]
    _, run = replay(tmp_path, faults, exchanges)
    replayed = run.exchanges("faulty")[0]
    assert replayed.response is not None and replayed.response.status == 200, replayed.error
    (attempt,) = server_stats(faults)["/v1/ok/expect"]
    assert "expect" not in attempt["headers"] and attempt["body"] == body


def test_ids_with_no_counterpart_are_skipped_or_sent_as_the_scenario_says(
    tmp_path: Path, faults: str
) -> None:
    exchanges = [exchange(0, "POST", "/v1/ok/a", form="customer=cus_NEVERSEEN01")]
    _, run = replay(tmp_path, faults, exchanges)
    skipped = run.exchanges("faulty")[0]
    assert skipped.extra["skipped"] is True and skipped.extra["unresolved"] == ["cus_NEVERSEEN01"]
    assert (
        skipped.error
        == "skipped: refers to ids this target has no counterpart for: cus_NEVERSEEN01"
    )
    assert "/v1/ok/a" not in server_stats(faults)

    sending = tmp_path / "send"
    sending.mkdir()
    _, run = replay(sending, faults, exchanges, extra="on_unresolved: send\n")
    sent = run.exchanges("faulty")[0]
    assert sent.extra["skipped"] is False and sent.extra["unresolved"] == ["cus_NEVERSEEN01"]
    assert server_stats(faults)["/v1/ok/a"][0]["body"] == "customer=cus_NEVERSEEN01"


def test_a_redacted_secret_with_no_value_is_reported_and_never_sent_even_with_send(
    tmp_path: Path, faults: str
) -> None:
    exchanges = [
        exchange(0, "POST", "/v1/ok/token", form="key=pk_test_<redacted:1a2b3c4d>"),
        exchange(1, "POST", "/v1/ok/iban", form="sepa_debit[iban]=<redacted:iban:DE:3000>"),
    ]
    _, run = replay(tmp_path, faults, exchanges, extra="on_unresolved: send\n")
    token, iban = run.exchanges("faulty")[0], run.exchanges("faulty")[1]
    assert token.extra["skipped"] is True
    assert token.extra["redacted"] == ["body: <redacted:1a2b3c4d>"]
    assert token.error == (
        "skipped: holds redacted secrets with no value to send: body: <redacted:1a2b3c4d>"
    )
    assert "/v1/ok/token" not in server_stats(faults)
    # A test IBAN is sent in place of the marker, and redacted again in the result file.
    sent = server_stats(faults)["/v1/ok/iban"][0]["body"]
    assert sent == "sepa_debit[iban]=DE89370400440532013000"
    assert iban.extra["skipped"] is False
    assert "DE89370400440532013000" not in (run.path / "faulty.jsonl").read_text()


def test_a_rate_limit_spaces_requests_out(tmp_path: Path, faults: str) -> None:
    exchanges = [exchange(i, "GET", f"/v1/ok/r{i}") for i in range(11)]
    # The fault server stamps arrivals with the machine's monotonic clock, as here.
    started = time.monotonic()
    replay(tmp_path, faults, exchanges, target=", rate_limit: 20", concurrency=11)
    last_arrival = max(server_stats(faults)[e.request.path][0]["at"] for e in exchanges)
    # 20 per second: the eleventh request cannot leave before ten spacings of 50 ms, however
    # many could be in flight at once. Measured from before the replay, not from the first
    # arrival, whose connection set-up may delay it: a lower bound a slow machine only
    # lengthens (the margin covers the event loop's clock resolution).
    assert last_arrival - started >= 0.45


def test_live_keys_are_refused_unless_both_scenario_and_command_line_allow_them(
    tmp_path: Path, faults: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIVE_KEY", "sk_live_notarealkey0001")
    recording(
        tmp_path / "r.jsonl",
        [exchange(0, "POST", "/v1/ok/a", form="card[number]=<redacted:card:4242>")],
    )
    only_scenario = scenario_file(tmp_path, faults, "allow_live: true\n", ", api_key_env: LIVE_KEY")
    with pytest.raises(LiveModeRefused, match="--allow-live on the command line"):
        start_replay(load_scenario(only_scenario), out=tmp_path / "run")
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "replay",
            str(scenario_file(tmp_path, faults, "", ", api_key_env: LIVE_KEY", name="plain.yaml")),
            "--out",
            str(tmp_path / "run"),
            "--allow-live",
        ],
    )
    assert result.exit_code == 2
    assert result.output.startswith(
        "shadow: error: target faulty: LIVE_KEY holds a live-mode key (sk_live_…)"
    )
    assert "allow_live: true in" in result.output and not (tmp_path / "run").exists()
    assert server_stats(faults) == {}

    both = runner.invoke(
        main,
        [
            "replay",
            str(only_scenario),
            "--out",
            str(tmp_path / "run"),
            "--allow-live",
            "--no-progress",
        ],
    )
    assert both.exit_code == 0, both.output
    # A live target is sent neither a substitute test card nor the marker: the request is
    # skipped, and its result says which secret it lacks.
    assert "/v1/ok/a" not in server_stats(faults)
    result_a = load_run(tmp_path / "run").exchanges("faulty")[0]
    assert result_a.extra["skipped"] and result_a.extra["redacted"] == [
        "body: <redacted:card:4242>"
    ]


def test_a_key_copied_with_its_bearer_prefix_is_live_all_the_same_and_sent_without_it(
    tmp_path: Path, faults: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    recording(tmp_path / "r.jsonl", [exchange(0, "POST", "/v1/ok/a")])
    path = scenario_file(tmp_path, faults, "", ", api_key_env: COPIED_KEY")
    monkeypatch.setenv("COPIED_KEY", "Bearer sk_live_notarealkey0002")
    with pytest.raises(LiveModeRefused, match=r"COPIED_KEY holds a live-mode key \(sk_live_…\)"):
        start_replay(load_scenario(path), out=tmp_path / "live")
    assert server_stats(faults) == {}

    monkeypatch.setenv("COPIED_KEY", "  bearer sk_test_notarealkey0003 ")
    start_replay(load_scenario(path), out=tmp_path / "test")
    [sent] = server_stats(faults)["/v1/ok/a"]
    assert sent["headers"]["authorization"] == "Bearer sk_test_notarealkey0003"


@pytest.mark.parametrize(
    "url",
    [
        "http://sk_live_notarealkey0004:@127.0.0.1:9",
        "http://sk_test_notarealkey0005:@127.0.0.1:9",
        "https://user:password@127.0.0.1:9",
    ],
)
def test_a_key_in_a_url_is_refused_live_or_not(tmp_path: Path, url: str) -> None:
    recording(tmp_path / "r.jsonl", [exchange(0, "POST", "/v1/ok/a")])
    path = scenario_file(tmp_path, url)
    for command in (["validate", str(path)], ["replay", str(path), "--out", str(tmp_path / "run")]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 2
        assert result.output.startswith(
            f"shadow: error: {path}: targets[0].url: a URL may not hold credentials"
        )
        assert "api_key_env" in result.output and not (tmp_path / "run").exists()


def test_a_target_that_answers_nothing_is_exit_code_3_and_the_run_is_kept(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    recording(tmp_path / "r.jsonl", [exchange(0, "GET", "/v1/balance")])
    path = scenario_file(tmp_path, closed, retry="{attempts: 1}")
    result = CliRunner().invoke(
        main, ["replay", str(path), "--out", str(tmp_path / "run"), "--no-progress"]
    )
    assert result.exit_code == 3
    assert (
        "target faulty answered none of its requests (connection error: ClientConnectorError"
        in result.output
    )
    run = load_run(tmp_path / "run")
    assert run.status == "finished" and run.exchanges("faulty")[0].error is not None


def test_replay_needs_a_scenario_or_a_run_to_resume(tmp_path: Path) -> None:
    runner = CliRunner()
    neither = runner.invoke(main, ["replay"])
    assert neither.exit_code == 2 and "give a SCENARIO" in neither.output
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "x").write_text("")
    recording(tmp_path / "r.jsonl", [exchange(0, "GET", "/v1/balance")])
    path = scenario_file(tmp_path, "http://127.0.0.1:9", "")
    busy = runner.invoke(main, ["replay", str(path), "--out", str(taken)])
    assert busy.exit_code == 2 and "already exists and is not empty" in busy.output


# --- the pieces, on plain data -------------------------------------------------------------


def test_stripe_should_retry_overrides_the_status() -> None:
    assert should_retry(500, []) and should_retry(429, []) and not should_retry(400, [])
    assert not should_retry(500, [("Stripe-Should-Retry", "false")])
    assert should_retry(409, [("stripe-should-retry", "true")])


def test_retry_after_in_seconds_or_as_a_date() -> None:
    now = 1_800_000_000.0
    assert retry_after([("Retry-After", "2")], now) == 2.0
    date = format_datetime(datetime.fromtimestamp(now + 7, UTC), usegmt=True)
    assert retry_after([("Retry-After", date)], now) == pytest.approx(7.0)
    assert retry_after([("Retry-After", "soon")], now) is None
    assert retry_after([], now) is None
    settings = RetrySettings(backoff=0.5, max_backoff=8)
    assert next_delay(1, [("Retry-After", "3")], settings, 0.0, now) == 3.0


def test_backoff_grows_exponentially_with_jitter_up_to_its_ceiling() -> None:
    settings = RetrySettings(backoff=0.5, max_backoff=4)
    assert [backoff(n, settings, 0.999999) for n in (1, 2, 3, 4, 5)] == pytest.approx(
        [0.5, 1, 2, 4, 4], rel=1e-5
    )
    assert [backoff(n, settings, 0.0) for n in (1, 2, 3)] == [0.25, 0.5, 1.0]


def test_token_bucket_spaces_reservations_by_the_rate() -> None:
    now = [100.0]
    bucket = TokenBucket(rate=10, clock=lambda: now[0])
    assert [bucket.reserve() for _ in range(3)] == pytest.approx([0.0, 0.1, 0.2])
    now[0] += 1.0  # a quiet second refills the bucket up to its burst of one
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == pytest.approx(0.1)


def test_plain_progress_prints_a_line_per_target() -> None:

    stream = io.StringIO()
    counters = [TargetCounters("control", 10, done=10, errors=1, skipped=2)]
    stop = asyncio.Event()
    stop.set()
    asyncio.run(PlainProgressView(stream).watch(counters, stop))
    assert stream.getvalue().startswith("replay: control: 10/10 done, ")
    assert stream.getvalue().rstrip().endswith("1 errors, 2 skipped")


def test_rich_progress_draws_a_bar_per_target_on_a_terminal() -> None:

    from rich.console import Console

    from harness.replay.progress import RichProgressView

    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=100)
    counters = [
        TargetCounters("control", 85, done=40, errors=2),
        TargetCounters("twin", 85, done=85),
    ]
    stop = asyncio.Event()
    stop.set()
    asyncio.run(RichProgressView(console).watch(counters, stop))
    text = stream.getvalue()
    assert "control" in text and "40/85" in text and "errors 2" in text
    assert "twin" in text and "85/85" in text


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_answer_larger_than_a_result_line_may_be_is_not_kept(
    chunked: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHADOW_MAX_LINE_MB", "1")  # bodies of half a megabyte at most
    body = b"x" * (2 << 20)

    async def huge(request: web.Request) -> web.StreamResponse:
        if not chunked:
            return web.Response(body=body)
        answer = web.StreamResponse()
        answer.enable_chunked_encoding()
        await answer.prepare(request)
        for start in range(0, len(body), 1 << 16):
            await answer.write(body[start : start + (1 << 16)])
        return answer

    async def scenario() -> SendOutcome:
        app = web.Application()
        app.router.add_get("/v1/huge", huge)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            async with client_session(1, 10) as client:
                sender = Sender(client, f"http://127.0.0.1:{port}", RetrySettings(), 10)
                return await sender.send(Request(method="GET", path="/v1/huge"))
        finally:
            await runner.cleanup()

    outcome = asyncio.run(scenario())
    assert outcome.response is None and outcome.attempts == 1
    assert outcome.error == (
        "answer not kept: its body is larger than 0.5 MB (half of SHADOW_MAX_LINE_MB, which "
        "raises it)"
    )


def test_run_json_says_how_busy_the_engine_kept_each_target(tmp_path: Path, faults: str) -> None:
    """Requests in flight never pass the concurrency; a journey that waits for a slot,
    and a list that waits for the write before it (a barrier), are counted."""
    exchanges = [exchange(i, "POST", f"/v1/hang/n{i}", query="times=1&hang=0.1") for i in range(9)]
    exchanges.append(
        exchange(9, "POST", "/v1/customers", form="name=x", answer={"id": "cus_Aa0Bb1Cc2Dd3Ee"})
    )
    exchanges.append(exchange(10, "GET", "/v1/customers", answer={"object": "list", "data": []}))
    _, run = replay(tmp_path, faults, exchanges, concurrency=3)
    engine = json.loads((run.path / "run.json").read_text())["targets"][0]["engine"]
    assert engine["concurrency"] == 3
    assert engine["in_flight_peak"] == 3
    assert 0 < engine["in_flight_mean"] <= 3
    assert engine["sending_seconds"] > 0
    assert engine["waits"]["slot"]["count"] >= 1
    assert engine["waits"]["barrier"]["count"] >= 1
    assert set(engine["waits"]) == {"barrier", "slot", "reader", "writer"}


def test_occupancy_is_the_time_weighted_mean_and_the_peak() -> None:
    occupancy = Occupancy()
    occupancy.change(1, 10.0)  # one in use from 10 to 12, two from 12 to 13, none after 14
    occupancy.change(1, 12.0)
    occupancy.change(-1, 13.0)
    occupancy.change(-1, 14.0)
    assert occupancy.peak == 2
    assert occupancy.mean == pytest.approx((1 * 2 + 2 * 1 + 1 * 1) / 4)
    assert Occupancy().mean == 0.0


def test_occupancy_tells_the_heads_mean_from_the_planned_replays() -> None:
    occupancy = Occupancy()
    occupancy.change(1, 10.0)  # the head: one at a time from 10 to 12
    occupancy.change(-1, 11.0)
    occupancy.change(1, 11.0)
    occupancy.change(-1, 12.0)
    assert occupancy.mean_after_handover() is None
    occupancy.hand_over(12.5)  # then three at a time from 13 to 14
    for _ in range(3):
        occupancy.change(1, 13.0)
    for _ in range(3):
        occupancy.change(-1, 14.0)
    assert occupancy.mean_after_handover() == pytest.approx((1.5, 3 / 1.5))
    assert occupancy.mean == pytest.approx((2 + 3) / 4)
    counters = TargetCounters("t", 5)
    counters.in_flight = occupancy
    assert counters.engine(3)["head_seconds"] == pytest.approx(2.5)
    assert counters.engine(3)["in_flight_mean_planned"] == pytest.approx(2.0)
    assert "head_seconds" not in TargetCounters("t", 5).engine(3)  # no head: not said
