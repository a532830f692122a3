"""Findings: where an integration departs from what Stripe documents, read from its map.

Each finding is a small function registered by name, one per concern, reading only the
map (so the findings of a merged map are those of the traffic as a whole) and returning
what it found: a severity, a sentence, the exchanges it rests on with the first
examples, and the Stripe page that says why (docs/map.md lists them all).

To add one: write `def my_concern(found: IntegrationMap) -> Iterable[Finding]` beside the
others, decorate it with `@finding("my-concern", title=..., doc=...)` (its docstring is
its rationale, shown in docs/map.md), and add a test. A name is registered once.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from harness.map.evidence import Example, Tally
from harness.map.model import IntegrationMap
from harness.model import SEVERITIES
from harness.registry import Registry
from harness.stripe import resource_of
from harness.stripe.guidelines import (
    DEPRECATIONS,
    DYNAMIC_PAYMENT_METHODS_DOC,
    EXPAND_DOC,
    IDEMPOTENCY_DOC,
    KEYS_DOC,
    PAYMENT_INTENT_UPDATES_PER_HOUR,
    PAYMENT_METHOD_TYPES_ENDPOINTS,
    PAYMENT_METHOD_TYPES_REFUSED_IN,
    RATE_LIMITS_DOC,
    RESOURCES_WITH_EVENTS,
    RETRY_DOC,
    SEARCH_DOC,
    SEARCH_LAG_SECONDS,
    SEARCH_RATE_LIMIT,
    VERSIONING_DOC,
    WEBHOOKS_DOC,
    rate_limit,
)
from harness.stripe.guidelines import EXPAND_MAX_DEPTH as EXPAND_LIMIT

# Reads of the same thing again (within the map's poll window of the previous read)
# count as polling when there are this many, and this share of the endpoint's calls.
POLL_MIN_REREADS = 5
POLL_MIN_SHARE = 0.25
# A peak at or above this share of a limit is worth knowing before a migration doubles it.
RATE_WARNING_SHARE = 0.5


@dataclass(slots=True)
class Finding:
    """One thing to do better, and what shows it."""

    rule: str
    title: str
    severity: str
    subject: str  # an endpoint, a version, a group of requests
    detail: str  # one sentence with the figures
    exchanges: int
    examples: list[Example] = field(default_factory=list)
    doc: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "title": self.title,
            "severity": self.severity,
            "subject": self.subject,
            "detail": self.detail,
            "exchanges": self.exchanges,
            "examples": [e.to_json() for e in self.examples],
            "doc": self.doc,
        }


Check = Callable[[IntegrationMap], Iterable[Finding]]


@dataclass(frozen=True, slots=True)
class FindingRule:
    """A registered finding: its name, what it is about, the page it rests on, and why."""

    name: str
    title: str
    doc: str
    check: Check

    @property
    def rationale(self) -> str:
        return " ".join((self.check.__doc__ or "").split())


FINDINGS: Registry[FindingRule] = Registry("map finding", "stripe_shadow.map_findings")


def finding(name: str, *, title: str, doc: str) -> Callable[[Check], Check]:
    """Register a finding under `name` (refused when the name is taken). The function
    yields Findings; its docstring is the rationale docs/map.md shows."""

    def register(check: Check) -> Check:
        if name in FINDINGS:
            raise ValueError(f"a {FINDINGS.kind} named {name!r} is registered already")
        if not (check.__doc__ or "").strip():
            raise ValueError(f"finding {name!r}: its docstring is its rationale; write one")
        FINDINGS.register(name, FindingRule(name, title, doc, check))
        return check

    return register


def _found(
    rule: str, severity: str, subject: str, detail: str, tally: Tally, doc: str | None = None
) -> Finding:
    registered = FINDINGS[rule]
    return Finding(
        rule,
        registered.title,
        severity,
        subject,
        detail,
        tally.count,
        list(tally.examples),
        doc or registered.doc,
    )


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} %" if whole else "0 %"


# --- the findings ----------------------------------------------------------------------

# Actions whose POST moves money or starts billing: a duplicate is the costly kind.
_MONEY_RESOURCES = frozenset(
    {
        "charges",
        "payment_intents",
        "refunds",
        "payouts",
        "transfers",
        "subscriptions",
        "invoices",
        "setup_intents",
        "checkout",
        "subscription_schedules",
    }
)


def _creates(endpoint: str) -> bool:
    """A POST that makes something new: a collection (`POST /v1/refunds`), or an action
    on an object (`.../confirm`, `.../capture`, `.../pay`)."""
    method, _, path = endpoint.partition(" ")
    if method != "POST":
        return False
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return not (last.startswith("{") and last.endswith("}"))


def _resource(endpoint: str) -> str:
    """`POST /v1/payment_intents/{payment_intent}/confirm` → `payment_intents`."""
    return resource_of(endpoint.partition(" ")[2])


@finding(
    "idempotency-key-missing",
    title="POST that creates without an Idempotency-Key",
    doc=IDEMPOTENCY_DOC,
)
def missing_idempotency_key(found: IntegrationMap) -> Iterator[Finding]:
    """A POST that creates an object or moves money can time out after Stripe did the
    work; sent again without the same Idempotency-Key it does it twice (two charges, two
    customers). With a key, Stripe answers the retry with the first result. Stripe's SDKs
    add a key to every POST; code that builds its own requests must too."""
    for endpoint, stats in sorted(found.endpoints.items()):
        missing = stats.without_key
        if not missing.count or not _creates(endpoint):
            continue
        money = _resource(endpoint) in _MONEY_RESOURCES
        yield _found(
            "idempotency-key-missing",
            "high" if money else "medium",
            endpoint,
            f"{_plural(missing.count, 'POST')} of {stats.posts:,} "
            f"({_share(missing.count, stats.posts)}) sent no Idempotency-Key"
            + ("; this endpoint moves money or starts billing" if money else ""),
            missing,
        )


@finding(
    "retry-of-hopeless-4xx",
    title="The same request sent again after a 4xx it will get again",
    doc=RETRY_DOC,
)
def hopeless_retry(found: IntegrationMap) -> Iterator[Finding]:
    """A 400, 401, 403, 404 or a hard decline is Stripe's answer about the request itself;
    sending the same request again gets the same answer and spends rate limit. Only
    conflicts (409), rate limits (429), transient declines and answers with
    `Stripe-Should-Retry: true` are worth retrying. Counted when the same request (path,
    query, body, account) follows such an answer within two minutes."""
    for endpoint, tally in sorted(found.hits("hopeless_retries").items()):
        yield _found(
            "retry-of-hopeless-4xx",
            "medium",
            endpoint,
            f"{_plural(tally.count, 'request')} repeated a request that had just been "
            "answered with a 4xx a retry cannot change",
            tally,
        )


@finding("deprecated-api", title="Deprecated API in use", doc="https://docs.stripe.com/upgrades")
def deprecated_api(found: IntegrationMap) -> Iterator[Finding]:
    """Stripe keeps deprecated APIs running, but new features (and some payment methods
    and regions) reach only their replacements, and a migration is easier before it is
    forced: Charges and Tokens give way to PaymentIntents and PaymentMethods, Sources to
    PaymentMethods, Plans to Prices, renamed parameters to their new names."""
    for deprecation in DEPRECATIONS:
        tally = Tally()
        endpoints = []
        for endpoint, stats in sorted(found.endpoints.items()):
            if not deprecation.covers(endpoint):
                continue
            if deprecation.parameter:
                used = stats.watched.get(".".join(deprecation.parameter))
                if used is None:
                    continue
                tally.merge(used)
            else:
                tally.merge(stats.calls_seen)
            endpoints.append(endpoint)
        if not tally.count:
            continue
        where = ", ".join(endpoints[:4])
        if len(endpoints) > 4:
            where += f" and {len(endpoints) - 4} more"
        used_as = f"`{'.'.join(deprecation.parameter)}` in " if deprecation.parameter else ""
        yield _found(
            "deprecated-api",
            "medium",
            deprecation.name,
            f"{_plural(tally.count, 'call')} ({used_as}{where}); use {deprecation.replacement}",
            tally,
            deprecation.doc,
        )


@finding(
    "api-version-unpinned-or-mixed",
    title="API version not pinned, or several in use",
    doc=VERSIONING_DOC,
)
def api_versions(found: IntegrationMap) -> Iterator[Finding]:
    """A request without Stripe-Version is answered under the account's default version,
    which changes the day someone upgrades the account in the Dashboard: the integration
    then meets breaking changes untested. Several versions at once mean parts of the code
    expect different shapes of the same object, and each must be upgraded on its own."""
    pinned = {v: t for v, t in found.versions.items() if v != "none"}
    unpinned = found.versions.get("none")
    if unpinned is not None and unpinned.count:
        yield _found(
            "api-version-unpinned-or-mixed",
            "medium",
            "no Stripe-Version",
            f"{_plural(unpinned.count, 'request')} of {found.exchanges:,} "
            f"({_share(unpinned.count, found.exchanges)}) named no API version, so the "
            "account's default answered them",
            unpinned,
        )
    if len(pinned) > 1:
        everything = Tally()
        for tally in pinned.values():
            everything.merge(tally)
        shown = ", ".join(f"{v} ({t.count:,})" for v, t in sorted(pinned.items()))
        yield _found(
            "api-version-unpinned-or-mixed",
            "high",
            "several Stripe-Versions",
            f"requests name {len(pinned)} API versions: {shown}",
            everything,
        )


@finding(
    "polling-instead-of-events",
    title="The same read polled again and again where an event says when it changes",
    doc=WEBHOOKS_DOC,
)
def polling(found: IntegrationMap) -> Iterator[Finding]:
    """Reading the same list or object again and again to see whether it changed spends
    rate limit and sees the change late. Stripe announces every change of these objects
    as an event (payment_intent.succeeded, invoice.paid, ...): a webhook endpoint, or one
    read of /v1/events, says when to look. Counted when the same read (path and query)
    comes again within five minutes of the last one, for at least five reads and a quarter
    of the endpoint's calls."""
    for endpoint, tally in sorted(found.hits("rereads").items()):
        calls = found.endpoints[endpoint].calls
        if (
            tally.count < POLL_MIN_REREADS
            or tally.count < POLL_MIN_SHARE * calls
            or _resource(endpoint) not in RESOURCES_WITH_EVENTS
        ):
            continue
        yield _found(
            "polling-instead-of-events",
            "medium",
            endpoint,
            f"{_plural(tally.count, 'read')} of {calls:,} ({_share(tally.count, calls)}) "
            "repeated the same read within five minutes of it; "
            f"{_resource(endpoint)} changes are sent as events",
            tally,
        )


