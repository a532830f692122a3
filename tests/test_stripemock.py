"""`launch: stripe-mock` with a `stripe-mock` binary on PATH (a stand-in of the tests'
own: the real one is not installable here), and compare knowing stripe-mock's fixed
values as noise. The preset's container path is tested in test_containers.py."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import stripe
from replayfixtures import exchange, recording
from stripe._multipart_data_generator import MultipartDataGenerator

from harness.capture.redact import card_shaped
from harness.compare.classify import Classifier
from harness.compare.diff import diff_responses
from harness.compare.normalize import normalize_response
from harness.compare.profile import EMULATOR_NOISE, STRIPE_PROFILE, stripe_profile
from harness.compare.rules import CompareConfig
from harness.formats.recording import iter_exchanges
from harness.formats.rundir import load_run
from harness.model import Outcome, Response
from harness.replay.launch.process import start_on_free_port
from scenarios.demo import driver
from scenarios.demo.make_recording import recorder

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


def replay_against_stand_in(tmp_path: Path, recording_name: str, path: Path) -> Path:
    """`shadow replay` of a recording in `tmp_path` against `launch: stripe-mock`, the
    stand-in found on PATH in `path`; returns the run directory."""
    (tmp_path / "s.yaml").write_text(
        f"name: mock\nrecording: {recording_name}\nbaseline: recording\nconcurrency: 1\n"
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
    return out


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
    out = replay_against_stand_in(tmp_path, "r.jsonl", path)

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


# Boundaries the way stripe-python chose them before 15.0 (an integer below 2**63) that
# pass the Luhn check and have a card network's shape: 4242…, Mastercard's 5555…4444,
# Amex's 15 digits, a 19-digit Visa.
LUHN_BOUNDARIES = ["4242424242424242", "5555555555554444", "378282246310005", "4000056655665556"]
UPLOADS = [
    # (purpose, file name, bytes, link it): a binary file with NULs and a text one.
    (
        "dispute_evidence",
        "receipt.png",
        b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256)) * 4,
        False,
    ),
    ("identity_document", "notes.txt", b"Delivered on 2026-01-05.\r\nSigned: J. Rosen\r\n", True),
    ("dispute_evidence", "empty.bin", b"", False),
    ("business_logo", "logo.gif", b"GIF89a\x01\x00\x01\x00\x00\xff\x00,", False),
]


class NamedBytes(io.BytesIO):
    """A file to upload: its bytes and the name the SDK sends as its filename."""

    def __init__(self, content: bytes, name: str) -> None:
        super().__init__(content)
        self.name = name


class SentBodies(driver.CountingHTTPClient):
    """The SDK's client, keeping every body it sent."""

    def __init__(self) -> None:
        super().__init__(timeout=30)
        self.sent: list[bytes] = []

    def request(  # type: ignore[override]
        self, method: str, url: str, headers: Any, post_data: Any = None
    ) -> Any:
        self.sent.append(post_data if isinstance(post_data, bytes) else (post_data or "").encode())
        return super().request(method, url, headers, post_data)


@pytest.mark.e2e
def test_uploads_with_boundaries_that_pass_the_luhn_check_are_recorded_and_replayed_byte_for_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert all(card_shaped(boundary) and int(boundary) < 2**63 for boundary in LUHN_BOUNDARIES)
    chosen = iter(LUHN_BOUNDARIES)
    monkeypatch.setattr(MultipartDataGenerator, "_initialize_boundary", lambda self: next(chosen))
    path = install_stand_in(tmp_path / "bin")
    recorded_file = tmp_path / "uploads.jsonl"
    client = SentBodies()
    upstream = start_on_free_port(
        "upstream",
        lambda port: [
            str(path / "stripe-mock"),
            "-http-addr",
            f"127.0.0.1:{port}",
            "-https-addr",
            "127.0.0.1:0",
        ],
    )
    with upstream, recorder(recorded_file, "--upstream", upstream.url) as proxy:
        sdk = stripe.StripeClient(
            "sk_test_" + "UploadsThroughTheSdk01",
            base_addresses={"api": proxy.url, "files": proxy.url},
            max_network_retries=0,
            http_client=client,
        )
        for purpose, name, content, link in UPLOADS:
            params: dict[str, Any] = {"purpose": purpose, "file": NamedBytes(content, name)}
            if link:
                params["file_link_data"] = {"create": True}
            created = sdk.v1.files.create(params)
            assert created.title == hashlib.sha256(content).hexdigest()
            assert created.size == len(content)
    exchanges = list(iter_exchanges(recorded_file))
    assert len(exchanges) == len(UPLOADS) == len(client.sent)
    for upload, sent, boundary in zip(exchanges, client.sent, LUHN_BOUNDARIES, strict=True):
        # Recorded as sent, the boundary in the header and the body untouched.
        assert upload.request.header("Content-Type") == (
            f"multipart/form-data; boundary={boundary}"
        )
        body = upload.request.body
        assert (body if isinstance(body, bytes) else body.encode()) == sent
        assert upload.response is not None and upload.response.status == 200
        assert "<redacted:card" not in json.dumps(upload.to_json())

    replayed = load_run(replay_against_stand_in(tmp_path, "uploads.jsonl", path)).exchanges("mock")
    for upload in exchanges:
        again = replayed[upload.seq]
        assert again.request.header("Content-Type") == upload.request.header("Content-Type")
        assert again.request.body == upload.request.body  # byte for byte, same boundary
        assert again.response is not None and upload.response is not None
        assert again.response.status == 200
        assert json.loads(again.response.text)["title"] == json.loads(upload.response.text)["title"]
