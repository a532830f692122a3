"""Compared run directories for the report tests, built by hand as docs/run-format.md and
docs/summary-format.md describe them: run.json, one `<target>.jsonl` per target,
outcomes.jsonl and summary.json, consistent with each other.

Five endpoints take turns; each shows one kind of cause, so a run of any size has the
same handful of groups:

- `POST /v1/customers`: `account_balance` removed (high) and `balance` added (low);
- `GET /v1/customers/{customer}`: matches (with `hostile`, a metadata note that differs
  and carries markup, and a live key and a card number the candidate echoes back);
- `POST /v1/payment_intents`: `charges` removed, expected by a rule;
- `POST /v1/payment_intents/{payment_intent}/confirm`: declined (402) on the candidate in
  every seventh journey (critical);
- `GET /v1/invoices/{invoice}`: `amount_due` differs every other time: noise.

One exchange in 97 gets no answer from the candidate (an error).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.compare.group import Groups
from harness.formats.recording import Header, RecordingWriter
from harness.formats.summary import SUMMARY_VERSION
from harness.model import SEVERITIES, Difference, Exchange, Outcome, Request, Response

SCRIPT_TEXT = "<script>window.__shadowPwned = 'script'</script>"
IMG_TEXT = '"><img src=x onerror="window.__shadowPwned = \'img\'">'
CLOSING_KEY = "</script><script>window.__shadowPwned = 'key'</script><!--"
# A live key a candidate echoes back in metadata: the recording never held it.
LIVE_KEY = "sk_live_" + "51HqLyjWDarjtT1zdp7dcXYZ"
CARD_NUMBER = "4000056655665556"
EXPECTED_REASON = "API 2022-11-15: charges replaced by latest_charge"
NOISE_REASON = "compare.ignore: amount_due is recomputed by the billing job"

# The scenario rules that make compare see the causes above as this module labels them.
COMPARE_RULES = {
    "expect": [
        {"endpoint": "POST /v1/payment_intents", "path": "$.charges", "reason": EXPECTED_REASON}
    ],
    "ignore": [{"endpoint": "GET /v1/invoices*", "path": "$.amount_due", "reason": NOISE_REASON}],
}

ENDPOINTS = (
    ("POST", "/v1/customers", "POST /v1/customers"),
    ("GET", "/v1/customers/{id}", "GET /v1/customers/{customer}"),
    ("POST", "/v1/payment_intents", "POST /v1/payment_intents"),
    (
        "POST",
        "/v1/payment_intents/{id}/confirm",
        "POST /v1/payment_intents/{payment_intent}/confirm",
    ),
    ("GET", "/v1/invoices/{id}", "GET /v1/invoices/{invoice}"),
)
JOURNEY_SIZE = 5
SAMPLES = 5


@dataclass(slots=True)
class SyntheticRun:
    path: Path
    name: str
    baseline: str
    candidates: tuple[str, ...]
    exchanges: int
    summary: dict[str, Any] = field(default_factory=dict)


def _id(prefix: str, seq: int) -> str:
    return f"{prefix}_{seq:010d}Ab"


def _request(seq: int, hostile: bool) -> Request:
    method, path, _ = ENDPOINTS[seq % len(ENDPOINTS)]
    prefix = {0: "cus", 1: "cus", 2: "pi", 3: "pi", 4: "in"}[seq % len(ENDPOINTS)]
    body = ""
    if method == "POST":
        body = f"description=order+{seq}&metadata[order]={seq}"
        if hostile:
            body += "&metadata[note]=%3Cscript%3Ewindow.__shadowPwned%3D%27form%27%3C%2Fscript%3E"
    return Request(
        method=method,
        path=path.replace("{id}", _id(prefix, seq - 1)),
        headers=[
            ("Authorization", "Bearer sk_test_<redacted:1a2b3c4d>"),
            ("Stripe-Version", "2024-09-30.acacia"),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        body=body,
    )


def _baseline_body(seq: int, hostile: bool) -> tuple[int, dict[str, Any]]:
    kind = seq % len(ENDPOINTS)
    if kind in (0, 1):
        body: dict[str, Any] = {
            "id": _id("cus", seq),
            "object": "customer",
            "account_balance": 0,
            "email": f"jenny{seq}@example.com",
            "metadata": {"order": str(seq)},
        }
        if hostile and kind == 1:
            body["metadata"]["note"] = SCRIPT_TEXT
        return 200, body
    if kind in (2, 3):
        return 200, {
            "id": _id("pi", seq),
            "object": "payment_intent",
            "amount": 2000,
            "currency": "usd",
            "status": "succeeded" if kind == 3 else "requires_confirmation",
            "charges": {"object": "list", "data": [{"id": _id("ch", seq), "amount": 2000}]},
            "latest_charge": _id("ch", seq),
        }
    return 200, {"id": _id("in", seq), "object": "invoice", "amount_due": 1500, "paid": True}


def _candidate_answer(
    name: str, seq: int, hostile: bool, base: dict[str, Any]
) -> tuple[int, dict[str, Any], list[Difference]]:
    """The candidate's answer to one exchange and the differences compare would find."""
    kind = seq % len(ENDPOINTS)
    endpoint = ENDPOINTS[kind][2]
    body = json.loads(json.dumps(base))
    diffs: list[Difference] = []
    journey = seq // JOURNEY_SIZE
    second = name != "upgraded"
    if kind == 0 and not second:
        body["balance"] = body.pop("account_balance")
        diffs.append(Difference(endpoint, "$.account_balance", "removed", 0, None, "high"))
        diffs.append(Difference(endpoint, "$.balance", "added", None, 0, "low"))
    elif kind == 1 and hostile:
        body["metadata"]["note"] = IMG_TEXT
        body["metadata"]["echo"] = LIVE_KEY
        body["metadata"]["card"] = CARD_NUMBER
        body["metadata"][CLOSING_KEY] = "x"
        path_key = json.dumps(CLOSING_KEY)
        diffs += [
            Difference(endpoint, "$.metadata.card", "added", None, CARD_NUMBER, "low"),
            Difference(endpoint, "$.metadata.echo", "added", None, LIVE_KEY, "low"),
            Difference(endpoint, "$.metadata.note", "value", SCRIPT_TEXT, IMG_TEXT, "medium"),
            Difference(endpoint, f"$.metadata[{path_key}]", "added", None, "x", "low"),
        ]
    elif kind == 2:
        del body["charges"]
        diffs.append(
            Difference(
                endpoint,
                "$.charges",
                "removed",
                base["charges"],
                None,
                "high",
                "expected",
                EXPECTED_REASON,
            )
        )
    elif kind == 3 and journey % 7 == 3 and not second:
        error = {
            "error": {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "generic_decline",
                "message": "Your card was declined.",
            }
        }
        diffs.append(Difference(endpoint, "$", "error", 200, 402, "critical"))
        return 402, error, diffs
    elif kind == 4 and seq % 2 == 0:
        body["amount_due"] = 1490
        if second:
            diffs.append(Difference(endpoint, "$.amount_due", "value", 1500, 1490, "medium"))
        else:
            diffs.append(
                Difference(
                    endpoint, "$.amount_due", "value", 1500, 1490, "medium", "noise", NOISE_REASON
                )
            )
    for diff in diffs:
        # Where compare.cause would find it: a field of the answer's own object.
        if diff.path.startswith("$.") and diff.kind != "error":
            diff.owner, diff.field = base["object"], diff.path[2:]
            diff.excerpt = {
                "baseline": {"id": base["id"], "object": base["object"]},
                "candidate": {"id": body.get("id"), "object": body.get("object")},
            }
    return 200, body, diffs


