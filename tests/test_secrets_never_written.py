"""No secret reaches disk (issue 15): a client plants secrets in every form a probe found,
the recorder records them through mitmproxy, `shadow run` replays the recording against a
launched target that leaks every secret it can (tests/leakyserver.py: its answers, its
error messages, its own log) and against localstripe, compares and reports; then every
file written and everything printed is searched for every secret in every encoding."""

from __future__ import annotations

import base64
import gzip
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import leakyserver
import pytest
import yaml

from harness.replay.launch.process import start_on_free_port
from scenarios.demo.make_recording import recorder

pytestmark = pytest.mark.e2e

SHADOW = str(Path(sys.executable).parent / "shadow")
LEAKY = Path(__file__).resolve().parent / "leakyserver.py"

# What the client sends (joined, so that no line of this file looks like a real key).
QUERY_KEY = "sk_test_" + "ClientKeyInQuery0001"
BASIC_KEY = "sk_test_" + "ClientKeyAsBasicAuth01"
RESTRICTED_KEY = "rk_test_" + "ClientRestrictedKey01"
ESCAPED_KEY = "sk_test_" + "ClientKeyEscaped0001"
AUTH_CODE = "ac_" + "ClientAuthorizationCode01"
CLIENT_REFRESH = "rt_" + "ClientRefreshToken0001"
SIGNATURE = "5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd"
PARTNER_KEY = "partner-" + "api-key-0001"
CARD = "4000056655665556"
CARD_SPACED = "4000 0566 5566 5556"
IBAN = "FR1420041010050500013M02606"
ID_NUMBER = "987654321"
# What the harness sends the target: its own key, from the environment.
TARGET_KEY = "sk_test_" + "TargetKeyTheHarnessSends01"

# Each secret, searched for as it is, percent-encoded, and in Basic auth.
SECRETS = [
    QUERY_KEY,
    BASIC_KEY,
    RESTRICTED_KEY,
    ESCAPED_KEY,
    AUTH_CODE,
    CLIENT_REFRESH,
    SIGNATURE,
    PARTNER_KEY,
    CARD,
    CARD_SPACED,
    IBAN,
    ID_NUMBER,
    TARGET_KEY,
    leakyserver.WEBHOOK_SECRET,
    leakyserver.EPHEMERAL_KEY,
    leakyserver.ACCESS_TOKEN,
    leakyserver.REFRESH_TOKEN,
    leakyserver.PUBLISHABLE_KEY,
    leakyserver.CLIENT_SECRET.split("_secret_")[1],
    leakyserver.ANSWER_SSN,
]
# Secrets known only by the field that holds them: searched for with their field.
FIELD_FORMS = [
    "cvc]=739",
    "cvc%5D=739",
    '"cvc": "739"',
    "cvc\r\n\r\n739",
    "ssn_last_4]=4321",
    'ssn_last_4": "6789"',
]


def forms(secret: str) -> set[str]:
    return {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        secret.replace("_", "\\u005f"),
        base64.b64encode(f"{secret}:".encode()).decode(),
    }


def send_planted_secrets(base: str) -> int:
    """Every form a probe found, sent through the recorder; returns the requests sent."""
    multipart = (
        "--4242424242424242\r\n"
        'Content-Disposition: form-data; name="card[cvc]"\r\n\r\n739\r\n'
        "--4242424242424242--\r\n"
    )
    with httpx.Client(base_url=base, trust_env=False, timeout=30) as client:
        bearer = {"Authorization": f"Bearer {RESTRICTED_KEY}"}
        form = {**bearer, "Content-Type": "application/x-www-form-urlencoded"}
        requests = [
            client.build_request("GET", f"/v1/customers?key={QUERY_KEY}&limit=3", headers=bearer),
            client.build_request(
                "GET",
                "/v1/balance",
                headers={"Authorization": httpx.BasicAuth(BASIC_KEY, "")._auth_header},
            ),
            client.build_request(
                "POST",
                "/v1/webhook_events",
                headers={**form, "Stripe-Signature": f"t=1700000000,v1={SIGNATURE}"},
                content="type=ping",
            ),
            client.build_request("GET", "/v1/events", headers={**bearer, "X-Api-Key": PARTNER_KEY}),
            client.build_request("POST", "/v1/webhook_endpoints", headers=form, content="url=x"),
            client.build_request("POST", "/v1/ephemeral_keys", headers=form, content="customer=c"),
            client.build_request(
                "POST",
                "/oauth/token",
                headers=form,
                content=f"grant_type=authorization_code&code={AUTH_CODE}",
            ),
            client.build_request(
                "POST",
                "/oauth/token",
                headers=form,
                content=f"grant_type=refresh_token&refresh_token={CLIENT_REFRESH}",
            ),
            # curl -d: unencoded blanks, the card grouped.
            client.build_request(
                "POST",
                "/v1/payment_methods",
                headers=form,
                content=f"type=card&card[number]={CARD_SPACED}&card[cvc]=739"
                "&billing_details[name]=John Smith",
            ),
            client.build_request(
                "POST",
                "/v1/sources",
                headers=form,
                content=f"source[cvc]=739&source[name]=John Smith&sepa_debit[iban]={IBAN}",
            ),
            client.build_request(
                "POST",
                "/v1/accounts",
                headers=form,
                content=f"individual[id_number]={ID_NUMBER}&individual[ssn_last_4]=4321",
            ),
            client.build_request("GET", "/v1/payment_intents/pi_3LeakyIntent0001", headers=bearer),
            client.build_request(
                "POST",
                "/v1/things",
                headers={**bearer, "Content-Type": "application/json"},
                content=json.dumps({"note": ESCAPED_KEY, "card": {"cvc": "739"}}).replace(
                    "_", "\\u005f"
                ),
            ),
            client.build_request(
                "POST",
                "/v1/files",
                headers={
                    **bearer,
                    "Content-Type": "multipart/form-data; boundary=4242424242424242",
                },
                content=multipart,
            ),
        ]
        for request in requests:
            client.send(request)
    return len(requests)


