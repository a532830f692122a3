"""The recorder addon in-process, as mitmproxy tests its own addons: the real `Recorder`
in a `taddons.context`, fed flows built by `tflow`, with no proxy and no mock.

tests/test_record.py starts the whole proxy with real clients; these tests call each
event handler directly, to show what it does on its own: what `response` and `error`
write, how `load` declares the options and `configure` reads them (and refuses a bad
value with one sentence saying what to fix), what redaction changes on the way to disk,
and what the file holds afterwards. The flows carry tflow's fixed timestamps (1999-12-31).
"""

from __future__ import annotations

import gzip
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mitmproxy import exceptions, http
from mitmproxy.proxy.mode_specs import ProxyMode
from mitmproxy.test import taddons, tflow, tutils

from harness.capture.addon import Recorder, exchange_from_flow
from harness.capture.pii import PII_MODES
from harness.capture.redact import RedactionPolicy, fingerprint, redact_exchange
from harness.formats.recording import RecordingReader, iter_exchanges
from harness.model import Exchange

KEY = "sk_test_" + "4eC39HqLyjWDarjtT1zdp7dc"  # Stripe's documented test-mode key, joined
CARD = "4242424242424242"
CLIENT_SECRET = "pi_3MtwBwLkdIwHu7ix_secret_YrKJUKribcBjcG8HVhfZluoGH"
EMAIL = "jenny@rosen.example"


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def tctx(recorder: Recorder) -> Iterator[taddons.context]:
    """mitmproxy's test context with the recorder added: its `load` has declared the
    options, and `ctx` answers as inside a running proxy."""
    with taddons.context(recorder) as context:
        yield context


def stripe_flow(
    *,
    host: str = "api.stripe.com",
    method: str = "POST",
    path: str = "/v1/payment_intents",
    body: bytes = b"",
    response: http.Response | bool = True,
    error: str | None = None,
) -> http.HTTPFlow:
    """A finished flow to `host` with the test key in its Authorization header."""
    request = tutils.treq(
        host=host,
        port=443,
        scheme=b"https",
        method=method.encode(),
        path=path.encode(),
        headers=http.Headers(
            authorization=f"Bearer {KEY}", content_type="application/x-www-form-urlencoded"
        ),
        content=body,
    )
    failure = tflow.terr(error) if error is not None else False
    return tflow.tflow(req=request, resp=response, err=failure)


def json_response(data: object, status: int = 200) -> http.Response:
    return tutils.tresp(
        status_code=status,
        headers=http.Headers(content_type="application/json"),
        content=json.dumps(data).encode(),
    )


def start(tctx: taddons.context, recorder: Recorder, out: Path, **options: object) -> None:
    """Set the options as `mitmdump --set` would, then start as the proxy does."""
    tctx.configure(recorder, shadow_out=str(out), **options)
    recorder.running()


@pytest.fixture
def out(tctx: taddons.context, recorder: Recorder, tmp_path: Path) -> Path:
    """The recording the running recorder writes, with the options' defaults."""
    path = tmp_path / "stripe.jsonl"
    start(tctx, recorder, path)
    return path


# --- options: declared in load, read in configure ----------------------------------------


def test_load_declares_the_options_with_help_a_user_can_read(tctx: taddons.context) -> None:
    assert tctx.options.shadow_out is None
    assert tctx.options.shadow_pii == "keep"
    assert tctx.options.shadow_capture_hosts == []
    declared = dict(tctx.options.items())
    assert declared["shadow_pii"].choices == list(PII_MODES)
    for name in ("shadow_out", "shadow_pii", "shadow_capture_hosts"):
        assert len(declared[name].help) > 40, name


