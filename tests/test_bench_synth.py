"""The benchmarks' synthetic recordings and the fast target's answers (bench/)."""

from __future__ import annotations

import json
from pathlib import Path

from bench.answers import IdMint, answer
from bench.synth import exchanges, synthesize
from harness.compare.normalize import normalize_response
from harness.formats.recording import RecordingReader
from harness.formats.untrusted import response_json
from harness.model import Response
from harness.replay.idmap import IdMap
from harness.replay.plan import plan_recording
from harness.stripe import endpoint_template


def test_a_recording_is_valid_deterministic_and_grows_by_appending(tmp_path: Path) -> None:
    small = synthesize(tmp_path / "small.jsonl", 300, seed=7)
    large = synthesize(tmp_path / "large.jsonl", 600, seed=7)
    with RecordingReader(small) as one, RecordingReader(large) as other:
        first = [e.to_json() for e in one]
        assert first == [e.to_json() for e, _ in zip(other, range(300), strict=False)]
    assert [e.seq for e in exchanges(50, seed=7)] == list(range(50))
    again = synthesize(tmp_path / "again.jsonl", 300, seed=7)
    # Byte for byte after the header, whose `created` is the wall clock of each write.
    assert small.read_bytes().split(b"\n", 1)[1] == again.read_bytes().split(b"\n", 1)[1]


def test_journeys_are_many_and_the_traffic_is_varied(tmp_path: Path) -> None:
    path = synthesize(tmp_path / "r.jsonl", 2000)
    plan = plan_recording(path)
    assert plan.journeys > 100 and plan.largest[1] < 40 and plan.unproduced == 0
    with RecordingReader(path) as reader:
        endpoints = {endpoint_template(e.request.method, e.request.path) for e in reader}
    assert {
        "POST /v1/customers",
        "POST /v1/payment_intents",
        "GET /v1/invoices",
        "DELETE /v1/subscriptions/{subscription}",
        "GET /v1/customers",
    } <= endpoints


def test_the_fast_target_answers_as_recorded_once_ids_are_mapped() -> None:
    """Replaying through `answer` with fresh ids: the id map learns every created id, and
    the answers normalise to what was recorded."""
    mint, idmap = IdMint("Tgt01"), IdMap()
    for recorded in exchanges(400, seed=3):
        request = recorded.request
        path, query, body = request.path, request.query, request.text
        for value, mapped in [(v, idmap.get(v)) for v in request.path.split("/")]:
            if mapped is not None:
                path = path.replace(value, mapped)
        for source, target in list(idmap.ids.items()):
            query, body = query.replace(source, target), body.replace(source, target)
        status, data = answer(request.method, path, query, body, int(recorded.started), mint)
        assert recorded.response is not None and status == recorded.response.status
        replayed = Response(status, [("Content-Type", "application/json")], json.dumps(data))
        idmap.learn(response_json(recorded.response), response_json(replayed))
        counterparts = {target: source for source, target in idmap.ids.items()}
        recorded_ids = {source: source for source in idmap.ids}
        assert normalize_response(replayed, recorded.started, counterparts) == normalize_response(
            recorded.response, recorded.started, recorded_ids
        )
