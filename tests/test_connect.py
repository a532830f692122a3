"""Connect traffic replayed: the stripe SDK acts for connected accounts (`stripe_account=`)
through the recorder in front of localstripe; the recording is replayed against another
localstripe behind a second recorder, which keeps the headers the target received. With
`accounts: same` and with a mapping, no request is skipped and each reaches the target
acting for the account it should."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import stripe

from harness.formats.recording import iter_exchanges
from harness.formats.results import iter_results
from harness.replay.launch.localstripe import LOCALSTRIPE_TEST_KEY, localstripe
from harness.replay.session import start_replay
from harness.scenario import load_scenario
from scenarios.demo.make_recording import recorder

pytestmark = pytest.mark.e2e

FIRST, SECOND = "acct_1RecordedConnA", "acct_1RecordedConnB"
MAPPED = {FIRST: "acct_1TargetConnAA", SECOND: "acct_1TargetConnBB"}
KEY_ENV = "SHADOW_CONNECT_TEST_KEY"


def record_connect_traffic(path: Path, upstream: str) -> None:
    """A platform call, then calls for two connected accounts, made through the SDK."""
    with recorder(path, "--upstream", upstream) as proxy:
        client = stripe.StripeClient(
            LOCALSTRIPE_TEST_KEY, base_addresses={"api": proxy.url}, max_network_retries=0
        )
        client.v1.customers.create(params={"email": "platform@example.com"})
        for account in (FIRST, SECOND):
            options: stripe.RequestOptions = {"stripe_account": account}
            customer = client.v1.customers.create(
                params={"email": f"{account}@example.com"}, options=options
            )
            client.v1.customers.update(
                customer.id, params={"metadata": {"tier": "gold"}}, options=options
            )
            client.v1.customers.retrieve(customer.id, options=options)
            client.v1.customers.list(params={"limit": 3}, options=options)


def replay_seen_by_target(
    tmp_path: Path, name: str, recording: Path, accounts: str, upstream: str
) -> tuple[Path, list[str | None]]:
    """Replay `recording` against `upstream` behind a recorder; the run directory and the
    Stripe-Account header of every request the target received, in order."""
    seen = tmp_path / f"{name}-seen.jsonl"
    with recorder(seen, "--upstream", upstream) as proxy:
        scenario = tmp_path / f"{name}.yaml"
        scenario.write_text(
            f"name: {name}\nrecording: {recording}\ntargets:\n"
            f"  - name: twin\n    url: {proxy.url}\n    api_key_env: {KEY_ENV}\n"
            f"    accounts: {accounts}\n"
        )
        run = start_replay(load_scenario(scenario), out=tmp_path / name, concurrency=1).run_dir
    received = sorted(iter_exchanges(seen), key=lambda e: e.started)
    return run, [e.request.header("stripe-account") for e in received]


def test_connect_traffic_replays_with_the_same_or_mapped_accounts(
    tmp_path: Path, localstripe_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, LOCALSTRIPE_TEST_KEY)
    recording = tmp_path / "connect.jsonl"
    record_connect_traffic(recording, localstripe_url)
    recorded = [e.request.header("stripe-account") for e in iter_exchanges(recording)]
    assert recorded == [None, FIRST, FIRST, FIRST, FIRST, SECOND, SECOND, SECOND, SECOND]

    (tmp_path / "accounts.json").write_text(json.dumps(MAPPED))
    expected_runs = {
        "same": (recorded, {(FIRST, FIRST): 4, (SECOND, SECOND): 4}),
        str(tmp_path / "accounts.json"): (
            [MAPPED.get(a) if a else None for a in recorded],
            {(FIRST, MAPPED[FIRST]): 4, (SECOND, MAPPED[SECOND]): 4},
        ),
        json.dumps(MAPPED): (
            [MAPPED.get(a) if a else None for a in recorded],
            {(FIRST, MAPPED[FIRST]): 4, (SECOND, MAPPED[SECOND]): 4},
        ),
    }
    with localstripe(log_path=tmp_path / "target.log") as target:
        for index, (accounts, (headers, used)) in enumerate(expected_runs.items()):
            run, received = replay_seen_by_target(
                tmp_path, f"run{index}", recording, accounts, target.url
            )
            results = list(iter_results(run / "twin.jsonl"))
            assert not [r.seq for r in results if r.extra.get("skipped")]
            assert not [r.seq for r in results if r.extra.get("unresolved")]
            assert sorted(r.response.status for r in results if r.response) == [200] * 9
            # What the target received, header by header, in the order it was sent.
            assert received == headers, accounts
            entry = json.loads((run / "run.json").read_text())["targets"][0]
            tally = Counter(
                {(u["recorded"], u["sent"]): u["requests"] for u in entry["accounts_used"]}
            )
            assert tally == used