@finding(
    "expand-too-deep",
    title=f"expand deeper than {EXPAND_LIMIT} levels",
    doc=EXPAND_DOC,
)
def deep_expand(found: IntegrationMap) -> Iterator[Finding]:
    """Stripe expands at most four levels (`a.b.c.d`); a deeper `expand[]` is refused with
    a 400, so the request fails every time. Expand less deeply and retrieve the rest, or
    keep the ids."""
    for endpoint, stats in sorted(found.endpoints.items()):
        if not stats.deep_expand.count:
            continue
        deep = sorted(e for e in stats.expand if e.count(".") + 1 > EXPAND_LIMIT)
        yield _found(
            "expand-too-deep",
            "high",
            endpoint,
            f"{_plural(stats.deep_expand.count, 'request')} expanded "
            f"{', '.join(deep[:3])}: more than {EXPAND_LIMIT} levels",
            stats.deep_expand,
        )


@finding(
    "search-after-write",
    title="Search read right after a write",
    doc=SEARCH_DOC,
)
def search_after_write(found: IntegrationMap) -> Iterator[Finding]:
    """Search is eventually consistent: what was just created or changed appears in its
    results up to a minute later (longer during an outage). A search right after a write
    may miss it; retrieve the object by its id, or list it, instead. Counted when a
    search of a resource follows a write to it within a minute."""
    for endpoint, tally in sorted(found.hits("searches_after_writes").items()):
        yield _found(
            "search-after-write",
            "medium",
            endpoint,
            f"{_plural(tally.count, 'search')} came within {SEARCH_LAG_SECONDS:.0f} s of a "
            f"write to {_resource(endpoint)}",
            tally,
        )


