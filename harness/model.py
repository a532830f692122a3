"""The data the pipeline passes between stages: plain dataclasses, no behaviour beyond
conversion to and from the JSON shapes documented in docs/recording-format.md."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from harness.stripe import API_KEY_PATTERN

# Header names whose values are credentials, and what any other value that looks like a key
# is: a repr (in a traceback, a log line, a debugger) shows neither.
_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "stripe-signature"}
)
_HIDDEN = "<hidden>"


class Headers(list[tuple[str, str]]):
    """HTTP headers as (name, value) pairs in the order sent, names as written. Its repr
    hides Authorization, Cookie, Stripe-Signature and any value that looks like a key."""

    def get(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive), or None."""
        lower = name.lower()
        for key, value in self:
            if key.lower() == lower:
                return value
        return None

    def without(self, name: str) -> Headers:
        """These headers but `name`."""
        lower = name.lower()
        return Headers((k, v) for k, v in self if k.lower() != lower)

    def with_value(self, name: str, value: str) -> Headers:
        """These headers with `name` set to exactly one `value`, at the position of the
        first."""
        lower = name.lower()
        out = Headers()
        placed = False
        for key, old in self:
            if key.lower() == lower:
                if not placed:
                    out.append((key, value))
                    placed = True
            else:
                out.append((key, old))
        if not placed:
            out.append((name, value))
        return out

    def __repr__(self) -> str:
        shown = [(key, _HIDDEN if self._secret(key, value) else value) for key, value in self]
        return f"Headers({shown!r})"

    @staticmethod
    def _secret(name: str, value: str) -> bool:
        return name.lower() in _SECRET_HEADERS or API_KEY_PATTERN.search(value) is not None


def header_value_problem(value: str) -> str | None:
    """Why `value` cannot be sent as a header value, or None: a CR or LF would end the
    header and start another (header injection), a NUL is refused by every server."""
    for character, name in (("\r", "a CR"), ("\n", "an LF"), ("\0", "a NUL")):
        if character in value:
            return f"a header value may not hold {name} (a line break would start another header)"
    return None


def _body_to_json(body: bytes | str) -> dict[str, str]:
    if isinstance(body, str):
        return {"body": body}
    try:
        return {"body": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"body": base64.b64encode(body).decode("ascii"), "body_encoding": "base64"}


def body_from_json(data: dict[str, Any]) -> str | bytes:
    """A body as written by _body_to_json; a missing one is empty. Text that is no base64
    where the line says base64 is a ValueError (readers name the file and line)."""
    if data.get("body_encoding") == "base64":
        try:
            return base64.b64decode(data.get("body", ""))
        except binascii.Error as exc:
            raise ValueError(f"a body marked base64 is not base64 ({exc})") from None
    return str(data.get("body", ""))


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: str = ""
    headers: Headers = field(default_factory=Headers)
    body: str | bytes = ""
    scheme: str = "https"
    host: str = "api.stripe.com"
    port: int | None = None

    def __post_init__(self) -> None:
        if type(self.headers) is not Headers:  # a plain list of pairs, as most callers give
            self.headers = Headers(self.headers)

    @property
    def target(self) -> str:
        """Path plus query string, as on the request line."""
        return f"{self.path}?{self.query}" if self.query else self.path

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def text(self) -> str:
        return self.body if isinstance(self.body, str) else self.body.decode("utf-8", "replace")

    @property
    def has_json_body(self) -> bool:
        """The body is JSON (by its Content-Type, else by its first character), not a
        form."""
        content_type = (self.header("content-type") or "").lower()
        if "json" in content_type:
            return True
        if "form" in content_type:
            return False
        return self.text.lstrip()[:1] in ("{", "[")

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "method": self.method,
            "scheme": self.scheme,
            "host": self.host,
        }
        if self.port is not None:
            data["port"] = self.port
        data["path"] = self.path
        data["query"] = self.query
        data["headers"] = [[k, v] for k, v in self.headers]
        data.update(_body_to_json(self.body))
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Request:
        return cls(
            method=data["method"],
            scheme=data.get("scheme", "https"),
            host=data.get("host", "api.stripe.com"),
            port=data.get("port"),
            path=data["path"],
            query=data.get("query", ""),
            headers=Headers((k, v) for k, v in data.get("headers", [])),
            body=body_from_json(data),
        )


@dataclass(slots=True)
class Response:
    status: int
    headers: Headers = field(default_factory=Headers)
    body: str | bytes = ""

    def __post_init__(self) -> None:
        if type(self.headers) is not Headers:  # a plain list of pairs, as most callers give
            self.headers = Headers(self.headers)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def text(self) -> str:
        return self.body if isinstance(self.body, str) else self.body.decode("utf-8", "replace")

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "status": self.status,
            "headers": [[k, v] for k, v in self.headers],
        }
        data.update(_body_to_json(self.body))
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Response:
        return cls(
            status=data["status"],
            headers=Headers((k, v) for k, v in data.get("headers", [])),
            body=body_from_json(data),
        )


