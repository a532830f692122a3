"""`shadow import` end to end: the real cassettes and HAR files of ../shared/corpora/
(read from there, never copied here) imported, counted, checked for secrets, planned, and
their self-contained flows replayed against localstripe with `baseline: recording`; and
a mitmproxy flow file written by a real mitmdump in front of localstripe."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import stripe
from click.testing import CliRunner

from harness.capture.redact import fingerprint, luhn_valid
from harness.cli import main
from harness.compare.pipeline import compare_run
from harness.formats.recording import RecordingReader, RecordingWriter, iter_exchanges
from harness.model import Exchange
from harness.replay.launch.localstripe import LOCALSTRIPE_TEST_KEY
from harness.replay.launch.process import LocalProcess, free_port
from harness.replay.plan import Planner, plan_recording
from harness.replay.session import start_replay
from harness.scenario import load_scenario
from harness.stripe import API_KEY_PATTERN, CLIENT_SECRET_PATTERN
from scenarios.demo.make_recording import shadow_command
from tests.parts import missing

pytestmark = pytest.mark.e2e

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
# pay's test_helper.rb sets PADDLE_CLASSIC_VENDOR_ID=1, VENDOR_AUTH_CODE=x, and Paddle's
# test key "secret"; its cassettes' filter_sensitive_data did the rest (SOURCES.md).
PAY_PLACEHOLDERS = ("<VENDOR_ID>=1", "<VENDOR_AUTH_CODE>=x", "<PADDLE_API_KEY>=secret")


@dataclass(frozen=True)
class Corpus:
    name: str
    format: str
    files: int
    interactions: int
    placeholders: tuple[str, ...] = ()


CORPUS_LIST = [
    Corpus("saleor__saleor", "vcrpy", 16, 26),
    Corpus("saleor__saleor-app-payment-stripe", "har", 19, 50),
    Corpus("pay-rails__pay", "ruby-vcr", 24, 170, PAY_PLACEHOLDERS),
    Corpus("spree__spree_stripe", "ruby-vcr", 18, 42),
    Corpus("beam-community__stripity_stripe", "exvcr", 12, 22),
]

# What a secret looks like in an output, whatever its place: a key or webhook secret not
# replaced by its marker, a client secret's secret part, a card number, a CVC, a bank
# account or IBAN value.
_LEFT_KEY = re.compile(r"(?:sk|rk|pk|ek)_(?:test|live)_(?!<redacted)|whsec_(?!<redacted)")
_CARD_RUN = re.compile(r"(?<![0-9.])[0-9]{13,19}(?![0-9])")  # not a fraction
_CVC = re.compile(r'(?:cvc|cvv)2?(?:\]|%5D)?"?\s*[=:]\s*"?[0-9]{3,4}', re.IGNORECASE)
_BANK = re.compile(r'(?:account_number|iban)(?:\]|%5D)?"?\s*[=:]\s*"?[A-Z0-9]{6,}')


def secrets_left(text: str) -> list[str]:
    found = [m.group(0) for m in _LEFT_KEY.finditer(text)]
    found += [m.group(0) for m in CLIENT_SECRET_PATTERN.finditer(text)]
    found += [m.group(0) for m in _CARD_RUN.finditer(text) if luhn_valid(m.group(0))]
    found += [m.group(0) for m in _CVC.finditer(text)] + [m.group(0) for m in _BANK.finditer(text)]
    return found


def corpus(name: str) -> Path:
    path = CORPORA / name
    if not path.is_dir():
        missing(f"{path} not found", "the corpus tests read ../shared/corpora beside the repo")
    return path


def self_contained(recording: Path, out: Path) -> int:
    """Write the journeys of `recording` that create every id they use (none left
    unproduced when planned on their own) to `out`; returns how many exchanges."""
    exchanges = list(iter_exchanges(recording))
    kept: list[Exchange] = []
    for seqs in plan_recording(recording).journey_seqs():
        alone = Planner()
        for seq in seqs:
            alone.add(exchanges[seq])
        if alone.plan().unproduced == 0:
            kept.extend(exchanges[seq] for seq in seqs)
    kept.sort(key=lambda e: e.seq)
    with RecordingReader(recording) as reader:
        header = reader.header
    with RecordingWriter(out, header) as writer:
        for seq, exchange in enumerate(kept):
            exchange.seq = seq
            writer.write(exchange)
    return len(kept)


@pytest.mark.parametrize("source", CORPUS_LIST, ids=lambda c: c.name)
def test_a_corpus_imports_redacted_plans_and_replays(tmp_path: Path, source: Corpus) -> None:
    root = corpus(source.name)
    out = tmp_path / "imported.jsonl"
    placeholders = [arg for spec in source.placeholders for arg in ("--placeholder", spec)]
    result = CliRunner().invoke(main, ["import", str(root), "--out", str(out), *placeholders])
    assert result.exit_code == 0, result.output + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"files: {source.files} ({source.format} {source.files})"
    assert lines[1] == f"interactions: {source.interactions}, imported: {source.interactions}"

    # No secret of the corpus survives: neither in the recording nor on the terminal.
    raw = "\n".join(p.read_text(errors="replace") for p in root.rglob("*") if p.is_file())
    known = set(API_KEY_PATTERN.findall(raw)) | set(CLIENT_SECRET_PATTERN.findall(raw))
    for spec in source.placeholders:
        name, value = spec.split("=", 1)
        known |= set(API_KEY_PATTERN.findall(raw.replace(name, value)))
    text = out.read_text()
    assert secrets_left(text) == []
    assert not any(secret in text or secret in result.output for secret in known)
    exchanges = list(iter_exchanges(out))
    assert len(exchanges) == source.interactions
    assert all("<" not in e.request.path for e in exchanges)  # placeholders all undone

    plan = plan_recording(out)
    assert plan.exchanges == source.interactions and plan.journeys > source.files // 2

    subset = tmp_path / "self-contained.jsonl"
    count = self_contained(out, subset)
    assert 0 < count <= source.interactions
    scenario = tmp_path / "replay.yaml"
    scenario.write_text(
        f"name: corpus\nrecording: {subset}\nbaseline: recording\n"
        "targets:\n  - {name: localstripe, launch: localstripe}\n"
    )
    replayed = start_replay(load_scenario(scenario), out=tmp_path / "run")
    (counters,) = replayed.counters
    assert counters.done == count and counters.errors == 0
    assert counters.answered > 0  # localstripe answered some of every corpus
    summary = compare_run(replayed.run_dir, None, workers=1)
    outcomes = summary["candidates"]["localstripe"]["outcomes"]
    assert sum(outcomes.values()) == count
    print(
        f"{source.name}: imported {len(exchanges)}/{source.interactions}, "
        f"unresolved ids {plan.unproduced}, self-contained {count}, "
        f"answered {counters.answered}, skipped {counters.skipped}, outcomes {outcomes}"
    )


@pytest.mark.parametrize("source", CORPUS_LIST, ids=lambda c: c.name)
def test_a_corpus_replayed_against_two_twins_shows_no_difference(
    tmp_path: Path, source: Corpus
) -> None:
    """Traffic nobody here wrote, replayed against two unchanged localstripes at
    concurrency 8: every exchange either matches or was skipped on both alike."""
    out = tmp_path / "imported.jsonl"
    placeholders = [arg for spec in source.placeholders for arg in ("--placeholder", spec)]
    imported = CliRunner().invoke(
        main, ["import", str(corpus(source.name)), "--out", str(out), *placeholders]
    )
    assert imported.exit_code == 0, imported.output + imported.stderr
    subset = tmp_path / "self-contained.jsonl"
    count = self_contained(out, subset)
    scenario = tmp_path / "twins.yaml"
    scenario.write_text(
        f"name: twins\nrecording: {subset}\nbaseline: a\nconcurrency: 8\n"
        "targets:\n  - {name: a, launch: localstripe}\n  - {name: b, launch: localstripe}\n"
    )
    replayed = start_replay(load_scenario(scenario), out=tmp_path / "run")
    summary = compare_run(replayed.run_dir, None, workers=1)["candidates"]["b"]
    outcomes = summary["outcomes"]
    assert sum(outcomes.values()) == count
    assert outcomes["match"] > 0
    assert outcomes["difference"] == outcomes["noise"] == outcomes["expected"] == 0, summary
    assert summary["groups"] == []
    # What was not compared was skipped on both twins, for the same reason.
    skipped = {name: {} for name in ("a", "b")}
    for name in skipped:
        for exchange in iter_exchanges(replayed.run_dir / f"{name}.jsonl"):
            if exchange.response is None:
                skipped[name][exchange.seq] = exchange.error
    assert skipped["a"] == skipped["b"]
    assert len(skipped["b"]) == outcomes["error"]


def test_pay_without_its_placeholders_refuses_what_they_broke(tmp_path: Path) -> None:
    """Its filters broke keys and client secrets into pieces redaction cannot see: the
    cassettes they reach are refused, the older unfiltered ones imported."""
    root = corpus("pay-rails__pay")
    out = tmp_path / "imported.jsonl"
    result = CliRunner().invoke(main, ["import", str(root), "--out", str(out)])
    assert result.exit_code == 2
    refusals = result.stderr.splitlines()
    assert len(refusals) == 17 and all("replaced parts of words" in r for r in refusals)
    assert result.stdout.splitlines()[:2] == [
        "files: 24 (ruby-vcr 7), 17 refused",
        "interactions: 49, imported: 32",
    ]
    assert secrets_left(out.read_text()) == []


def test_a_mitmproxy_flow_file_imports_as_the_recorder_records(
    tmp_path: Path, localstripe_url: str
) -> None:
    flows = tmp_path / "stripe.flows"
    port = free_port()
    mitmdump = Path(shadow_command()[0]).with_name("mitmdump")
    command = [
        str(mitmdump), "-q", "-w", str(flows), "--mode", f"reverse:{localstripe_url}",
        "--listen-host", "127.0.0.1", "--listen-port", str(port),
        "--set", f"confdir={tmp_path / 'mitmproxy'}",
    ]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    with LocalProcess(
        "mitmdump", command, base, ready_path="/v1/balance", log_path=tmp_path / "log"
    ):
        sdk = stripe.StripeClient(
            LOCALSTRIPE_TEST_KEY, base_addresses={"api": base}, max_network_retries=0
        )
        customer = sdk.v1.customers.create({"email": "ops@example.org"})
        card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "314"}
        method = sdk.v1.payment_methods.create({"type": "card", "card": card})
        sdk.v1.payment_methods.attach(method.id, {"customer": customer.id})
    out = tmp_path / "imported.jsonl"
    host = "127.0.0.1"  # the reverse proxy's upstream: localstripe, not a Stripe host
    result = CliRunner().invoke(main, ["import", str(flows), "-o", str(out), "--host", host])
    assert result.exit_code == 0, result.output + result.stderr
    assert result.stdout.splitlines()[0] == "files: 1 (mitmproxy 1)"
    exchanges = list(iter_exchanges(out))
    assert [e.request.path for e in exchanges][-3:] == [
        "/v1/customers",
        "/v1/payment_methods",
        f"/v1/payment_methods/{method.id}/attach",
    ]
    assert all(e.request.host == host and e.started > 0 for e in exchanges)
    assert [e.started for e in exchanges] == sorted(e.started for e in exchanges)
    text = out.read_text()
    assert LOCALSTRIPE_TEST_KEY not in text and "4242424242424242" not in text
    assert secrets_left(text) == []
    create = exchanges[-2]
    assert "card[cvc]=<redacted:cvc>" in create.request.text
    assert create.request.header("Authorization") == (
        f"Bearer sk_test_<redacted:{fingerprint(LOCALSTRIPE_TEST_KEY)}>"
    )
    # Without --host the upstream's exchanges are dropped and counted.
    dropped = CliRunner().invoke(main, ["import", str(flows), "-o", str(tmp_path / "none.jsonl")])
    assert dropped.exit_code == 0
    assert f"  hosts left out: {host} {len(exchanges)}" in dropped.stdout.splitlines()