def test_a_missing_directory_is_refused_naming_what_to_do(
    tctx: taddons.context, recorder: Recorder, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere" / "stripe.jsonl"
    with pytest.raises(
        exceptions.OptionsError,
        match=rf"^shadow_out: directory {tmp_path / 'nowhere'} does not exist; create it or "
        "pick another file$",
    ):
        tctx.configure(recorder, shadow_out=str(missing))
    assert tctx.options.shadow_out is None  # rolled back


def test_a_directory_is_refused_as_the_file_to_write(
    tctx: taddons.context, recorder: Recorder, tmp_path: Path
) -> None:
    with pytest.raises(
        exceptions.OptionsError,
        match=rf"^shadow_out: {tmp_path} is a directory; name a file in it, e\.g\. "
        rf"{tmp_path / 'stripe.jsonl'}$",
    ):
        tctx.configure(recorder, shadow_out=str(tmp_path))


def test_a_pii_mode_that_does_not_exist_is_refused_with_the_modes(
    tctx: taddons.context, recorder: Recorder
) -> None:
    # mitmproxy lists an option's choices in its help but does not check them.
    with pytest.raises(
        exceptions.OptionsError,
        match=r"^shadow_pii: 'pseudonymise' is not a mode; set keep or pseudonymize$",
    ):
        tctx.configure(recorder, shadow_pii="pseudonymise")
    assert tctx.options.shadow_pii == "keep"


def test_an_empty_capture_host_is_refused_and_the_hosts_stay(
    tctx: taddons.context, recorder: Recorder
) -> None:
    tctx.configure(recorder, shadow_capture_hosts=["billing.example.com"])
    with pytest.raises(
        exceptions.OptionsError,
        match=r"^shadow_capture_hosts: a host name cannot be empty; drop the empty entry$",
    ):
        tctx.configure(recorder, shadow_capture_hosts=["billing.example.com", " "])
    assert recorder.captures(stripe_flow(host="billing.example.com"))


# --- which flows are recorded ------------------------------------------------------------


def test_a_forward_proxy_records_stripe_and_the_hosts_added(
    tctx: taddons.context, recorder: Recorder
) -> None:
    tctx.configure(recorder, shadow_capture_hosts=[" Billing.Example.com"])
    for host in ("api.stripe.com", "files.stripe.com", "connect.stripe.com", "billing.example.com"):
        assert recorder.captures(stripe_flow(host=host)), host
    assert not recorder.captures(stripe_flow(host="example.com"))
    assert not recorder.captures(stripe_flow(host="api.stripe.com.example.com"))


def test_a_reverse_proxy_records_whatever_reaches_it(recorder: Recorder) -> None:
    flow = stripe_flow(host="127.0.0.1")
    flow.client_conn.proxy_mode = ProxyMode.parse("reverse:http://127.0.0.1:12111")
    assert recorder.captures(flow)


def test_without_shadow_out_nothing_is_recorded(
    tctx: taddons.context, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    recorder.running()
    assert "set shadow_out=FILE to record" in caplog.text
    recorder.response(stripe_flow())
    assert recorder.writer is None and recorder.seq == 0


# --- response and error ------------------------------------------------------------------


def test_response_writes_the_exchange_redacted_and_flushed(recorder: Recorder, out: Path) -> None:
    flow = stripe_flow(
        body=f"amount=500&currency=usd&payment_method_data[card][number]={CARD}".encode(),
        response=json_response({"id": "pi_1", "client_secret": CLIENT_SECRET}),
    )
    recorder.response(flow)

    # On disk before the recorder stops: a killed proxy loses only what is in flight.
    [recorded] = list(iter_exchanges(out))
    assert recorded == redact_exchange(exchange_from_flow(flow, 0))
    assert recorded.seq == 0 and recorded.started == 946681200 and recorded.duration == 3
    assert recorded.request.header("Authorization") == (
        f"Bearer sk_test_<redacted:{fingerprint(KEY)}>"
    )
    assert "payment_method_data[card][number]=<redacted:card:4242>" in recorded.request.text
    assert recorded.response is not None and recorded.response.status == 200
    assert json.loads(recorded.response.text) == {
        "id": "pi_1",
        "client_secret": "pi_3MtwBwLkdIwHu7ix_secret_<redacted>",
    }
    text = out.read_text()
    assert KEY not in text and CARD not in text and CLIENT_SECRET not in text


def test_error_without_a_response_records_the_failure(recorder: Recorder, out: Path) -> None:
    recorder.error(stripe_flow(response=False, error="Connection refused"))
    [recorded] = list(iter_exchanges(out))
    assert recorded.response is None and recorded.error == "Connection refused"
    assert recorded.request.path == "/v1/payment_intents"


def test_error_after_a_response_leaves_the_exchange_as_recorded(
    recorder: Recorder, out: Path
) -> None:
    flow = stripe_flow(response=json_response({"id": "pi_1"}), error="client disconnected")
    recorder.response(flow)
    recorder.error(flow)
    [recorded] = list(iter_exchanges(out))
    assert recorded.error is None and recorded.response is not None


def test_flows_to_other_hosts_are_passed_through_unrecorded(recorder: Recorder, out: Path) -> None:
    recorder.response(stripe_flow(host="example.com"))
    recorder.error(stripe_flow(host="example.com", response=False, error="refused"))
    recorder.response(stripe_flow(path="/v1/customers"))
    assert [e.request.path for e in iter_exchanges(out)] == ["/v1/customers"]
    assert [e.seq for e in iter_exchanges(out)] == [0]


def test_a_compressed_body_is_recorded_as_the_application_sees_it(
    recorder: Recorder, out: Path
) -> None:
    response = tutils.tresp(
        headers=http.Headers(content_type="application/json", content_encoding="gzip")
    )
    response.content = b'{"id": "cus_1", "object": "customer"}'  # encoded with gzip
    assert response.raw_content is not None and response.raw_content.startswith(b"\x1f\x8b")
    recorder.response(stripe_flow(method="GET", path="/v1/customers/cus_1", response=response))
    [recorded] = list(iter_exchanges(out))
    assert recorded.response is not None
    assert recorded.response.body == '{"id": "cus_1", "object": "customer"}'
    assert recorded.response.header("Content-Encoding") is None


# --- redaction on the way to disk ----------------------------------------------------------


def test_pseudonymize_replaces_personal_data_with_the_same_fake_each_time(
    tctx: taddons.context, recorder: Recorder, tmp_path: Path
) -> None:
    out = tmp_path / "stripe.jsonl"
    start(tctx, recorder, out, shadow_pii="pseudonymize")
    body = f"email={EMAIL.replace('@', '%40')}&name=Jenny+Rosen".encode()
    customer = {"id": "cus_1", "object": "customer", "email": EMAIL, "name": "Jenny Rosen"}
    recorder.response(
        stripe_flow(path="/v1/customers", body=body, response=json_response(customer))
    )
    recorder.response(
        stripe_flow(method="GET", path="/v1/customers/cus_1", response=json_response(customer))
    )
    created, fetched = iter_exchanges(out)
    assert created.response is not None and fetched.response is not None
    fake = json.loads(created.response.text)
    assert fake["email"].endswith("@example.com") and fake["name"] != "Jenny Rosen"
    assert json.loads(fetched.response.text) == fake
    text = out.read_text()
    # Nor in the request's form, where the address is percent-encoded.
    assert "rosen.example" not in text and "Jenny" not in text and KEY not in text


def test_keep_leaves_personal_data_and_redacts_secrets(recorder: Recorder, out: Path) -> None:
    customer = {"id": "cus_1", "email": EMAIL}
    recorder.response(stripe_flow(path="/v1/customers", response=json_response(customer)))
    [recorded] = list(iter_exchanges(out))
    assert recorded.response is not None and json.loads(recorded.response.text) == customer
    assert KEY not in out.read_text()


@settings(max_examples=40, deadline=None)
@given(
    request_body=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)),
    response_body=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)),
    status=st.sampled_from([200, 400, 402, 404, 500]),
)
def test_the_file_holds_the_redacted_exchange_whatever_the_bodies(
    request_body: bytes, response_body: bytes, status: int
) -> None:
    recorder = Recorder()
    with taddons.context(recorder) as tctx, tempfile.TemporaryDirectory() as directory:
        out = Path(directory) / "stripe.jsonl"
        start(tctx, recorder, out)
        flow = stripe_flow(
            body=request_body + f"&card[number]={CARD}".encode(),
            response=tutils.tresp(status_code=status, content=response_body + b" " + KEY.encode()),
        )
        recorder.response(flow)
        recorder.done()
        [recorded] = list(iter_exchanges(out))
        assert recorded == redact_exchange(exchange_from_flow(flow, 0), RedactionPolicy())
        raw = out.read_bytes()
        assert KEY.encode() not in raw and CARD.encode() not in raw