def _outcome(
    name: str, seq: int, endpoint: str, diffs: list[Difference], error: str | None
) -> Outcome:
    journey = seq // JOURNEY_SIZE
    if error is not None:
        return Outcome(seq, name, journey, endpoint, "error", error=error)
    real = [d for d in diffs if d.outcome == "difference"]
    if real:
        severity = min((d.severity for d in real), key=SEVERITIES.index)
        return Outcome(seq, name, journey, endpoint, "difference", severity, diffs)
    for kind in ("expected", "noise"):
        if any(d.outcome == kind for d in diffs):
            return Outcome(seq, name, journey, endpoint, kind, None, diffs)
    return Outcome(seq, name, journey, endpoint, "match")


class _Tally:
    """Counts one candidate's outcomes into the summary's shape as they are produced."""

    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()
        self.severities: Counter[str] = Counter()
        self.endpoints: dict[str, Counter[str]] = defaultdict(Counter)
        self.groups = Groups(SAMPLES)
        self.errors: dict[str, dict[str, Any]] = {}

    def add(self, outcome: Outcome) -> None:
        self.outcomes[outcome.kind] += 1
        self.endpoints[outcome.endpoint][outcome.kind] += 1
        if outcome.kind == "difference" and outcome.severity:
            self.severities[outcome.severity] += 1
        if outcome.error is not None:
            entry = self.errors.setdefault(
                outcome.error, {"message": outcome.error, "count": 0, "samples": []}
            )
            entry["count"] += 1
            if len(entry["samples"]) < SAMPLES:
                entry["samples"].append(outcome.seq)
        self.groups.add(outcome)

    def summary(self, exchanges: int) -> dict[str, Any]:
        errors = sorted(self.errors.values(), key=lambda e: -e["count"])
        return {
            "exchanges": exchanges,
            "outcomes": {
                k: self.outcomes[k] for k in ("match", "noise", "expected", "difference", "error")
            },
            "severities": {s: self.severities[s] for s in SEVERITIES},
            "groups": [group.to_json() for group in self.groups.sorted()],
            "errors": [e["message"] for e in errors][:5],
            "error_groups": errors,
            "endpoints": {e: dict(c) for e, c in sorted(self.endpoints.items())},
        }