def _second(bucket: int, width: float) -> str:
    return datetime.fromtimestamp(bucket * width, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _rate(found: IntegrationMap, subject: str, group: str, limit: int, what: str) -> Finding | None:
    peak = found.rate_peak(group)
    if peak is None or peak.count < RATE_WARNING_SHARE * limit:
        return None
    over = peak.count > limit
    return Finding(
        "rate-headroom",
        FINDINGS["rate-headroom"].title,
        "high" if over else "low",
        subject,
        f"{peak.count} {what} in the second from {_second(peak.bucket, found.rates.width)}: "
        f"{100 * peak.count / limit:.0f} % of the limit of {limit}"
        + (" (over it: Stripe answers 429)" if over else ""),
        peak.count,
        [peak.example] if peak.example is not None else [],
        RATE_LIMITS_DOC,
    )


@finding("rate-headroom", title="Little rate-limit headroom", doc=RATE_LIMITS_DOC)
def rate_headroom(found: IntegrationMap) -> Iterator[Finding]:
    """Stripe limits each account to 100 requests a second in live mode and 25 in test
    mode, Search to 20 a second, and one PaymentIntent to 1,000 updates an hour; above
    them it answers 429. A peak near a limit leaves no room for growth, a batch job or a
    replay. Test-mode peaks matter too: they are what a test suite or a shadow replay
    meets."""
    for group in sorted(found.rates.groups()):
        kind, _, mode = group.partition(" ")
        if kind == "all":
            limit = rate_limit(mode)
            found_rate = _rate(found, f"{mode} mode", group, limit, "requests")
        elif kind == "search":
            found_rate = _rate(found, f"Search, {mode} mode", group, SEARCH_RATE_LIMIT, "searches")
        else:
            continue
        if found_rate is not None:
            yield found_rate
    peak = found.intent_updates.peak("payment_intent")
    if peak is not None and peak.count >= RATE_WARNING_SHARE * PAYMENT_INTENT_UPDATES_PER_HOUR:
        limit = PAYMENT_INTENT_UPDATES_PER_HOUR
        yield Finding(
            "rate-headroom",
            FINDINGS["rate-headroom"].title,
            "high" if peak.count > limit else "low",
            "updates of one PaymentIntent",
            f"{peak.count} updates of {peak.item} in the hour from "
            f"{_second(peak.bucket, found.intent_updates.width)}: "
            f"{100 * peak.count / limit:.0f} % of the limit of {limit:,} an hour",
            peak.count,
            [peak.example] if peak.example is not None else [],
            RATE_LIMITS_DOC,
        )


@finding("secret-in-query", title="Secret sent in a query string", doc=KEYS_DOC)
def secret_in_query(found: IntegrationMap) -> Iterator[Finding]:
    """A query string is written to access logs, proxies and browser history; a key, a
    client secret or card data in one leaks. Send keys in the Authorization header and
    everything else in the body. (The recording was redacted, so the map shows where a
    secret was, not what it was.)"""
    for endpoint, stats in sorted(found.endpoints.items()):
        tally = stats.secrets_in_query
        if tally.count:
            yield _found(
                "secret-in-query",
                "high",
                endpoint,
                f"{_plural(tally.count, 'request')} carried a secret in the query string",
                tally,
            )


@finding(
    "payment-method-types",
    title=f"payment_method_types, refused from {PAYMENT_METHOD_TYPES_REFUSED_IN}",
    doc=DYNAMIC_PAYMENT_METHODS_DOC,
)
def payment_method_types(found: IntegrationMap) -> Iterator[Finding]:
    """From API version 2026-09-30.endive, PaymentIntents, SetupIntents and Checkout
    Sessions refuse `payment_method_types` (400 payment_method_types_no_longer_supported):
    the payment methods come from the Dashboard's settings (dynamic payment methods). An
    integration that sends it breaks on the upgrade."""
    for endpoint, stats in sorted(found.endpoints.items()):
        used = stats.watched.get("payment_method_types")
        if used is None or not any(
            fnmatch.fnmatchcase(endpoint, pattern) for pattern in PAYMENT_METHOD_TYPES_ENDPOINTS
        ):
            continue
        yield _found(
            "payment-method-types",
            "high",
            endpoint,
            f"{_plural(used.count, 'request')} sent payment_method_types, which "
            f"{PAYMENT_METHOD_TYPES_REFUSED_IN} refuses",
            used,
        )


# --- all of them -----------------------------------------------------------------------

_RANK = {severity: index for index, severity in enumerate(SEVERITIES)}


def find(found: IntegrationMap) -> list[Finding]:
    """Every registered finding on a map, most serious first, then most exchanges."""
    everything = [item for name in FINDINGS for item in FINDINGS[name].check(found)]
    return sorted(everything, key=lambda f: (_RANK[f.severity], -f.exchanges, f.rule, f.subject))