# --- the file afterwards -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["stripe.jsonl", "stripe.jsonl.gz"])
def test_done_leaves_a_complete_recording_with_its_header(
    tctx: taddons.context, recorder: Recorder, tmp_path: Path, name: str
) -> None:
    out = tmp_path / name
    start(
        tctx,
        recorder,
        out,
        shadow_pii="pseudonymize",
        mode=["reverse:https://api.stripe.com"],
    )
    for index in range(3):
        recorder.response(stripe_flow(path=f"/v1/customers/cus_{index}", method="GET"))
    recorder.done()
    assert recorder.writer is None

    with RecordingReader(out) as reader:  # strict: a cut-off last line would be an error
        header = reader.header
        exchanges: list[Exchange] = list(reader)
    assert header.source == {"kind": "mitmproxy", "modes": ["reverse:https://api.stripe.com"]}
    assert header.redaction == RedactionPolicy(pii="pseudonymize").header_json()
    assert header.redaction["pii"] == "pseudonymize" and "pii" in header.redaction["rules"]
    assert [e.seq for e in exchanges] == [0, 1, 2]
    assert [e.request.path for e in exchanges] == [f"/v1/customers/cus_{i}" for i in range(3)]
    if name.endswith(".gz"):
        assert gzip.decompress(out.read_bytes()).count(b"\n") == 4

    recorder.response(stripe_flow())  # after done: nothing more is written
    assert len(list(iter_exchanges(out))) == 3


