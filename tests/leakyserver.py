"""A Stripe-shaped server that leaks every secret it can, for the test that greps every
file a `shadow run` writes (tests/test_secrets_never_written.py).

`python tests/leakyserver.py --port N` serves on 127.0.0.1:N. It prints each request it
gets (its Authorization header, query and body) to stdout, as a target's debug log might,
and answers with the secrets Stripe's answers hold: webhook secrets, ephemeral keys, OAuth
tokens, client secrets in objects and in redirect URLs, and the request's own card
number, key and query quoted back in an error message.
"""

from __future__ import annotations

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

# Secrets of the server's own, in its answers: each is searched for in every file.
WEBHOOK_SECRET = "whsec_" + "LeakyWebhookSecret0001"
EPHEMERAL_KEY = "ek_test_" + "LeakyEphemeralKey0001"
ACCESS_TOKEN = "sk_test_" + "LeakyAccessToken0001"
REFRESH_TOKEN = "rt_" + "LeakyRefreshToken0001"
PUBLISHABLE_KEY = "pk_test_" + "LeakyPublishable0001"
CLIENT_SECRET = "pi_3LeakyIntent0001_secret_" + "LeakyClientSecret0001"
ANSWER_SSN = "123-45-6789"


def answer_for(
    method: str, path: str, query: str, body: str, authorization: str
) -> tuple[int, Any]:
    """The status and JSON a request gets."""
    if path == "/v1/balance":
        return 200, {"object": "balance", "available": [], "livemode": False}
    if path == "/oauth/token":
        return 200, {
            "access_token": ACCESS_TOKEN,
            "refresh_token": REFRESH_TOKEN,
            "stripe_publishable_key": PUBLISHABLE_KEY,
            "stripe_user_id": "acct_1LeakyAccount01",
            "token_type": "bearer",
            "scope": "read_write",
            "livemode": False,
        }
    if path == "/v1/webhook_endpoints":
        return 200, {
            "id": "we_1LeakyEndpoint01",
            "object": "webhook_endpoint",
            "secret": WEBHOOK_SECRET,
        }
    if path == "/v1/ephemeral_keys":
        return 200, {"id": "ephkey_1Leaky01", "object": "ephemeral_key", "secret": EPHEMERAL_KEY}
    if path.startswith("/v1/payment_intents"):
        return 200, {
            "id": "pi_3LeakyIntent0001",
            "object": "payment_intent",
            "client_secret": CLIENT_SECRET,
            "next_action": {
                "redirect_to_url": {
                    "url": f"https://hooks.example/redirect?client_secret={CLIENT_SECRET}"
                    f"&key={PUBLISHABLE_KEY.replace('_', '%5F')}"
                }
            },
        }
    if path == "/v1/accounts":
        return 200, {
            "id": "acct_1LeakyAccount01",
            "object": "account",
            "individual": {"ssn": ANSWER_SSN, "id_number": "123456789", "ssn_last_4": "6789"},
        }
    # Anything else: an error quoting what it was sent (its key, its card, its query).
    return 402, {
        "error": {
            "type": "card_error",
            "message": f"Declined: {method} {path}?{query} with {authorization}: {body}",
            "request_log_url": f"https://dashboard.example/logs?{query}",
        }
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        url = urlsplit(self.path)
        authorization = self.headers.get("Authorization", "")
        print(f"{self.command} {self.path} Authorization: {authorization} body: {body}", flush=True)
        status, answer = answer_for(self.command, url.path, url.query, body, authorization)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Request-Id", "req_LeakyRequest01")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(prog="leakyserver")
    parser.add_argument("--port", type=int, required=True)
    server = ThreadingHTTPServer(("127.0.0.1", parser.parse_args().port), Handler)
    server.serve_forever()


if __name__ == "__main__":
    main()
