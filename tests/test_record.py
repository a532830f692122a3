"""`shadow record` end to end: localstripe behind the recorder, the stripe SDK in front."""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
import stripe
from click.testing import CliRunner

from harness.capture.addon import addon_path
from harness.capture.redact import fingerprint, redact_text
from harness.cli import main
from harness.compare.pipeline import compare_run
from harness.errors import RecordingError
from harness.formats.recording import RecordingReader, TruncatedRecordingWarning, iter_exchanges
from harness.replay.launch.localstripe import LOCALSTRIPE_TEST_KEY
from harness.replay.launch.process import LocalProcess, free_port
from harness.replay.session import start_replay
from harness.scenario import load_scenario
from harness.stripe import parse_form_pairs
from scenarios.demo import driver
from scenarios.demo.make_recording import recorder, shadow_command
from tests.parts import missing

pytestmark = pytest.mark.e2e

STOP_TIMEOUT = 30  # seconds a recorder gets to exit after a signal


class KeepingHTTPClient(driver.CountingHTTPClient):
    """The demo's counting client, also keeping what the SDK received."""

    def __init__(self) -> None:
        super().__init__(timeout=30)
        self.received: list[tuple[str, str, int, str]] = []

    def request(  # type: ignore[override]
        self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        body, status, response_headers = super().request(method, url, headers, post_data)
        text = body.decode() if isinstance(body, bytes) else body
        self.received.append((method.upper(), url, status, text))
        return body, status, response_headers


def client(base: str) -> httpx.Client:
    return httpx.Client(
        base_url=base,
        headers={"Authorization": f"Bearer {LOCALSTRIPE_TEST_KEY}"},
        trust_env=False,
        timeout=30,
    )


def test_the_demo_through_the_recorder(tmp_path: Path, localstripe_url: str) -> None:
    out = tmp_path / "demo.jsonl"
    keeping = KeepingHTTPClient()
    with recorder(out, "--upstream", localstripe_url) as proxy:
        calls = driver.run(proxy.url, LOCALSTRIPE_TEST_KEY, keeping)
    assert proxy.process.returncode == 0

    exchanges = list(iter_exchanges(out))
    # One exchange per SDK request, in the order the SDK made them.
    assert len(exchanges) == calls == len(keeping.received) > 60
    assert [e.seq for e in exchanges] == list(range(calls))
    for exchange, (method, url, status, body) in zip(exchanges, keeping.received, strict=True):
        assert exchange.request.method == method
        # requests percent-encodes the brackets the SDK leaves in `expand[0]=`.
        assert unquote(url).endswith(unquote(exchange.request.target))
        assert exchange.response is not None and exchange.response.status == status
        # What the client got is what was recorded, but for the secrets in it.
        assert exchange.response.text == redact_text(body)
    assert {e.response.status for e in exchanges if e.response} >= {200, 400, 402, 404}

    text = out.read_text()
    assert LOCALSTRIPE_TEST_KEY not in text
    assert all(
        e.request.header("Authorization")
        == f"Bearer sk_test_<redacted:{fingerprint(LOCALSTRIPE_TEST_KEY)}>"
        for e in exchanges
    )
    for card in (driver.CARD_OK, driver.CARD_DECLINED, driver.CARD_3DS, driver.CARD_MASTERCARD):
        assert card not in text
    secrets_seen = set(re.findall(r"_secret_[A-Za-z0-9]+", "".join(r[3] for r in keeping.received)))
    assert secrets_seen and not any(secret in text for secret in secrets_seen)
    card_forms = [
        dict(parse_form_pairs(e.request.text))
        for e in exchanges
        if e.request.path == "/v1/payment_methods" and e.request.method == "POST"
    ]
    assert card_forms and all(form["card[cvc]"] == "<redacted:cvc>" for form in card_forms)
    assert {form["card[number]"] for form in card_forms} >= {
        "<redacted:card:4242>",
        "<redacted:card:0002>",
        "<redacted:card:3184>",
    }


def test_sigterm_leaves_a_complete_file_and_pii_can_be_pseudonymized(
    tmp_path: Path, localstripe_url: str
) -> None:
    out = tmp_path / "pii.jsonl"
    with recorder(out, "--upstream", localstripe_url, "--pii", "pseudonymize") as proxy:
        with client(proxy.url) as http:
            created = http.post(
                "/v1/customers", data={"email": "jenny@rosen.example", "name": "Jenny Rosen"}
            )
            assert created.json()["email"] == "jenny@rosen.example"  # the client sees the truth
            http.get(f"/v1/customers/{created.json()['id']}")
            http.get("/v1/customers", params={"email": "jenny@rosen.example"})
        proxy.process.send_signal(signal.SIGTERM)
        assert proxy.process.wait(STOP_TIMEOUT) == 0
        assert proxy.process.stderr is not None
        assert f"recorded 3 exchanges to {out}" in proxy.process.stderr.read()

    with RecordingReader(out) as reader:
        assert reader.header.redaction["pii"] == "pseudonymize"
        exchanges = list(reader)
    assert not reader.truncated
    text = out.read_text()
    assert "jenny@rosen.example" not in text and "Jenny Rosen" not in text
    fake = dict(parse_form_pairs(exchanges[0].request.text))["email"]
    assert fake.endswith("@example.com")
    assert exchanges[0].response is not None and exchanges[1].response is not None
    assert json.loads(exchanges[0].response.text)["email"] == fake
    assert json.loads(exchanges[1].response.text)["email"] == fake
    assert dict(parse_form_pairs(exchanges[2].request.query))["email"] == fake


def test_sigkill_loses_nothing_that_was_answered(tmp_path: Path, localstripe_url: str) -> None:
    out = tmp_path / "killed.jsonl.gz"
    with recorder(out, "--upstream", localstripe_url) as proxy:
        with client(proxy.url) as http:
            for number in range(4):
                http.post("/v1/customers", data={"description": f"n{number}"}).raise_for_status()
        proxy.process.send_signal(signal.SIGKILL)
        proxy.process.wait(STOP_TIMEOUT)

    with pytest.raises(RecordingError, match="truncated last line"):
        list(iter_exchanges(out))
    with pytest.warns(TruncatedRecordingWarning):
        exchanges = list(iter_exchanges(out, allow_truncated=True))
    assert [dict(parse_form_pairs(e.request.text))["description"] for e in exchanges] == [
        "n0",
        "n1",
        "n2",
        "n3",
    ]


def test_an_upstream_failure_is_recorded_with_its_error(tmp_path: Path) -> None:
    out = tmp_path / "down.jsonl"
    nothing_there = f"http://127.0.0.1:{free_port()}"
    with recorder(out, "--upstream", nothing_there) as proxy, client(proxy.url) as http:
        answer = http.get("/v1/balance")
    assert answer.status_code == 502
    (exchange,) = iter_exchanges(out)
    assert exchange.response is None
    assert exchange.error and "Connect call failed" in exchange.error
    assert exchange.request.path == "/v1/balance"


def test_the_addon_works_in_mitmdump(tmp_path: Path, localstripe_url: str) -> None:
    out = tmp_path / "mitmdump.jsonl"
    port = free_port()
    mitmdump = Path(shadow_command()[0]).with_name("mitmdump")
    command = [
        str(mitmdump), "-q", "-s", addon_path(), "--set", f"shadow_out={out}",
        "--mode", f"reverse:{localstripe_url}", "--listen-host", "127.0.0.1",
        "--listen-port", str(port), "--set", f"confdir={tmp_path / 'mitmproxy'}",
    ]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    # Ready once a request comes back through the proxy (that one is recorded too).
    with LocalProcess(
        "mitmdump", command, base, ready_path="/v1/balance", log_path=tmp_path / "log"
    ):
        sdk = stripe.StripeClient(
            LOCALSTRIPE_TEST_KEY, base_addresses={"api": base}, max_network_retries=0
        )
        customer = sdk.v1.customers.create({"email": "ops@example.org"})
        sdk.v1.customers.retrieve(customer.id)
    exchanges = list(iter_exchanges(out))
    assert [e.request.path for e in exchanges][-2:] == [
        "/v1/customers",
        f"/v1/customers/{customer.id}",
    ]
    assert {e.request.path for e in exchanges[:-2]} == {"/v1/balance"}
    assert LOCALSTRIPE_TEST_KEY not in out.read_text()


def test_a_port_in_use_is_an_infrastructure_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                *shadow_command(),
                "record",
                "--listen",
                f"127.0.0.1:{port}",
                "--out",
                str(tmp_path / "x.jsonl"),
                "--confdir",
                str(tmp_path / "mitmproxy"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 3
    assert result.stderr.startswith(
        f"shadow: error: shadow record: the proxy could not start on 127.0.0.1:{port}"
    )
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "x.jsonl").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--listen", "8080"], "--listen: expected HOST:PORT"),
        (["--listen", "127.0.0.1:99999"], "--listen: expected HOST:PORT"),
        (["--upstream", "ftp://files.example"], "--upstream: expected an http:// or https:// URL"),
        (
            ["--upstream", "https://api.stripe.com/v1"],
            "--upstream: give only scheme, host and port",
        ),
        (["--out", "/nonexistent-dir/x.jsonl"], "directory /nonexistent-dir does not exist"),
        ([], "--out FILE is required"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(
    tmp_path: Path, options: list[str], message: str
) -> None:
    out = [] if "--out" in options or not options else ["--out", str(tmp_path / "x.jsonl")]
    result = CliRunner().invoke(main, ["record", "--listen", "127.0.0.1:0", *out, *options])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "x.jsonl").exists()


def test_addon_path_points_at_the_addon() -> None:
    result = CliRunner().invoke(main, ["record", "--addon-path"])
    assert result.exit_code == 0
    path = Path(result.stdout.strip())
    assert path.name == "addon.py" and "addons = [Recorder()]" in path.read_text()


# --- a curl suite ---------------------------------------------------------------------


class CurlScript:
    """A hand-written integration script's calls, each one run of curl: the key as `-u`
    sends it (Basic), forms as `-d` and `--data-urlencode` send them, no Idempotency-Key,
    no pinned API version."""

    def __init__(self, base: str) -> None:
        curl = shutil.which("curl")
        if curl is None:
            missing("curl not found", "the curl suite needs curl (apt-get install curl)")
        self.curl, self.base, self.calls = str(curl), base, 0

    def __call__(self, path: str, *args: str) -> dict[str, Any]:
        self.calls += 1
        done = subprocess.run(
            [self.curl, "-sS", "-u", f"{LOCALSTRIPE_TEST_KEY}:", *args, self.base + path],
            capture_output=True,
            timeout=30,
            check=True,
        )
        answer: dict[str, Any] = json.loads(done.stdout)
        return answer


def _curl_suite(curl: CurlScript) -> None:
    """Customers, a card, a payment and its refund, a subscription, lists and pages,
    deletes, and the errors a script meets (an unknown id, a bad amount, a declined
    card's token)."""
    card = ["-d", "card[exp_month]=12", "-d", "card[exp_year]=2034", "-d", "card[cvc]=123"]
    customer = curl("/v1/customers", "-d", "email=a@example.com", "-d", "name=Ann Example")["id"]
    other = curl("/v1/customers", "-d", "email=b@example.com")["id"]
    curl(f"/v1/customers/{customer}")
    curl(f"/v1/customers/{customer}", "-d", "description=first", "-d", "metadata[order]=2")
    curl("/v1/customers", "-G", "-d", "limit=1")
    curl("/v1/customers", "-G", "-d", "limit=1", "-d", f"starting_after={other}")
    curl("/v1/customers", "-G", "--data-urlencode", "email=a@example.com")
    method = curl(
        "/v1/payment_methods", "-d", "type=card", "-d", "card[number]=4242424242424242", *card
    )["id"]
    curl(f"/v1/payment_methods/{method}/attach", "-d", f"customer={customer}")
    curl("/v1/payment_methods", "-G", "-d", f"customer={customer}", "-d", "type=card")
    curl(f"/v1/customers/{customer}", "-d", f"invoice_settings[default_payment_method]={method}")
    intent = curl(
        "/v1/payment_intents",
        *("-d", "amount=2000", "-d", "currency=usd", "-d", f"customer={customer}"),
        *("-d", f"payment_method={method}", "-d", "payment_method_types[]=card"),
    )["id"]
    curl(f"/v1/payment_intents/{intent}/confirm", "-X", "POST")
    curl(f"/v1/payment_intents/{intent}", "-G", "-d", "expand[]=customer")
    curl("/v1/refunds", "-d", f"payment_intent={intent}", "-d", "amount=500")
    curl("/v1/refunds", "-G", "-d", "limit=3")
    plan = curl(
        "/v1/plans",
        *("-d", "amount=1500", "-d", "currency=usd", "-d", "interval=month"),
        *("-d", "product[name]=Gold"),
    )["id"]
    subscription = curl(
        "/v1/subscriptions", "-d", f"customer={customer}", "-d", f"items[0][plan]={plan}"
    )["id"]
    curl(f"/v1/subscriptions/{subscription}")
    curl("/v1/invoices", "-G", "-d", f"customer={customer}")
    curl(f"/v1/subscriptions/{subscription}", "-X", "DELETE")
    curl("/v1/customers/cus_doesnotexist")
    curl("/v1/payment_intents", "-d", "amount=-5", "-d", "currency=usd")
    curl(f"/v1/customers/{other}", "-X", "DELETE")
    curl(f"/v1/customers/{other}")
    curl("/v1/tokens", "-d", "card[number]=4000 0000 0000 0002", *card)


def test_a_curl_suite_recorded_then_replayed_against_twins_matches(
    tmp_path: Path, localstripe_url: str
) -> None:
    """Traffic a curl script made (Basic auth, no idempotency keys, no pinned version),
    recorded in front of localstripe, then replayed against two fresh localstripes at
    concurrency 8: both answer as the recording did, and no secret is written."""
    out = tmp_path / "curl.jsonl"
    with recorder(out, "--upstream", localstripe_url) as proxy:
        curl = CurlScript(proxy.url)
        _curl_suite(curl)
    calls = curl.calls
    exchanges = list(iter_exchanges(out))
    assert len(exchanges) == calls
    assert {e.response.status for e in exchanges if e.response} >= {200, 400, 404}
    scenario = tmp_path / "twins.yaml"
    scenario.write_text(
        f"name: curl\nrecording: {out}\nbaseline: recording\nconcurrency: 8\n"
        "targets:\n  - {name: a, launch: localstripe}\n  - {name: b, launch: localstripe}\n"
    )
    replayed = start_replay(load_scenario(scenario), out=tmp_path / "run")
    summary = compare_run(replayed.run_dir, None, workers=1)
    for name in ("a", "b"):
        assert summary["candidates"][name]["outcomes"]["match"] == calls, summary
    written = [out, *(p for p in replayed.run_dir.rglob("*") if p.is_file())]
    for path in written:
        text = path.read_text(errors="replace")
        assert LOCALSTRIPE_TEST_KEY not in text, path
        assert "4242424242424242" not in text and "4000 0000 0000 0002" not in text, path
        assert "card[cvc]=123" not in text and "card%5Bcvc%5D=123" not in text, path
