"""Stripe's side: each object of the mapped types with its last known state, gathered
from a recording (the last answer that showed it) or from a live target (its paged
lists), into a scratch SQLite file so a million objects take disk, not memory.

The store then answers `take(type, id)` for each of the customer's rows, marking what
it hands out, and `unseen(type)` lists what no row asked for: the objects only in Stripe.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from harness.errors import InfrastructureError, InputError
from harness.formats.recording import RecordingReader
from harness.formats.untrusted import load_json, response_json
from harness.model import Exchange
from harness.stripe import request_form_tree

# Objects buffered before a write to the scratch file.
_BATCH = 5000
# A deleted object: Stripe answers `{"id", "object", "deleted": true}`.
DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class Found:
    """What the store holds for an id: its state, or that Stripe deleted it; and whether
    an earlier row asked for it already."""

    state: dict[str, Any] | None
    deleted: bool
    taken_before: bool


class StripeObjects:
    """(object type, id) → last known state, on a scratch file removed by `close`."""

    def __init__(self) -> None:
        self._directory = tempfile.TemporaryDirectory(prefix="shadow-reconcile-")
        self._db = sqlite3.connect(Path(self._directory.name) / "objects.sqlite")
        self._db.executescript(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
            "CREATE TABLE objects (type TEXT NOT NULL, id TEXT NOT NULL, state TEXT, "
            "seen INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (type, id)) WITHOUT ROWID;"
        )
        self._pending: dict[tuple[str, str], str | None] = {}

    def put(self, kind: str, object_id: str, state: dict[str, Any] | None) -> None:
        """Remember `state` (None: deleted) as the latest for the object."""
        self._pending[(kind, object_id)] = (
            None if state is None else json.dumps(state, separators=(",", ":"))
        )
        if len(self._pending) >= _BATCH:
            self.flush()

    def flush(self) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO objects (type, id, state) VALUES (?, ?, ?)",
            ((kind, object_id, state) for (kind, object_id), state in self._pending.items()),
        )
        self._pending.clear()

    def take(self, kind: str, object_id: str) -> Found | None:
        """The object's state, marked as asked for; None when Stripe has no such object."""
        row = self._db.execute(
            "SELECT state, seen FROM objects WHERE type = ? AND id = ?", (kind, object_id)
        ).fetchone()
        if row is None:
            return None
        state, seen = row
        if not seen:
            self._db.execute(
                "UPDATE objects SET seen = 1 WHERE type = ? AND id = ?", (kind, object_id)
            )
        if state is None:
            return Found(None, True, bool(seen))
        return Found(load_json(state), False, bool(seen))

    def unseen(self, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """The live objects of `kind` no row asked for, by id."""
        cursor = self._db.execute(
            "SELECT id, state FROM objects WHERE type = ? AND seen = 0 AND state IS NOT NULL "
            "ORDER BY id",
            (kind,),
        )
        for object_id, state in cursor:
            yield object_id, load_json(state)

    def count(self, kind: str) -> int:
        """The live objects of `kind`."""
        row = self._db.execute(
            "SELECT COUNT(*) FROM objects WHERE type = ? AND state IS NOT NULL", (kind,)
        ).fetchone()
        return int(row[0])

    def close(self) -> None:
        self._db.close()
        self._directory.cleanup()


def objects_in(tree: Any, kinds: frozenset[str]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every object of `kinds` in an answer, outermost first (a list's items, an
    expanded object inside another), as (type, id, object). An event's `data` is left
    out: it holds its object as it was when the event happened (under the key `object`,
    where other objects name their type), not as it was when the event was read."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            kind, object_id = node.get("object"), node.get("id")
            if not isinstance(kind, str):
                kind = None
            if kind in kinds and isinstance(object_id, str):
                yield kind, object_id, node
            stack.extend(
                reversed(
                    [
                        value
                        for key, value in node.items()
                        if isinstance(value, dict | list)
                        and not (kind == "event" and key == "data")
                    ]
                )
            )
        elif isinstance(node, list):
            stack.extend(reversed([v for v in node if isinstance(v, dict | list)]))


def _expanded(exchange: Exchange) -> tuple[frozenset[str], frozenset[str]]:
    """The fields a request asked Stripe to expand (`expand[]=customer`), as the first
    field of each path: on the answer's own object, and on a list answer's items
    (`expand[]=data.customer`)."""
    request = exchange.request
    expand = request_form_tree(request.method, request.query, request.body).get("expand")
    paths = [expand] if isinstance(expand, str) else expand if isinstance(expand, list) else []
    own, items = set(), set()
    for path in paths:
        if isinstance(path, str) and path:
            head, _, rest = path.partition(".")
            if head == "data" and rest:
                items.add(rest.split(".", 1)[0])
            else:
                own.add(head)
    return frozenset(own), frozenset(items)


def _collapsed(state: dict[str, Any], fields: frozenset[str]) -> dict[str, Any]:
    """An object as Stripe answers it unexpanded: each expanded field back to its id."""
    if not fields:
        return state
    return {
        key: value["id"]
        if key in fields and isinstance(value, dict) and isinstance(value.get("id"), str)
        else value
        for key, value in state.items()
    }


def last_states(
    exchange: Exchange, kinds: frozenset[str]
) -> Iterator[tuple[str, str, dict[str, Any] | None]]:
    """The objects of `kinds` a successful answer shows, as (type, id, state), the state
    None for a deletion. The answer's own object (or a list answer's items) comes as a
    plain retrieve would answer it: what the request expanded, back to ids; an object
    expanded inside it is whole, as Stripe expands it."""
    response = exchange.response
    if response is None or not 200 <= response.status < 300:
        return
    body = response_json(response)
    own, items = _expanded(exchange)
    listed = body.get("data") if isinstance(body, dict) else None
    listed_ids = {id(item) for item in listed} if isinstance(listed, list) else set()
    for kind, object_id, found in objects_in(body, kinds):
        if found.get("deleted") is True:
            yield kind, object_id, None
        elif found is body:
            yield kind, object_id, _collapsed(found, own)
        elif id(found) in listed_ids:
            yield kind, object_id, _collapsed(found, items)
        else:
            yield kind, object_id, found


def gather_recording(
    path: str, kinds: Iterable[str], store: StripeObjects, *, allow_truncated: bool = False
) -> int:
    """Each object's last known state in a recording: the last successful answer that
    showed it, whole (a deletion answer marks it deleted). Returns the exchanges read."""
    wanted = frozenset(kinds)
    read = 0
    with RecordingReader(path, allow_truncated=allow_truncated) as recording:
        for exchange in recording:
            read += 1
            for kind, object_id, state in last_states(exchange, wanted):
                store.put(kind, object_id, state)
    store.flush()
    return read


# Pages one list may take (100 objects each): ten million objects, then it stops.
MAX_PAGES = 100_000
# Attempts of one page when the target answers 429 or 5xx, or does not answer.
_ATTEMPTS = 5
_TIMEOUT = httpx.Timeout(30.0)


@dataclass(frozen=True, slots=True)
class LiveTarget:
    """A Stripe API (or one standing in for it) to list objects from."""

    url: str
    api_key: str
    rate: float  # requests per second at most


def _page(client: httpx.Client, target: LiveTarget, path: str, params: dict[str, Any]) -> Any:
    """One page of a list, waiting out 429s and 5xx the way Stripe asks (Retry-After)."""
    for attempt in range(_ATTEMPTS):
        try:
            answer = client.get(path, params=params)
        except httpx.HTTPError as exc:
            if attempt == _ATTEMPTS - 1:
                raise InfrastructureError(
                    f"--stripe {target.url}: no answer to GET {path} ({exc})"
                ) from None
            time.sleep(min(2.0**attempt, 8.0))
            continue
        if answer.status_code == 429 or answer.status_code >= 500:
            retry = answer.headers.get("Retry-After", "")
            time.sleep(
                float(retry) if retry.replace(".", "", 1).isdigit() else min(2.0**attempt, 8.0)
            )
            continue
        if answer.status_code in (401, 403):
            raise InputError(
                f"--stripe {target.url}: GET {path} answered {answer.status_code}; check the "
                "key in --api-key-env"
            )
        if answer.status_code != 200:
            raise InfrastructureError(
                f"--stripe {target.url}: GET {path} answered {answer.status_code} "
                f"({answer.text[:120]!r})"
            )
        try:
            return load_json(answer.text)
        except ValueError:
            raise InfrastructureError(f"--stripe {target.url}: GET {path}: not JSON") from None
    raise InfrastructureError(f"--stripe {target.url}: GET {path} failed {_ATTEMPTS} times")


def gather_target(target: LiveTarget, collections: dict[str, str], store: StripeObjects) -> int:
    """Every object of each type (type → its collection) through the target's paged
    lists, at most `target.rate` requests a second. Returns the requests sent."""
    interval = 1.0 / target.rate
    sent = 0
    last = 0.0
    headers = {"Authorization": f"Bearer {target.api_key}"}
    with httpx.Client(base_url=target.url, headers=headers, timeout=_TIMEOUT) as client:
        for kind, collection in collections.items():
            path = f"/v1/{collection}"
            params: dict[str, Any] = {"limit": 100}
            if collection == "subscriptions":
                params["status"] = "all"  # a plain list leaves canceled subscriptions out
            for _ in range(MAX_PAGES):
                wait = last + interval - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                last = time.monotonic()
                page = _page(client, target, path, params)
                sent += 1
                data = page.get("data") if isinstance(page, dict) else None
                if not isinstance(data, list):
                    raise InfrastructureError(f"--stripe {target.url}: GET {path}: not a list")
                for item in data:
                    if isinstance(item, dict) and isinstance(item.get("id"), str):
                        store.put(kind, item["id"], item)
                if not page.get("has_more") or not data:
                    break
                params["starting_after"] = data[-1]["id"]
    store.flush()
    return sent