def test_a_new_shadow_out_while_running_starts_a_new_file(
    tctx: taddons.context, recorder: Recorder, tmp_path: Path
) -> None:
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    start(tctx, recorder, first)
    recorder.response(stripe_flow(path="/v1/customers"))
    tctx.configure(recorder, shadow_out=str(second))
    recorder.response(stripe_flow(path="/v1/charges"))
    recorder.done()
    assert [(e.seq, e.request.path) for e in iter_exchanges(first)] == [(0, "/v1/customers")]
    assert [(e.seq, e.request.path) for e in iter_exchanges(second)] == [(0, "/v1/charges")]


def test_the_file_being_written_is_never_started_over(
    tctx: taddons.context, recorder: Recorder, out: Path, tmp_path: Path
) -> None:
    recorder.response(stripe_flow(path="/v1/customers"))
    # The same file again, and a refused change, both leave what it holds.
    tctx.configure(recorder, shadow_out=str(out))
    with pytest.raises(exceptions.OptionsError, match="does not exist"):
        tctx.configure(recorder, shadow_out=str(tmp_path / "nowhere" / "other.jsonl"))
    # Its header says how it was redacted, so the PII mode changes only with a new file.
    with pytest.raises(
        exceptions.OptionsError,
        match=rf"^shadow_pii: {out} is recorded with keep, as its header says; set shadow_out "
        "to a new file with it to pseudonymize$",
    ):
        tctx.configure(recorder, shadow_pii="pseudonymize")
    recorder.response(stripe_flow(path="/v1/charges"))
    recorder.done()
    assert [(e.seq, e.request.path) for e in iter_exchanges(out)] == [
        (0, "/v1/customers"),
        (1, "/v1/charges"),
    ]
    with RecordingReader(out) as reader:
        assert reader.header.redaction["pii"] == "keep"


def test_unsetting_shadow_out_while_running_stops_recording(
    tctx: taddons.context, recorder: Recorder, out: Path
) -> None:
    recorder.response(stripe_flow(path="/v1/customers"))
    tctx.configure(recorder, shadow_out=None)
    assert recorder.writer is None
    recorder.response(stripe_flow(path="/v1/charges"))
    with RecordingReader(out) as reader:
        assert [e.request.path for e in reader] == ["/v1/customers"]
