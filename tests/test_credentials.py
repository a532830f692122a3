"""Authentication is replayed as recorded: none where the client sent none, the target's key
where Stripe took the client's, a key every target refuses where Stripe refused it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import stripe

from harness.formats.recording import iter_exchanges
from harness.formats.results import iter_results
from harness.model import Request
from harness.replay.credentials import INVALID_API_KEY, Credential, recorded_credential
from harness.replay.idmap import IdMap
from harness.replay.launch.localstripe import LOCALSTRIPE_TEST_KEY
from harness.replay.rewrite import TargetContext, rewrite_request
from harness.replay.session import start_replay
from harness.scenario import load_scenario
from scenarios.demo.make_recording import recorder

KEY_MARKER = "Bearer sk_test_<redacted:1a2b3c4d>"
TARGET = TargetContext(name="twin", run_id="run1", api_key="sk_test_target0001", port=4242)


@pytest.mark.parametrize(
    ("authorization", "status", "credential"),
    [
        (KEY_MARKER, 200, Credential.TARGET_KEY),
        (KEY_MARKER, 402, Credential.TARGET_KEY),
        (KEY_MARKER, None, Credential.TARGET_KEY),  # no answer recorded (upstream failure)
        (KEY_MARKER, 401, Credential.INVALID_KEY),  # a wrong key, shaped like one
        ("Bearer <redacted>", 401, Credential.INVALID_KEY),  # a malformed key
        ("Basic c2tfdGVzdF88cmVkYWN0ZWQ6MWEyYjNjNGQ+Og==", 401, Credential.INVALID_KEY),
        (None, 401, Credential.NONE),
        (None, None, Credential.NONE),
        # Stripe answers nothing but 401 without a key: the header was lost on the way
        # (a cassette's filter_headers), the key was there.
        (None, 200, Credential.TARGET_KEY),
        (None, 404, Credential.TARGET_KEY),
        ("Bearer <STRIPE_SECRET_KEY>", 200, Credential.TARGET_KEY),
    ],
)
def test_the_recording_says_which_credential(
    authorization: str | None, status: int | None, credential: Credential
) -> None:
    headers = [("Authorization", authorization)] if authorization is not None else []
    assert recorded_credential(Request("GET", "/v1/balance", headers=headers), status) is credential


def test_each_credential_is_sent_as_its_header() -> None:
    recorded = Request("GET", "/v1/balance", headers=[("Authorization", KEY_MARKER)])
    sent = {
        credential: rewrite_request(recorded, 0, IdMap(), TARGET, credential).request
        for credential in Credential
    }
    assert sent[Credential.TARGET_KEY].header("authorization") == "Bearer sk_test_target0001"
    assert sent[Credential.NONE].header("authorization") is None
    assert sent[Credential.INVALID_KEY].header("authorization") == f"Bearer {INVALID_API_KEY}"
    # Nothing of the recorded credential is sent, and the invalid key is no key at all.
    for request in sent.values():
        assert all("redacted" not in value for _, value in request.headers)
    assert not INVALID_API_KEY.startswith(("sk_", "rk_", "pk_"))


@pytest.mark.e2e
def test_unauthenticated_and_refused_calls_replay_as_recorded(
    tmp_path: Path, localstripe_url: str
) -> None:
    """The SDK through the recorder in front of localstripe: a call with the right key,
    with a wrong key, with a malformed key, and one without any key. Replayed against a
    fresh localstripe, each is answered as it was when recorded."""
    recording = tmp_path / "auth.jsonl"
    with recorder(recording, "--upstream", localstripe_url) as proxy:
        good = stripe.StripeClient(
            LOCALSTRIPE_TEST_KEY, base_addresses={"api": proxy.url}, max_network_retries=0
        )
        good.v1.customers.create(params={"email": "a@example.com"})
        for wrong in ("pk_test_notasecretkey0001", "malformed"):
            refused = stripe.StripeClient(
                wrong, base_addresses={"api": proxy.url}, max_network_retries=0
            )
            with pytest.raises(stripe.AuthenticationError):
                refused.v1.balance.retrieve()
        with httpx.Client(base_url=proxy.url, trust_env=False, timeout=30) as bare:
            assert bare.get("/v1/balance").status_code == 401
    recorded = list(iter_exchanges(recording))
    assert [e.response.status for e in recorded if e.response] == [200, 401, 401, 401]
    assert [e.request.header("authorization") is not None for e in recorded] == [
        True,
        True,
        True,
        False,
    ]

    scenario_path = tmp_path / "auth.yaml"
    scenario_path.write_text(
        f"name: auth\nrecording: {recording}\ntargets:\n  - name: twin\n    launch: localstripe\n"
    )
    run = start_replay(load_scenario(scenario_path), out=tmp_path / "run").run_dir
    results = sorted(iter_results(run / "twin.jsonl"), key=lambda e: e.seq)
    assert [r.response.status for r in results if r.response] == [200, 401, 401, 401]
    assert [r.extra.get("credential", "target_key") for r in results] == [
        "target_key",
        "invalid_key",
        "invalid_key",
        "none",
    ]
    # As the result file keeps them: every credential redacted, the missing one missing.
    sent = [r.request.header("authorization") for r in results]
    assert sent[0] is not None and sent[0].startswith("Bearer sk_test_<redacted:")
    assert sent[1:] == ["Bearer <redacted>", "Bearer <redacted>", None]