def written_text(path: Path) -> str:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data.decode("utf-8", "replace")


def test_no_secret_reaches_any_file_or_the_terminal(tmp_path: Path) -> None:
    recording = tmp_path / "recording.jsonl"
    upstream = start_on_free_port(
        "leaky",
        lambda port: [sys.executable, str(LEAKY), "--port", str(port)],
        log_path=tmp_path / "upstream.log",
        ready_path="/v1/balance",
    )
    with upstream, recorder(recording, "--upstream", upstream.url) as proxy:
        sent = send_planted_secrets(proxy.url)
        proxy.process.send_signal(signal.SIGINT)
        out, err = proxy.process.communicate(timeout=30)
    recorder_output = out + err
    assert len(recording.read_text().splitlines()) == sent + 1  # the header, each exchange

    scenario = {
        "name": "secrets",
        "recording": str(recording),
        "baseline": "recording",
        "concurrency": 1,
        "targets": [
            {
                "name": "leaky",
                "api_key_env": "SHADOW_TEST_LEAKY_KEY",
                "launch": {
                    "command": f"{sys.executable} {LEAKY} --port {{port}}",
                    "url": "http://127.0.0.1:{port}",
                    "ready_path": "/v1/balance",
                },
            },
            {"name": "emulator", "launch": "localstripe"},
        ],
    }
    (tmp_path / "scenario.yaml").write_text(yaml.safe_dump(scenario, sort_keys=False))
    done = subprocess.run(
        [SHADOW, "run", "scenario.yaml", "--out", "run", "--report", "report", "--no-progress"],
        cwd=tmp_path,
        env={**os.environ, "SHADOW_TEST_LEAKY_KEY": TARGET_KEY},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode in (0, 1, 3), done.stdout + done.stderr
    assert "Traceback" not in done.stderr

    # The target was sent its key and printed it, and answered with every secret it has.
    log = tmp_path / "run" / "leaky.log"
    assert "Authorization: Bearer sk_test_<redacted:" in log.read_text()
    written = {
        path.relative_to(tmp_path).as_posix(): written_text(path)
        for path in sorted(tmp_path.rglob("*"))
        if path.is_file() and path.name not in ("scenario.yaml", "upstream.log")
    }
    for expected in (
        "recording.jsonl",
        "run/run.json",
        "run/leaky.log",
        "run/emulator.log",
        "run/summary.json",
        "report/index.html",
        "report/summary.json",
        "report/junit.xml",
        "report/summary.md",
    ):
        assert expected in written
    assert any(
        name.startswith("run/") and "leaky" in name and name.endswith(".jsonl") for name in written
    )
    written["terminal: shadow run"] = done.stdout + done.stderr
    written["terminal: shadow record"] = recorder_output
    for secret in SECRETS:
        for form in forms(secret):
            found = [name for name, text in written.items() if form in text]
            assert not found, f"{form!r} written to {found}"
    for form in FIELD_FORMS:
        found = [name for name, text in written.items() if form in text]
        assert not found, f"{form!r} written to {found}"
    # Every planted secret was there to be found: each left its marker in the recording.
    recorded = written["recording.jsonl"]
    for marker in (
        "sk_test_<redacted:",
        "rk_test_<redacted:",
        "whsec_<redacted:",
        "ek_test_<redacted:",
        "rt_<redacted:",
        "ac_<redacted:",
        "pk_test_<redacted:",
        "v1=<redacted>",
        "<redacted:card:5556",  # with how it was grouped, where it was a field's value
        "<redacted:cvc>",
        "<redacted:iban:FR:2606>",
        "<redacted:id_number>",
        "<redacted:ssn_last_4>",
        "<redacted:ssn>",
        "_secret_<redacted>",
    ):
        assert marker in recorded, marker