@dataclass(slots=True)
class Exchange:
    """One request and the response to it (or the error that stood in for a response).

    `seq` is the position in the recording; a replayed exchange keeps the seq of the
    recorded exchange it replays. `extra` carries stage-specific fields (a replay's
    attempts, latency, unresolved ids) that round-trip untouched.
    """

    seq: int
    started: float
    duration: float
    request: Request
    response: Response | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "seq": self.seq,
            "started": self.started,
            "duration": self.duration,
            "request": self.request.to_json(),
        }
        if self.response is not None:
            data["response"] = self.response.to_json()
        if self.error is not None:
            data["error"] = self.error
        data.update(self.extra)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Exchange:
        known = {"seq", "started", "duration", "request", "response", "error"}
        response = data.get("response")
        return cls(
            seq=data["seq"],
            started=data["started"],
            duration=data["duration"],
            request=Request.from_json(data["request"]),
            response=Response.from_json(response) if response is not None else None,
            error=data.get("error"),
            extra={k: v for k, v in data.items() if k not in known},
        )


def renumber(exchanges: Iterable[Exchange], start: int = 0) -> Iterator[Exchange]:
    """Give exchanges consecutive sequence numbers (used by importers and merges)."""
    for offset, exchange in enumerate(exchanges):
        exchange.seq = start + offset
        yield exchange


class OutcomeKind(StrEnum):
    """What one exchange came to for one candidate, most favourable first."""

    MATCH = "match"
    NOISE = "noise"
    EXPECTED = "expected"
    DIFFERENCE = "difference"
    ERROR = "error"


class Severity(StrEnum):
    """How serious a difference is, most serious first."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class DifferenceKind(StrEnum):
    """What differs in one field, or in the exchange as a whole."""

    STATUS = "status"
    ERROR = "error"
    REMOVED = "removed"
    ADDED = "added"
    TYPE = "type"
    VALUE = "value"


# The values of each, in their order, as files and the command line write them.
OUTCOME_KINDS: tuple[str, ...] = tuple(kind.value for kind in OutcomeKind)
SEVERITIES: tuple[str, ...] = tuple(severity.value for severity in Severity)
DIFFERENCE_KINDS: tuple[str, ...] = tuple(kind.value for kind in DifferenceKind)


@dataclass(slots=True)
class Difference:
    """One field that differs between the baseline's and a candidate's answer.

    `path` is a JSON path from the body's root (`$.charges.data[].amount`), with `[]`
    where a list was aligned by object id rather than by position. `outcome` says how
    compare classified it: a real "difference", "expected" (a rule with `reason` says
    so) or "noise".

    `owner` is the type of the Stripe object holding the field and `field` its path
    inside that object (`subscription`, `plan`); `owner` is None for a field of no
    object (an error answer, a list's wrapper). `cause_kind` is set when the difference
    is part of a larger change: `unpaired` (list items that are not the same object; the
    field is then empty) or `renamed` (a field removed and one added with its value; the
    field is then `old → new`). `excerpt` shows the object on each side around the
    field. Together they make the difference's cause (harness.compare.cause).
    """

    endpoint: str
    path: str
    kind: str
    baseline: Any = None
    candidate: Any = None
    severity: str = "medium"
    outcome: str = "difference"
    reason: str | None = None
    owner: str | None = None
    field: str | None = None
    excerpt: dict[str, Any] | None = None
    cause_kind: str | None = None

    @property
    def signature(self) -> tuple[str, str, str]:
        return (self.endpoint, self.path, self.kind)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "endpoint": self.endpoint,
            "path": self.path,
            "kind": self.kind,
            "baseline": self.baseline,
            "candidate": self.candidate,
            "severity": self.severity,
            "outcome": self.outcome,
        }
        if self.reason is not None:
            data["reason"] = self.reason
        if self.owner is not None:
            data["owner"] = self.owner
            data["field"] = self.field
        if self.cause_kind is not None:
            data["cause_kind"] = self.cause_kind
        if self.excerpt is not None:
            data["excerpt"] = self.excerpt
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Difference:
        return cls(
            endpoint=data["endpoint"],
            path=data["path"],
            kind=data["kind"],
            baseline=data.get("baseline"),
            candidate=data.get("candidate"),
            severity=data.get("severity", "medium"),
            outcome=data.get("outcome", "difference"),
            reason=data.get("reason"),
            owner=data.get("owner"),
            field=data.get("field"),
            excerpt=data.get("excerpt"),
            cause_kind=data.get("cause_kind"),
        )


@dataclass(slots=True)
class Outcome:
    """What one exchange came to for one candidate: exactly one of OUTCOME_KINDS."""

    seq: int
    candidate: str
    journey: int
    endpoint: str
    kind: str
    severity: str | None = None
    differences: list[Difference] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "seq": self.seq,
            "candidate": self.candidate,
            "journey": self.journey,
            "endpoint": self.endpoint,
            "kind": self.kind,
            "severity": self.severity,
            "differences": [d.to_json() for d in self.differences],
        }
        if self.error is not None:
            data["error"] = self.error
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Outcome:
        return cls(
            seq=data["seq"],
            candidate=data["candidate"],
            journey=data["journey"],
            endpoint=data["endpoint"],
            kind=data["kind"],
            severity=data.get("severity"),
            differences=[Difference.from_json(d) for d in data.get("differences", [])],
            error=data.get("error"),
        )
