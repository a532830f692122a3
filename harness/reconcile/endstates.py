"""End states: after a replay, each object the replay created or changed, fetched again
from every target (`GET /v1/<collection>/<id>`, through the target's id map) and written
to `<target>.state.jsonl` in the run directory, one line per object in the order the
recording first changed it, so the files of two targets line up line by line.

Requests go out at most `concurrency` at a time and at most `rate` a second per target
(the target's `rate_limit`, else DEFAULT_RATE: under Stripe's 25 a second in test
mode), a chunk of objects at a time, so memory holds a chunk whatever the run's size.
Bodies are redacted before they reach disk, as every file of a run is."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from harness.capture.redact import redact_tree
from harness.errors import InfrastructureError, InputError, LiveModeRefused
from harness.formats.atomic import atomic_file
from harness.formats.idmap import iter_idmap
from harness.formats.recording import RecordingReader
from harness.formats.rundir import load_run
from harness.formats.untrusted import load_json, response_json
from harness.pairstore import PairStore
from harness.reconcile.stripe_side import StripeObjects, gather_recording
from harness.replay.ratelimit import TokenBucket
from harness.replay.session import AfterReplay, RunningTarget
from harness.scenario import Scenario
from harness.stripe import collection_of, is_live_key, resource_of

STATE_SUFFIX = ".state.jsonl"
RECORDING = "recording"  # a run's baseline when it compares with what was recorded
DEFAULT_RATE = 20.0
DEFAULT_CONCURRENCY = 8
# Objects fetched from every target before their lines are written.
CHUNK = 256
_TIMEOUT = httpx.Timeout(30.0)
_ATTEMPTS = 4
# Writes whose object is not one `GET /v1/<collection>/<id>` reads back.
_NOT_RETRIEVABLE = frozenset({"", "test_helpers", "tokens", "files", "checkout", "billing_portal"})
# Writes that answer what an object would be and change nothing: a preview invoice
# (`upcoming_in_…`) is never stored, listed or retrievable.
_PREVIEWS = frozenset({"create_preview"})


@dataclass(frozen=True, slots=True)
class ChangedObject:
    """An object the recording created or changed, by its recorded id."""

    collection: str
    object: str
    recorded_id: str


def changed_objects(recording: Path) -> list[ChangedObject]:
    """The objects the recording's successful writes (POST, DELETE) answered with, each
    once, in the order first written. `POST /v1/customers/cus_X/sources` answers a card,
    which is not read back at /v1/customers: only an object of the path's own
    collection (by its id's prefix, or a chosen id such as a plan's) is kept, and a
    preview (`POST /v1/invoices/create_preview`) changes nothing."""
    found: dict[str, ChangedObject] = {}
    with RecordingReader(recording) as exchanges:
        for exchange in exchanges:
            response = exchange.response
            if exchange.request.method not in ("POST", "DELETE") or response is None:
                continue
            if exchange.request.path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] in _PREVIEWS:
                continue
            if not 200 <= response.status < 300:
                continue
            body = response_json(response)
            if not isinstance(body, dict):
                continue
            object_id, kind = body.get("id"), body.get("object")
            if not isinstance(object_id, str) or not isinstance(kind, str) or kind == "list":
                continue
            collection = resource_of(exchange.request.path)
            if collection in _NOT_RETRIEVABLE or collection.startswith("v2/"):
                continue
            if collection_of(object_id) not in ("", collection):
                continue
            found.setdefault(object_id, ChangedObject(collection, kind, object_id))
    return list(found.values())


async def _fetch(
    client: httpx.AsyncClient,
    target: RunningTarget,
    bucket: TokenBucket,
    gate: asyncio.Semaphore,
    item: ChangedObject,
) -> dict[str, Any]:
    line: dict[str, Any] = {
        "collection": item.collection,
        "object": item.object,
        "recorded_id": item.recorded_id,
        "id": target.target_id(item.recorded_id),
        "status": None,
        "error": None,
        "body": None,
    }
    if line["id"] is None:
        line["error"] = "the replay never learnt this object's id on the target"
        return line
    path = f"/v1/{item.collection}/{line['id']}"
    async with gate:
        for attempt in range(_ATTEMPTS):
            await bucket.acquire()
            try:
                answer = await client.get(path)
            except httpx.HTTPError as exc:
                if attempt == _ATTEMPTS - 1:
                    raise InfrastructureError(
                        f"target {target.name} at {target.url}: no answer to GET {path} ({exc}); "
                        "a launched target stops with its replay: set `reconcile: true` in "
                        "the scenario to fetch end states while it runs"
                    ) from None
                await asyncio.sleep(0.5 * 2**attempt)
                continue
            if answer.status_code == 429 or answer.status_code >= 500:
                retry = answer.headers.get("Retry-After", "")
                await asyncio.sleep(float(retry) if retry.isdigit() else 0.5 * 2**attempt)
                continue
            break
    line["status"] = answer.status_code
    line["fetched"] = time.time()
    try:
        line["body"] = redact_tree(load_json(answer.text))
    except ValueError:
        line["error"] = f"GET {path} answered {answer.status_code} without JSON"
    return line


def _chunks(items: list[ChangedObject]) -> Iterator[list[ChangedObject]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


async def _fetch_target(target: RunningTarget, items: list[ChangedObject], out: Path) -> int:
    headers = {**target.headers}
    if target.api_key:
        headers["Authorization"] = f"Bearer {target.api_key}"
    bucket = TokenBucket(target.rate_limit or DEFAULT_RATE)
    gate = asyncio.Semaphore(DEFAULT_CONCURRENCY)
    async with httpx.AsyncClient(base_url=target.url, headers=headers, timeout=_TIMEOUT) as client:
        with atomic_file(out) as file:
            for chunk in _chunks(items):
                lines = await asyncio.gather(
                    *(_fetch(client, target, bucket, gate, item) for item in chunk)
                )
                for line in lines:
                    file.write(json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n")
    return len(items)


def recorded_end_states(items: list[ChangedObject], recording: Path, out: Path) -> None:
    """The recording's own end states, for a run whose baseline is the recording: each
    object's last known state in it (the last successful answer that showed it)."""
    store = StripeObjects()
    try:
        gather_recording(str(recording), {item.object for item in items}, store)
        with atomic_file(out) as file:
            for item in items:
                found = store.take(item.object, item.recorded_id)
                line: dict[str, Any] = {
                    "collection": item.collection,
                    "object": item.object,
                    "recorded_id": item.recorded_id,
                    "id": item.recorded_id,
                    "status": None if found is None else (404 if found.deleted else 200),
                    "error": None,
                    "body": None if found is None else redact_tree(found.state),
                }
                file.write(json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n")
    finally:
        store.close()


def fetch_end_states(
    run_dir: Path, recording: Path, targets: list[RunningTarget], baseline: str
) -> int:
    """Every target's end states into `<target>.state.jsonl` (and the recording's, when
    it is the baseline); returns the objects each has a line for. The targets are
    fetched one after the other."""
    items = changed_objects(recording)
    if baseline == RECORDING:
        recorded_end_states(items, recording, run_dir / f"{RECORDING}{STATE_SUFFIX}")
    for target in targets:
        asyncio.run(_fetch_target(target, items, run_dir / f"{target.name}{STATE_SUFFIX}"))
    return len(items)


def read_states(path: Path) -> Iterator[dict[str, Any]]:
    """The lines of a `<target>.state.jsonl`, streamed."""
    with path.open(encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            try:
                data = load_json(line)
            except ValueError:
                raise InputError(f"{path}:{number}: not a state line; fetch again") from None
            yield data


def end_state_step(scenario: Scenario) -> AfterReplay:
    """The step `reconcile: true` adds to a replay: every target's end states, fetched
    before launched targets stop."""

    def fetch(run_dir: Path, targets: list[RunningTarget]) -> None:
        assert scenario.baseline is not None
        fetch_end_states(run_dir, scenario.recording, targets, scenario.baseline)

    return fetch


def fetch_run_end_states(run_dir: str | os.PathLike[str]) -> int:
    """`shadow reconcile RUN_DIR`: the end states of a finished run's targets, through the
    id maps it wrote, from the URLs run.json names (with each target's key from its
    api_key_env). Returns the objects fetched from each."""
    run = load_run(run_dir)
    targets = []
    stores: list[PairStore] = []
    for target in run.targets:
        if not target.url:
            raise InputError(f"{run.path / 'run.json'}: target {target.name} has no url")
        key = None
        if target.api_key_env:
            key = os.environ.get(target.api_key_env) or None
            if key is None:
                raise InputError(
                    f"target {target.name}: api_key_env: {target.api_key_env} is not set; "
                    "export the target's API key in it"
                )
            if is_live_key(key):
                raise LiveModeRefused(
                    f"target {target.name}: {target.api_key_env} holds a live-mode key; "
                    "reconcile end states of a live target with `reconcile: true` in its "
                    "scenario and `shadow run --allow-live`"
                )
        idmap_file = run.idmap_file(target.name)
        ids = PairStore(iter_idmap(idmap_file) if idmap_file.exists() else ())
        stores.append(ids)
        targets.append(
            RunningTarget(
                target.name, target.url, key, dict(target.headers), target.rate_limit, ids.get
            )
        )
    try:
        return fetch_end_states(run.path, run.recording_path, targets, run.baseline)
    finally:
        for store in stores:
            store.close()
