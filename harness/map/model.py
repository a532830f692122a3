"""The integration map: what an integration does with Stripe, read from its traffic, in a
form that merges (docs/map.md, harness/schemas/map-v1.schema.json).

Every part is a count, a sketch, a tally with its first examples, or a window
(harness/map/windows.py, flows.py) with its open edges, so that:

- reading a recording exchange by exchange into a map holds memory bounded by the
  endpoints, shapes and accounts the traffic has, and by the traffic of the last window
  (minutes), never by its length;
- `merge(a, b)` of the maps of two recordings equals the map of one recording holding
  both in turn, so a week of recordings maps one by one, and a map is kept current by
  merging in each new recording.

Derived figures (percentiles, peaks, findings) are computed from these parts when the
map is written, never stored as state.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from harness.errors import InputError
from harness.map.evidence import (
    Example,
    Tally,
    merge_tallies,
    tallies_from_json,
    tallies_to_json,
)
from harness.map.flows import IDLE, Flows, Shape, Step
from harness.map.observe import Observation, short_hash
from harness.map.sketch import LatencySketch
from harness.map.windows import SLACK, Peak, Peaks, Recall, RecallRule, Span
from harness.stripe.guidelines import (
    SEARCH_LAG_SECONDS,
    WATCHED_PARAMETERS,
    retry_cannot_succeed,
)

MAP_FORMAT = "stripe-shadow-map"
MAP_VERSION = 1

# How long after a request the same one again counts as a retry (seconds): SDKs retry
# within seconds, a person clicking again within a minute.
RETRY_WINDOW = 120.0
# How soon the same read again counts as reading it again (seconds).
POLL_WINDOW = 300.0
# Buckets of the rate peaks: a second, and an hour for updates of one PaymentIntent.
SECOND = 1.0
HOUR = 3600.0
# How often (in exchanges) a map being read lets go of what no later exchange needs.
SETTLE_EVERY = 4096


def _count(counter: Counter[str]) -> dict[str, int]:
    return {name: counter[name] for name in sorted(counter)}


# --- the windowed concerns -----------------------------------------------------------------


def _again(previous: str | None, kind: str) -> bool:
    return previous is not None


def _after_hopeless_4xx(previous: str | None, kind: str) -> bool:
    return previous == "hopeless"


def _search_after_write(previous: str | None, kind: str) -> bool:
    return kind == "search" and previous == "write"


# The concerns judged against the last exchange of their key (windows.Recall), by name.
RECALL_RULES = {
    rule.name: rule
    for rule in (
        # The same Idempotency-Key again: a retry the key makes safe.
        RecallRule("key_reuses", RETRY_WINDOW, _again, lambda kind: "sent"),
        # The same request again after a 4xx that the same request gets again.
        RecallRule("hopeless_retries", RETRY_WINDOW, _after_hopeless_4xx, lambda kind: kind),
        # The same read (path and query) again soon.
        RecallRule("rereads", POLL_WINDOW, _again, lambda kind: "read"),
        # A search of a resource shortly after a write to it (Search lags).
        RecallRule(
            "searches_after_writes",
            SEARCH_LAG_SECONDS,
            _search_after_write,
            lambda kind: "write" if kind == "write" else None,
        ),
    )
}


# --- sections ------------------------------------------------------------------------------


@dataclass(slots=True)
class EndpointStats:
    """One endpoint template: calls, answers, latency, idempotency, parameters, lists."""

    calls: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    latency: LatencySketch = field(default_factory=LatencySketch)
    posts: int = 0
    with_key: int = 0
    without_key: Tally = field(default_factory=Tally)
    replayed: int = 0
    secrets_in_query: Tally = field(default_factory=Tally)
    parameters: Counter[str] = field(default_factory=Counter)
    watched: dict[str, Tally] = field(default_factory=dict)  # WATCHED_PARAMETERS sent
    expand: Counter[str] = field(default_factory=Counter)
    deep_expand: Tally = field(default_factory=Tally)
    list_reads: int = 0
    limits: Counter[str] = field(default_factory=Counter)
    cursor_pages: int = 0
    has_more: int = 0
    calls_seen: Tally = field(default_factory=Tally)  # every call: the first examples

    def add(self, seen: Observation, expand_limit: int) -> None:
        self.calls += 1
        self.calls_seen.add(seen.example)
        self.statuses["none" if seen.status is None else str(seen.status)] += 1
        if seen.error_code:
            self.errors[seen.error_code] += 1
        self.latency.add(seen.duration)
        if seen.method == "POST":
            self.posts += 1
            if seen.idempotency_key:
                self.with_key += 1
            else:
                self.without_key.add(seen.example)
        if seen.replayed:
            self.replayed += 1
        if seen.secret_in_query:
            self.secrets_in_query.add(seen.example)
        self.parameters.update(seen.parameters)
        for name in WATCHED_PARAMETERS.intersection(seen.parameters):
            self.watched.setdefault(name, Tally()).add(seen.example)
        self.expand.update(seen.expand)
        if any(expansion.count(".") + 1 > expand_limit for expansion in seen.expand):
            self.deep_expand.add(seen.example)
        if seen.list_read:
            self.list_reads += 1
            self.limits[seen.limit or "default"] += 1
            self.cursor_pages += seen.cursor
            self.has_more += seen.has_more

    def merge(self, other: EndpointStats, offset: int) -> None:
        self.calls += other.calls
        self.calls_seen.merge(other.calls_seen, offset)
        self.statuses.update(other.statuses)
        self.errors.update(other.errors)
        self.latency.merge(other.latency)
        self.posts += other.posts
        self.with_key += other.with_key
        self.without_key.merge(other.without_key, offset)
        self.replayed += other.replayed
        self.secrets_in_query.merge(other.secrets_in_query, offset)
        self.parameters.update(other.parameters)
        merge_tallies(self.watched, other.watched, offset)
        self.expand.update(other.expand)
        self.deep_expand.merge(other.deep_expand, offset)
        self.list_reads += other.list_reads
        self.limits.update(other.limits)
        self.cursor_pages += other.cursor_pages
        self.has_more += other.has_more

    @property
    def errors_total(self) -> int:
        return sum(
            n for status, n in self.statuses.items() if status == "none" or int(status) >= 400
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "examples": self.calls_seen.to_json()["examples"],
            "statuses": _count(self.statuses),
            "errors": _count(self.errors),
            "latency": self.latency.to_json(),
            "p50_ms": self.latency.quantile(0.5),
            "p95_ms": self.latency.quantile(0.95),
            "posts": self.posts,
            "with_idempotency_key": self.with_key,
            "without_idempotency_key": self.without_key.to_json(),
            "idempotent_replays": self.replayed,
            "secrets_in_query": self.secrets_in_query.to_json(),
            "parameters": _count(self.parameters),
            "watched_parameters": tallies_to_json(self.watched),
            "expand": _count(self.expand),
            "deep_expand": self.deep_expand.to_json(),
            "lists": {
                "reads": self.list_reads,
                "limits": _count(self.limits),
                "cursor_pages": self.cursor_pages,
                "has_more": self.has_more,
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EndpointStats:
        lists = data["lists"]
        return cls(
            calls=int(data["calls"]),
            calls_seen=Tally(int(data["calls"]), [Example.from_json(e) for e in data["examples"]]),
            statuses=Counter({str(k): int(v) for k, v in data["statuses"].items()}),
            errors=Counter({str(k): int(v) for k, v in data["errors"].items()}),
            latency=LatencySketch.from_json(data["latency"]),
            posts=int(data["posts"]),
            with_key=int(data["with_idempotency_key"]),
            without_key=Tally.from_json(data["without_idempotency_key"]),
            replayed=int(data["idempotent_replays"]),
            secrets_in_query=Tally.from_json(data["secrets_in_query"]),
            parameters=Counter({str(k): int(v) for k, v in data["parameters"].items()}),
            watched=tallies_from_json(data["watched_parameters"]),
            expand=Counter({str(k): int(v) for k, v in data["expand"].items()}),
            deep_expand=Tally.from_json(data["deep_expand"]),
            list_reads=int(lists["reads"]),
            limits=Counter({str(k): int(v) for k, v in lists["limits"].items()}),
            cursor_pages=int(lists["cursor_pages"]),
            has_more=int(lists["has_more"]),
        )


ACTIONS = ("created", "read", "updated", "deleted")


@dataclass(slots=True)
class Source:
    """A recording the map has read: which, made when, and which of the map's exchanges
    (`first_at` onwards) came from it."""

    path: str
    created: str
    exchanges: int
    first_at: int
    truncated: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "created": self.created,
            "exchanges": self.exchanges,
            "first_at": self.first_at,
            "truncated": self.truncated,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Source:
        return cls(
            str(data["path"]),
            str(data["created"]),
            int(data["exchanges"]),
            int(data["first_at"]),
            bool(data.get("truncated", False)),
        )


@dataclass(slots=True)
class Settings:
    """What a map was built with; maps merge only when theirs are the same."""

    since: float | None = None  # exchanges that started before this were left out
    upgrade_to: str | None = None  # the API version the upgrade section checks against
    expand_limit: int = 4

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "upgrade_to": self.upgrade_to,
            "expand_limit": self.expand_limit,
            "slack_seconds": SLACK,
            "retry_window_seconds": RETRY_WINDOW,
            "poll_window_seconds": POLL_WINDOW,
            "flow_idle_seconds": IDLE,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Settings:
        since = data.get("since")
        return cls(
            None if since is None else float(since),
            data.get("upgrade_to"),
            int(data.get("expand_limit", 4)),
        )


@dataclass(slots=True)
class IntegrationMap:
    """Everything the map knows; `add` one observation at a time, `merge` a later map."""

    settings: Settings = field(default_factory=Settings)
    sources: list[Source] = field(default_factory=list)
    exchanges: int = 0
    untimed: int = 0
    span: Span = field(default_factory=Span)
    endpoints: dict[str, EndpointStats] = field(default_factory=dict)
    objects: dict[str, Counter[str]] = field(default_factory=dict)
    versions: dict[str, Tally] = field(default_factory=dict)  # request Stripe-Version ("none")
    answer_versions: Counter[str] = field(default_factory=Counter)
    accounts: dict[str, Tally] = field(default_factory=dict)  # Stripe-Account ("" = none)
    modes: Counter[str] = field(default_factory=Counter)
    clients: dict[str, Tally] = field(default_factory=dict)
    flows: Flows = field(default_factory=Flows)
    outside_flows: int = 0
    rates: Peaks = field(default_factory=lambda: Peaks(SECOND))
    intent_updates: Peaks = field(default_factory=lambda: Peaks(HOUR))
    recalls: dict[str, Recall] = field(
        default_factory=lambda: {name: Recall(rule) for name, rule in RECALL_RULES.items()}
    )
    upgrade: dict[str, Any] = field(default_factory=dict)  # the upgrade check's JSON, merged

    # --- reading --------------------------------------------------------------------

    def add(self, seen: Observation) -> None:
        """Add one exchange (its `at` is this map's exchange count)."""
        self.exchanges += 1
        endpoint = seen.endpoint
        stats = self.endpoints.get(endpoint)
        if stats is None:
            stats = self.endpoints[endpoint] = EndpointStats()
        stats.add(seen, self.settings.expand_limit)
        if seen.action is not None and seen.object_type is not None:
            self.objects.setdefault(seen.object_type, Counter())[seen.action] += 1
        self.versions.setdefault(seen.version or "none", Tally()).add(seen.example)
        if seen.answer_version:
            self.answer_versions[seen.answer_version] += 1
        self.accounts.setdefault(seen.account or "", Tally()).add(seen.example)
        self.modes[seen.mode] += 1
        if seen.client:
            self.clients.setdefault(seen.client, Tally()).add(seen.example)
        if seen.moment is None:
            self.untimed += 1
            return
        self._add_timed(seen, seen.moment)
        if self.exchanges % SETTLE_EVERY == 0:
            self.settle()

    def _add_timed(self, seen: Observation, moment: float) -> None:
        span = self.span
        span.add(moment)
        endpoint = seen.endpoint
        self.rates.observe(f"all {seen.mode}", "", moment, seen.example)
        self.rates.observe(f"endpoint {endpoint}", "", moment)
        if seen.is_search:
            self.rates.observe(f"search {seen.mode}", "", moment, seen.example)
        if seen.updated_intent is not None:
            self.intent_updates.observe("payment_intent", seen.updated_intent, moment, seen.example)
        recalls, example = self.recalls, seen.example
        account = seen.account or ""
        if seen.idempotency_key:
            key = short_hash(account, seen.idempotency_key)
            recalls["key_reuses"].observe(key, moment, "sent", endpoint, example, span)
        if seen.status is not None:
            hopeless = retry_cannot_succeed(seen.status, seen.decline, seen.should_retry)
            kind = "hopeless" if hopeless else "answered"
            recalls["hopeless_retries"].observe(
                seen.fingerprint, moment, kind, endpoint, example, span
            )
        if seen.method == "GET" and seen.succeeded:
            recalls["rereads"].observe(seen.fingerprint, moment, "read", endpoint, example, span)
        if seen.is_search or seen.is_write:
            resource = short_hash(account, seen.mode, seen.resource)
            kind = "search" if seen.is_search else "write"
            recalls["searches_after_writes"].observe(
                resource, moment, kind, endpoint, example, span
            )
        if seen.flow_key is None:
            self.outside_flows += 1
        else:
            step = Step(endpoint, False, seen.at, seen.seq)
            self.flows.observe(seen.flow_key, moment, step, span)

    def settle(self) -> None:
        """Let go of what no later exchange can need (windows.py); the map means the same."""
        self.rates.settle(self.span)
        self.intent_updates.settle(self.span)
        for recall in self.recalls.values():
            recall.settle(self.span)
        self.flows.settle(self.span)

    # --- merging --------------------------------------------------------------------

    def merge(self, later: IntegrationMap) -> None:
        """Add the map of the traffic that came after this map's (its exchanges' places
        move by this map's count)."""
        if later.settings != self.settings:
            raise InputError(
                f"the maps were built with different settings ({self.settings.to_json()} and "
                f"{later.settings.to_json()}); build them with the same --since"
            )
        offset = self.exchanges
        for source in later.sources:
            self.sources.append(
                Source(
                    source.path,
                    source.created,
                    source.exchanges,
                    source.first_at + offset,
                    source.truncated,
                )
            )
        self.exchanges += later.exchanges
        self.untimed += later.untimed
        self.span.merge(later.span)
        for name, stats in later.endpoints.items():
            self.endpoints.setdefault(name, EndpointStats()).merge(stats, offset)
        for kind, actions in later.objects.items():
            self.objects.setdefault(kind, Counter()).update(actions)
        merge_tallies(self.versions, later.versions, offset)
        self.answer_versions.update(later.answer_versions)
        merge_tallies(self.accounts, later.accounts, offset)
        self.modes.update(later.modes)
        merge_tallies(self.clients, later.clients, offset)
        self.outside_flows += later.outside_flows
        self.flows.merge(later.flows, offset, self.span)
        self.rates.merge(later.rates, offset, self.span)
        self.intent_updates.merge(later.intent_updates, offset, self.span)
        for name, recall in self.recalls.items():
            recall.merge(later.recalls[name], offset, self.span)
        self.upgrade = merge_upgrade(self.upgrade, later.upgrade, offset)
        self.settle()

    # --- reading the parts ----------------------------------------------------------

    def hits(self, concern: str) -> dict[str, Tally]:
        """Per endpoint, the exchanges a windowed concern counted so far (RECALL_RULES)."""
        return self.recalls[concern].current_hits()

    def flow_shapes(self) -> dict[str, Shape]:
        """Every shape of flow so far, the flows still open included."""
        return self.flows.current_shapes()

    def rate_peak(self, group: str) -> Peak | None:
        return self.rates.peak(group)

    def where(self, at: int) -> Source | None:
        """The recording that holds the map's `at`-th exchange."""
        for source in self.sources:
            if source.first_at <= at < source.first_at + source.exchanges:
                return source
        return None

    # --- JSON -------------------------------------------------------------------------

    def state_json(self) -> dict[str, Any]:
        """Everything but the sources and derived figures: two maps of the same traffic,
        however it was split into recordings, have the same state."""
        return {
            "settings": self.settings.to_json(),
            "exchanges": self.exchanges,
            "untimed": self.untimed,
            "first_time": self.span.first,
            "last_time": self.span.last,
            "endpoints": {name: self.endpoints[name].to_json() for name in sorted(self.endpoints)},
            "objects": {
                kind: {action: self.objects[kind][action] for action in ACTIONS}
                for kind in sorted(self.objects)
            },
            "api_versions": {
                "requests": tallies_to_json(self.versions),
                "answers": _count(self.answer_versions),
            },
            "connect": {"accounts": tallies_to_json(self.accounts)},
            "modes": _count(self.modes),
            "clients": tallies_to_json(self.clients),
            "flows": {**self.flows.to_json(), "outside": self.outside_flows},
            "rates": {
                "per_second": self.rates.to_json(),
                "payment_intent_updates_per_hour": self.intent_updates.to_json(),
            },
            "patterns": {name: recall.to_json() for name, recall in sorted(self.recalls.items())},
            "upgrade": self.upgrade,
        }

    @classmethod
    def from_state_json(cls, data: dict[str, Any], sources: list[Source]) -> IntegrationMap:
        versions = data["api_versions"]
        flows = data["flows"]
        rates = data["rates"]
        found = cls(
            settings=Settings.from_json(data["settings"]),
            sources=sources,
            exchanges=int(data["exchanges"]),
            untimed=int(data["untimed"]),
            span=Span(
                None if data["first_time"] is None else float(data["first_time"]),
                None if data["last_time"] is None else float(data["last_time"]),
            ),
            endpoints={
                str(name): EndpointStats.from_json(value)
                for name, value in data["endpoints"].items()
            },
            objects={
                str(kind): Counter({str(a): int(n) for a, n in actions.items() if n})
                for kind, actions in data["objects"].items()
            },
            versions=tallies_from_json(versions["requests"]),
            answer_versions=Counter({str(k): int(v) for k, v in versions["answers"].items()}),
            accounts=tallies_from_json(data["connect"]["accounts"]),
            modes=Counter({str(k): int(v) for k, v in data["modes"].items()}),
            clients=tallies_from_json(data["clients"]),
            flows=Flows.from_json(flows),
            outside_flows=int(flows["outside"]),
            rates=Peaks.from_json(rates["per_second"]),
            intent_updates=Peaks.from_json(rates["payment_intent_updates_per_hour"]),
            recalls={
                name: Recall.from_json(rule, data["patterns"][name])
                for name, rule in RECALL_RULES.items()
            },
            upgrade=dict(data["upgrade"]),
        )
        return found


def merge_upgrade(earlier: dict[str, Any], later: dict[str, Any], offset: int) -> dict[str, Any]:
    """Two upgrade checks (UpgradeCheck.to_json) of consecutive traffic as one: counts
    added, endpoints joined, the earliest example kept."""
    if not earlier:
        return _shifted_upgrade(later, offset)
    if not later:
        return earlier
    versions = Counter(earlier["versions"]) + Counter(later["versions"])
    findings = {(f["finding"], f["subject"]): dict(f) for f in earlier["findings"]}
    for finding in _shifted_upgrade(later, offset)["findings"]:
        key = (finding["finding"], finding["subject"])
        mine = findings.get(key)
        if mine is None:
            findings[key] = finding
            continue
        mine["exchanges"] += finding["exchanges"]
        mine["endpoints"] = sorted(set(mine["endpoints"]) | set(finding["endpoints"]))
        if _example_at(finding) < _example_at(mine):
            mine["example"] = finding["example"]
    order = {"endpoint": 0, "parameter": 1, "field": 2}
    return {
        **earlier,
        "exchanges": earlier["exchanges"] + later["exchanges"],
        "versions": {name: versions[name] for name in sorted(versions)},
        "uncovered": earlier["uncovered"] + later["uncovered"],
        "findings": sorted(
            findings.values(),
            key=lambda f: (order.get(f["finding"], 3), -f["exchanges"], f["subject"]),
        ),
    }


def _example_at(finding: dict[str, Any]) -> int:
    example = finding.get("example") or {}
    return int(example.get("at", 1 << 62))


def _shifted_upgrade(check: dict[str, Any], offset: int) -> dict[str, Any]:
    if not check or not offset:
        return check
    findings = []
    for finding in check["findings"]:
        example = finding.get("example")
        if example and "at" in example:
            finding = {**finding, "example": {**example, "at": example["at"] + offset}}
        findings.append(finding)
    return {**check, "findings": findings}
