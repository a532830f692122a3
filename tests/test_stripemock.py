"""`launch: stripe-mock` with a `stripe-mock` binary on PATH (a stand-in of the tests'
own: the real one is not installable here), and compare knowing stripe-mock's fixed
values as noise. The preset's container path is tested in test_containers.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from replayfixtures import exchange, recording

from harness.compare.classify import Classifier
from harness.compare.diff import diff_responses
from harness.compare.normalize import normalize_response
from harness.compare.profile import EMULATOR_NOISE, STRIPE_PROFILE, stripe_profile
from harness.compare.rules import CompareConfig
from harness.formats.rundir import load_run
from harness.model import Outcome, Response

SHADOW = str(Path(sys.executable).parent / "shadow")
STAND_IN = Path(__file__).resolve().parent / "stripemockstandin.py"
RECORDED = "cus_RecJenny00A1"


def customer(created: int, id: str = RECORDED) -> dict[str, object]:
    return {
        "id": id,
        "object": "customer",
        "created": created,
        "email": "jenny@example.com",
        "livemode": False,
        "metadata": {},
    }


def install_stand_in(folder: Path) -> Path:
    """An executable named stripe-mock in `folder`, running the stand-in."""
    folder.mkdir()
    binary = folder / "stripe-mock"
    binary.write_text(f"#!{sys.executable}\n" + STAND_IN.read_text())
    binary.chmod(0o755)
    return folder


@pytest.mark.e2e
def test_a_stripe_mock_binary_on_path_is_the_target_and_its_fixed_values_are_noise(
    tmp_path: Path,
) -> None:
    path = install_stand_in(tmp_path / "bin")
    recording(
        tmp_path / "r.jsonl",
        [
            exchange(
                0,
                "POST",
                "/v1/customers",
                form="email=jenny%40example.com",
                answer=customer(1_700_000_000),
            ),
            exchange(1, "GET", f"/v1/customers/{RECORDED}", answer=customer(1_700_000_000)),
            exchange(
                2,
                "GET",
                "/v1/balance",
                answer={"object": "balance", "available": [], "livemode": False},
            ),
        ],
    )
    (tmp_path / "s.yaml").write_text(
        "name: mock\nrecording: r.jsonl\nbaseline: recording\nconcurrency: 1\n"
        "targets:\n  - {name: mock, launch: stripe-mock}\n"
    )
    out = tmp_path / "run"
    env = {**os.environ, "PATH": f"{path}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        [SHADOW, "replay", str(tmp_path / "s.yaml"), "--out", str(out), "--no-progress"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr

    run = load_run(out)
    url = run.target("mock").url
    assert url is not None and url.startswith("http://127.0.0.1:")
    # The stand-in refuses anything but `-http-addr A -https-addr B`, and requests without
    # a test key.
    log = (out / "mock.log").read_text()
    assert f"Listening for HTTP at address: {url.removeprefix('http://')}" in log
    assert "Listening for HTTPS at address: 127.0.0.1:" in log
    replayed = run.exchanges("mock")
    assert {seq: e.response.status for seq, e in replayed.items() if e.response} == {
        0: 200,
        1: 200,
        2: 200,
    }
    assert replayed[1].request.path != f"/v1/customers/{RECORDED}"  # its own id, mapped

    compared = subprocess.run(
        [SHADOW, "compare", str(out)], capture_output=True, text=True, check=False, timeout=120
    )
    assert compared.returncode == 0, compared.stderr
    assert "mock vs recording: 3 exchanges: 1 match, 2 noise, 0 expected, 0 difference" in (
        compared.stdout
    )
    outcomes = [json.loads(line) for line in (out / "outcomes.jsonl").read_text().splitlines()]
    noisy = [d for o in outcomes for d in o["differences"]]
    assert [(d["path"], d["outcome"], d["reason"]) for d in noisy] == [
        ("$.created", "noise", EMULATOR_NOISE)
    ] * 2


# The profile compare uses for answers of no known version, contributors' parts included.
PROFILE = STRIPE_PROFILE.for_version(None)


def compared(baseline: Response, candidate: Response) -> Outcome:
    """One exchange compared the way `shadow compare` does, without rules."""
    started = 1_700_000_000.0
    differences = diff_responses(
        "POST /v1/customers",
        normalize_response(baseline, started, {}, PROFILE),
        normalize_response(candidate, started, {}, PROFILE),
    )
    return Classifier(CompareConfig()).outcome(0, "mock", 0, "POST /v1/customers", differences)


def answer(body: dict[str, object], request_id: str) -> Response:
    headers = [("Content-Type", "application/json"), ("Request-Id", request_id)]
    return Response(status=200, headers=headers, body=json.dumps(body))


def test_stripe_mocks_fixed_timestamp_is_noise_with_its_reason() -> None:
    outcome = compared(
        answer(customer(1_700_000_001), "req_Abc123Def456"),
        answer(customer(1_234_567_890, "cus_Mock00000Z9"), "req_123"),
    )
    assert outcome.kind == "noise"
    [difference] = outcome.differences
    assert difference.path == "$.created" and difference.reason == EMULATOR_NOISE


def test_two_stripe_mock_answers_match() -> None:
    outcome = compared(
        answer(customer(1_234_567_890, "cus_Mock00000A1"), "req_123"),
        answer(customer(1_234_567_890, "cus_Mock00000Z9"), "req_123"),
    )
    assert outcome.kind == "match"


def test_any_other_old_timestamp_is_still_a_difference() -> None:
    outcome = compared(
        answer(customer(1_700_000_001), "req_Abc123Def456"),
        answer(customer(1_234_567_891, "cus_Mock00000Z9"), "req_Other000000"),
    )
    assert outcome.kind == "difference"
    assert [d.path for d in outcome.differences] == ["$.created"]


def test_stripe_mocks_request_id_is_noise_when_request_ids_are_compared() -> None:
    # As compare uses it: with what the contributors add (stripe-mock's fixed values).
    profile = stripe_profile(headers=["content-type", "request-id"]).for_version(None)
    started = 1_700_000_000.0
    body = customer(1_700_000_001)
    differences = diff_responses(
        "POST /v1/customers",
        normalize_response(answer(body, "req_Abc123Def456"), started, {}, profile),
        normalize_response(answer(body, "req_123"), started, {}, profile),
    )
    outcome = Classifier(CompareConfig()).outcome(0, "mock", 0, "POST /v1/customers", differences)
    assert outcome.kind == "noise"
    assert [(d.path, d.reason) for d in outcome.differences] == [
        ("headers.request-id", EMULATOR_NOISE)
    ]