def _target_header(run: str, target: str) -> Header:
    return Header(
        created="2026-11-23T19:05:01+00:00",
        source={"kind": "replay", "run": run, "target": target},
        redaction={"applied": True, "rules": ["api_keys", "card_numbers"], "pii": "keep"},
    )


def build_run(
    root: Path,
    *,
    exchanges: int = 60,
    candidates: tuple[str, ...] = ("upgraded",),
    hostile: bool = False,
    baseline: str = "control",
    name: str = "twin-20261123-190501",
) -> SyntheticRun:
    """Write a compared run under `root/name` (and its recording under `root`)."""
    run_dir = root / name
    run_dir.mkdir(parents=True)
    recording_path = root / "recording.jsonl"
    recording_header = Header(
        created="2026-11-20T10:00:00+00:00",
        source={"kind": "proxy", "upstream": "https://api.stripe.com"},
        redaction={"applied": True, "rules": ["api_keys", "card_numbers", "cvc"], "pii": "keep"},
    )
    target_names = ([] if baseline == "recording" else [baseline]) + list(candidates)
    writers = {
        t: RecordingWriter(run_dir / f"{t}.jsonl", _target_header(name, t)) for t in target_names
    }
    tallies = {c: _Tally() for c in candidates}
    with (
        RecordingWriter(recording_path, recording_header) as recording,
        open(run_dir / "outcomes.jsonl", "w", encoding="utf-8") as outcomes,
    ):
        for seq in range(exchanges):
            started = 1_795_000_000.0 + seq
            request = _request(seq, hostile)
            status, body = _baseline_body(seq, hostile)
            journey = {"journey": seq // JOURNEY_SIZE, "attempts": 1}
            recorded = Exchange(
                seq,
                started,
                0.05,
                request,
                Response(status, [("Content-Type", "application/json")], json.dumps(body)),
            )
            recording.write(recorded)
            if baseline != "recording":
                writers[baseline].write(
                    Exchange(seq, started, 0.04, request, recorded.response, extra=journey)
                )
            for candidate in candidates:
                endpoint = ENDPOINTS[seq % len(ENDPOINTS)][2]
                if seq % 97 == 50:
                    writers[candidate].write(
                        Exchange(
                            seq, started, 5.0, request, None, "connection refused", extra=journey
                        )
                    )
                    outcome = _outcome(candidate, seq, endpoint, [], "connection refused")
                else:
                    code, answer, diffs = _candidate_answer(candidate, seq, hostile, body)
                    response = Response(
                        code,
                        [("Content-Type", "application/json"), ("Request-Id", f"req_{seq:012d}")],
                        json.dumps(answer),
                    )
                    writers[candidate].write(
                        Exchange(seq, started, 0.06, request, response, extra=journey)
                    )
                    outcome = _outcome(candidate, seq, endpoint, diffs, None)
                tallies[candidate].add(outcome)
                outcomes.write(json.dumps(outcome.to_json()) + "\n")
    for writer in writers.values():
        writer.close()
    run_json = {
        "version": 1,
        "name": name,
        "scenario": {"name": "twin", "path": str(root / "twin.yaml"), "compare": COMPARE_RULES},
        "recording": {
            "path": str(recording_path),
            "header": recording_header.to_json(),
            "exchanges": exchanges,
        },
        "baseline": baseline,
        "targets": [
            {
                "name": t,
                "role": "baseline" if t == baseline else "candidate",
                "url": "http://127.0.0.1:41234",
                "launch": "localstripe",
                "headers": {
                    "Stripe-Version": "2024-09-30.acacia" if t == baseline else "2026-10-28.endive"
                },
                "api_key_env": None
                if t == baseline
                else "SHADOW_KEY_" + t.upper().replace("-", "_"),
                "transforms": [],
                "concurrency": 8,
                "rate_limit": None,
            }
            for t in target_names
        ],
        "journeys": (exchanges + JOURNEY_SIZE - 1) // JOURNEY_SIZE,
        "tool": "stripe-shadow 0.1.0",
        "started": "2026-11-23T19:05:01+00:00",
        "finished": "2026-11-23T19:05:09+00:00",
        "status": "finished",
    }
    (run_dir / "run.json").write_text(json.dumps(run_json, indent=2))
    summary = {
        "version": SUMMARY_VERSION,
        "tool": "stripe-shadow 0.1.0",
        "compared": "2026-11-23T19:06:12+00:00",
        "run": run_json,
        "baseline": baseline,
        "secondary": None,
        "config": {"timestamp_tolerance": 5.0, "samples": SAMPLES},
        "candidates": {c: tallies[c].summary(exchanges) for c in candidates},
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return SyntheticRun(run_dir, name, baseline, candidates, exchanges, summary)
