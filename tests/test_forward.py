"""`shadow record --mode forward`: an HTTPS proxy that records only the hosts it is told to.

The upstream is a local HTTPS server with a self-signed certificate made here. Clients
reach it through the recorder: for a recorded host they trust the recorder's CA (created
in a confdir of the test's own); for any other host the TLS connection is tunnelled
untouched, so they see the upstream's own certificate.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import stripe
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from harness.formats.recording import iter_exchanges, read_header
from scenarios.demo.make_recording import recorder

pytestmark = pytest.mark.e2e

KEY = "sk_test_forwardmodekey0001"


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1, and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "upstream.pem", folder / "upstream.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class StripeLikeHandler(BaseHTTPRequestHandler):
    """Answers every request with a customer that says which path and host it was asked."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        payload = {
            "id": "cus_forward0001",
            "object": "customer",
            "path": self.path,
            "host": self.headers.get("Host"),
            "body": body,
        }
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def https_upstream(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A local HTTPS server on 127.0.0.1: its port and its certificate."""
    cert, key = self_signed_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), StripeLikeHandler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], cert
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_forward_mode_records_only_the_captured_host(
    tmp_path: Path,
    https_upstream: tuple[int, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port, upstream_cert = https_upstream
    confdir = tmp_path / "mitmproxy"
    out = tmp_path / "forward.jsonl"
    options = [
        "--mode", "forward", "--capture-host", "localhost",
        "--confdir", str(confdir), "--upstream-ca", str(upstream_cert),
    ]  # fmt: skip
    with recorder(out, *options) as proxy:
        recorder_ca = confdir / "mitmproxy-ca-cert.pem"
        assert recorder_ca.exists()

        # A recorded host: the client trusts only the recorder's CA, so this works only
        # if the proxy intercepted the connection.
        trusting_recorder = ssl.create_default_context(cafile=str(recorder_ca))
        with httpx.Client(proxy=proxy.url, verify=trusting_recorder, trust_env=False) as http:
            answer = http.post(
                f"https://localhost:{port}/v1/customers",
                data={"email": "a@example.org"},
                headers={"Authorization": f"Bearer {KEY}"},
            )
        assert answer.status_code == 200
        assert answer.json()["path"] == "/v1/customers"

        # Another host: the client trusts only the upstream's certificate, so this works
        # only if the proxy passed the TLS connection through untouched.
        trusting_upstream = ssl.create_default_context(cafile=str(upstream_cert))
        with httpx.Client(proxy=proxy.url, verify=trusting_upstream, trust_env=False) as http:
            passed = http.get(f"https://127.0.0.1:{port}/v1/not-recorded")
        assert passed.status_code == 200
        assert passed.json()["path"] == "/v1/not-recorded"

        # The stripe SDK, told about the recorder's CA as docs/recording.md says.
        for variable in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy"):
            monkeypatch.delenv(variable, raising=False)
        monkeypatch.setattr(stripe, "ca_bundle_path", str(recorder_ca))
        sdk = stripe.StripeClient(
            KEY,
            base_addresses={"api": f"https://localhost:{port}"},
            proxy=proxy.url,
            max_network_retries=0,
        )
        assert sdk.v1.customers.retrieve("cus_forward0001").id == "cus_forward0001"

    exchanges = list(iter_exchanges(out))
    assert [(e.request.method, e.request.path) for e in exchanges] == [
        ("POST", "/v1/customers"),
        ("GET", "/v1/customers/cus_forward0001"),
    ]
    for exchange in exchanges:
        assert (exchange.request.scheme, exchange.request.host) == ("https", "localhost")
        assert exchange.request.port == port
        assert exchange.response is not None and exchange.response.status == 200
    assert exchanges[0].request.text == "email=a%40example.org"
    assert KEY not in out.read_text()
    assert read_header(out).source["modes"] == ["regular"]
