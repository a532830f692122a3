"""Request transforms: what a candidate sends instead of what was recorded.

A transform is a function with one signature, run on the request about to be sent to a
target, after its ids were rewritten (so it sees the target's ids):

    def transform(request: Request, context: TransformContext) -> Request | Iterable[Request] | None

It returns the request to send, several requests (sent in order; the answer to the last
one is the exchange's result), or None (nothing is sent; the result is marked skipped
with a note). A `Transform` may also `learn` from the target's answer, to teach the id
map what an answer of another shape means (a PaymentIntent answering for a Charge).

A scenario lists transforms by name with their parameters (docs/transforms.md):

    transforms:
      - {name: set_header, header: Stripe-Version, value: 2024-09-30.acacia}
      - {name: remove_param, param: description, endpoint: "POST /v1/payment_intents"}
      - mypackage.transforms:add_source      # a user's own, by dotted path

Built-ins are registered here by name; a user's own is found by `module:function`
(imported with the scenario's folder on the path) or by name in the `stripe_shadow.
transforms` entry point group.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import json
import re
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar
from urllib.parse import unquote_plus

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from harness.formats.untrusted import JSONProblem, load_json
from harness.model import (
    Exchange,
    Request,
    Response,
    header_value_problem,
    with_header,
    without_header,
)
from harness.replay.idmap import IdMap, response_json
from harness.replay.rewrite import _is_json
from harness.stripe import (
    HARNESS_HEADERS,
    encode_form_pairs,
    endpoint_template,
    flatten_form_tree,
    form_key_path,
    is_test_token,
)

ENTRY_POINT_GROUP = "stripe_shadow.transforms"


@dataclass(slots=True)
class TransformContext:
    """What a transform may use besides the request.

    `recorded` is the recorded exchange (its request and answer as recorded), `ids` the
    target's id map (`get`, `pair`, `learn`), `state` a dict its transforms share for the
    whole replay of this target, `params` this transform's parameters from the scenario:
    an instance of the transform's parameter model when it has one, else a dict.
    """

    target: str
    seq: int
    recorded: Exchange
    ids: IdMap
    state: dict[str, Any]
    params: Any


TransformResult = Request | Iterable[Request] | None
RewriteFunction = Callable[[Request, TransformContext], TransformResult]
LearnFunction = Callable[[Response, TransformContext], None]


@dataclass(frozen=True, slots=True)
class Transform:
    """A rewrite function, optionally what it learns from answers, and the model its
    parameters are checked with (None: any parameters are handed over as given)."""

    rewrite: RewriteFunction
    learn: LearnFunction | None = None
    params: type[BaseModel] | None = None
    summary: str = ""


class TransformSpecError(ValueError):
    """A mistake in a scenario's transform entry; `loc` is relative to the list
    (`(1, "name")` is `transforms[1].name`)."""

    def __init__(self, loc: tuple[int | str, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


@dataclass(frozen=True, slots=True)
class TransformSpec:
    """One entry of a target's `transforms:` list, checked and resolved."""

    name: str
    params: dict[str, Any]
    transform: Transform = field(compare=False, repr=False)
    endpoint: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name}
        if self.endpoint is not None:
            data["endpoint"] = self.endpoint
        data.update(self.params)
        return data

    def applies_to(self, request: Request) -> bool:
        if self.endpoint is None:
            return True
        return fnmatchcase(endpoint_template(request.method, request.path), self.endpoint)


# --- the registry ------------------------------------------------------------------------

BUILTINS: dict[str, Transform] = {}


def builtin(name: str, params: type[BaseModel] | None = None) -> Callable[[Any], Any]:
    """Register a built-in transform under `name`."""

    def register(rewrite: RewriteFunction) -> RewriteFunction:
        BUILTINS[name] = Transform(rewrite, None, params, (rewrite.__doc__ or "").split("\n")[0])
        return rewrite

    return register


def _as_transform(found: Any, name: str) -> Transform:
    if isinstance(found, Transform):
        return found
    if callable(found):
        return Transform(found, getattr(found, "learn", None), None, (found.__doc__ or "").strip())
    raise TransformSpecError((), f"{name} is a {type(found).__name__}, not a function or Transform")


def _entry_point(name: str) -> Any | None:
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name == name:
            return point
    return None


def known_names() -> list[str]:
    """Built-in names and those the installed packages register as entry points."""
    return sorted(set(BUILTINS) | {p.name for p in entry_points(group=ENTRY_POINT_GROUP)})


@contextlib.contextmanager
def _on_path(folder: Path | None) -> Iterator[None]:
    if folder is None or str(folder) in sys.path:
        yield
        return
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(str(folder))


def resolve_transform(name: str, base: Path | None = None) -> Transform:
    """The transform a scenario names: a built-in, `module:function`, or an entry point.
    Raises TransformSpecError with a sentence saying what to fix."""
    if name in BUILTINS:
        return BUILTINS[name]
    if ":" in name:
        module_name, _, attribute = name.partition(":")
        if not module_name or not attribute:
            raise TransformSpecError((), f"{name!r}: a dotted path is module:function")
        with _on_path(base):
            try:
                module = importlib.import_module(module_name)
            except Exception as exc:  # a user's module may fail in any way on import
                raise TransformSpecError(
                    (), f"cannot import {module_name!r} ({type(exc).__name__}: {exc})"
                ) from None
        found: Any = module
        for part in attribute.split("."):
            if not hasattr(found, part):
                raise TransformSpecError((), f"module {module_name!r} has no {attribute!r}")
            found = getattr(found, part)
        return _as_transform(found, name)
    point = _entry_point(name)
    if point is not None:
        try:
            loaded = point.load()
        except Exception as exc:
            raise TransformSpecError(
                (),
                f"entry point {name!r} ({point.value}) cannot be loaded "
                f"({type(exc).__name__}: {exc})",
            ) from None
        return _as_transform(loaded, name)
    known = known_names()
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise TransformSpecError(
        (),
        f"unknown transform {name!r} ({hint}known: {', '.join(known)}; "
        "or a dotted path module:function)",
    )


# --- checking a scenario's list -----------------------------------------------------------

_RESERVED = ("name", "endpoint")


def check_transforms(entries: Any, base: Path | None = None) -> list[TransformSpec]:
    """A `transforms:` list from a scenario, each entry a name or a mapping with `name`,
    an optional `endpoint` glob and the transform's parameters."""
    if not isinstance(entries, list):
        raise TransformSpecError((), "expected a list of transforms")
    specs: list[TransformSpec] = []
    for index, entry in enumerate(entries):
        if isinstance(entry, TransformSpec):
            specs.append(entry)
            continue
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, dict):
            raise TransformSpecError(
                (index,), "expected a transform name or a mapping {name: …, parameters…}"
            )
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise TransformSpecError((index, "name"), "missing (required): the transform's name")
        endpoint = entry.get("endpoint")
        if endpoint is not None and not isinstance(endpoint, str):
            raise TransformSpecError(
                (index, "endpoint"), "expected a glob over endpoints, e.g. 'POST /v1/charges*'"
            )
        try:
            transform = resolve_transform(name.strip(), base)
        except TransformSpecError as exc:
            raise TransformSpecError((index, "name"), str(exc)) from None
        params = {k: v for k, v in entry.items() if k not in _RESERVED}
        _check_params(index, name, transform, params)
        specs.append(TransformSpec(name.strip(), params, transform, endpoint))
    return specs


def _check_params(index: int, name: str, transform: Transform, params: dict[str, Any]) -> None:
    if transform.params is None:
        return
    try:
        transform.params.model_validate(params)
    except ValidationError as exc:
        error = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
        loc = tuple(error["loc"])
        where: tuple[int | str, ...] = (index, *loc) if loc else (index,)
        if error["type"] == "extra_forbidden":
            fields = transform.params.model_fields
            known = ", ".join([*_RESERVED, *(f.alias or n for n, f in fields.items())])
            message = f"unknown parameter of {name} (known: {known})"
        elif error["type"] == "missing":
            message = f"missing (required by {name})"
        else:
            cause = error.get("ctx", {}).get("error")
            message = str(cause) if cause is not None else str(error["msg"])
            message = message.replace("Input should be", "expected")
        raise TransformSpecError(where, message) from None


def parameters(spec: TransformSpec) -> Any:
    """A spec's parameters as its transform's model (or the plain dict)."""
    model = spec.transform.params
    return model.model_validate(spec.params) if model is not None else spec.params


# --- applying them ------------------------------------------------------------------------


@dataclass(slots=True)
class Applied:
    """What the transforms made of one request: the requests to send, or why none."""

    requests: list[Request]
    skipped: str | None = None


class Answered(Protocol):
    """What sending a request comes to (harness.replay.engine.SendOutcome)."""

    response: Response | None
    error: str | None


A = TypeVar("A", bound=Answered)


class TransformChain:
    """A target's transforms in scenario order, with the state they share."""

    def __init__(self, specs: list[TransformSpec], target: str, ids: IdMap) -> None:
        self.specs = specs
        self.target = target
        self.ids = ids
        self.state: dict[str, Any] = {}
        self._params = [parameters(spec) for spec in specs]

    def _context(self, index: int, recorded: Exchange) -> TransformContext:
        return TransformContext(
            self.target, recorded.seq, recorded, self.ids, self.state, self._params[index]
        )

    def apply(self, recorded: Exchange, request: Request) -> Applied:
        """Run every transform over the requests the previous ones returned."""
        requests = [request]
        for index, spec in enumerate(self.specs):
            out: list[Request] = []
            for one in requests:
                if not spec.applies_to(one):
                    out.append(one)
                    continue
                try:
                    result = spec.transform.rewrite(one, self._context(index, recorded))
                    out.extend(_requests(result, spec.name))
                except Exception as exc:  # a user's transform may fail in any way
                    return Applied([], f"transform {spec.name} failed: {type(exc).__name__}: {exc}")
            if not out:
                return Applied([], f"skipped: transform {spec.name} sends nothing for this request")
            requests = out
        return Applied(requests)

    def learn(self, recorded: Exchange, answer: Response) -> list[str]:
        """Let every transform that learns see the target's answer; returns notes on
        those that failed."""
        notes: list[str] = []
        for index, spec in enumerate(self.specs):
            if spec.transform.learn is None:
                continue
            try:
                spec.transform.learn(answer, self._context(index, recorded))
            except Exception as exc:
                notes.append(f"transform {spec.name} could not learn: {type(exc).__name__}: {exc}")
        return notes

    async def send(
        self,
        send: Callable[[Request], Awaitable[A]],
        recorded: Exchange,
        request: Request,
        extra: dict[str, Any],
    ) -> tuple[Request, A | None, str | None]:
        """Transform and send: returns the request whose answer is the result, the
        answer (None when nothing was sent) and why nothing was sent. When several
        requests go out, the earlier ones are listed in `extra["steps"]`; one that fails
        stops the rest and stands as the result."""
        applied = self.apply(recorded, request)
        if applied.skipped is not None:
            extra.setdefault("notes", []).append(applied.skipped.removeprefix("skipped: "))
            return request, None, applied.skipped
        applied.requests = own_idempotency_keys(applied.requests)
        steps: list[dict[str, Any]] = []
        outcome: A | None = None
        sent = applied.requests[0]
        for position, sent in enumerate(applied.requests):
            outcome = await send(sent)
            last = position == len(applied.requests) - 1
            failed = outcome.response is None or outcome.response.status >= 400
            if last or failed:
                if not last:
                    extra.setdefault("notes", []).append(
                        f"step {position + 1} of {len(applied.requests)} failed; "
                        "the rest were not sent"
                    )
                break
            steps.append(
                {
                    "method": sent.method,
                    "path": sent.path,
                    "status": outcome.response.status if outcome.response else None,
                }
            )
        if steps:
            extra["steps"] = steps
        return sent, outcome, None


def own_idempotency_keys(requests: list[Request]) -> list[Request]:
    """Several requests made from one keep their Idempotency-Key apart: Stripe answers a
    key reused with other parameters with 400 idempotency_error. The last request keeps
    the exchange's key; an earlier one sharing it gets `KEY-step-N` (the same on resume)."""
    if len(requests) < 2:
        return requests
    last = requests[-1].header("idempotency-key")
    out = []
    for position, request in enumerate(requests[:-1], start=1):
        key = request.header("idempotency-key")
        if key is not None and key == last:
            request = replace(
                request,
                headers=with_header(request.headers, "Idempotency-Key", f"{key}-step-{position}"),
            )
        out.append(request)
    out.append(requests[-1])
    return out


def _requests(result: TransformResult, name: str) -> list[Request]:
    if result is None:
        return []
    if isinstance(result, Request):
        return [result]
    out = list(result)
    for item in out:
        if not isinstance(item, Request):
            raise TypeError(f"{name} returned a {type(item).__name__}, not a Request")
    return out


def transform_chain(specs: list[TransformSpec], target: str, ids: IdMap) -> TransformChain | None:
    """A target's chain, or None when it has no transforms (the engine's fast path)."""
    return TransformChain(specs, target, ids) if specs else None


# --- editing parameters by bracket path ---------------------------------------------------

Where = Literal["auto", "form", "query", "json"]


def _location(request: Request, where: Where) -> Literal["form", "query", "json"]:
    if where != "auto":
        return where
    if request.method.upper() in ("GET", "DELETE", "HEAD"):
        return "query"
    return "json" if request.body and _is_json(request) else "form"


def _starts_with(path: list[str], prefix: list[str]) -> bool:
    return path[: len(prefix)] == prefix


def _without(encoded: str, path: list[str]) -> str:
    """A form string without the pairs at or under `path`; other pairs byte for byte."""
    if not encoded:
        return encoded
    kept = []
    for part in encoded.split("&"):
        key = unquote_plus(part.partition("=")[0])
        if not _starts_with(form_key_path(key), path):
            kept.append(part)
    return "&".join(kept)


def _json_edit(body: str, path: list[str], value: Any, remove: bool) -> str:
    try:
        tree = load_json(body) if body.strip() else {}
    except JSONProblem:
        return body  # not JSON the harness walks: sent as it is
    node: Any = tree
    for part in path[:-1]:
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict):
            if part not in node:
                if remove:
                    return body
                node[part] = {}
            node = node[part]
        else:
            return body
    last = path[-1]
    if isinstance(node, dict):
        if remove:
            node.pop(last, None)
        else:
            node[last] = value
    elif isinstance(node, list) and last.isdigit() and int(last) < len(node):
        if remove:
            del node[int(last)]
        else:
            node[int(last)] = value
    return json.dumps(tree, separators=(",", ":"), ensure_ascii=False)


def _form_pairs(param: str, value: Any) -> str:
    return encode_form_pairs(flatten_form_tree({param: value}))


def edit_param(request: Request, param: str, value: Any, where: Where, *, remove: bool) -> Request:
    """The request with `param` (a bracket path: `metadata[order]`) set to `value` or
    removed, in its query string, form body or JSON body."""
    path = form_key_path(param)
    location = _location(request, where)
    query, body = request.query, request.body
    if location == "json":
        body = _json_edit(request.text, path, value, remove)
    else:
        encoded = query if location == "query" else request.text
        encoded = _without(encoded, path)
        if not remove:
            addition = _form_pairs(param, value)
            encoded = f"{encoded}&{addition}" if encoded else addition
        if location == "query":
            query = encoded
        else:
            body = encoded
    return replace(request, query=query, body=body)


# --- the built-ins -------------------------------------------------------------------------


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _header_name(value: str) -> str:
    value = value.strip()
    if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", value):
        raise ValueError(f"{value!r} is not a header name")
    why = HARNESS_HEADERS.get(value.lower())
    if why:
        raise ValueError(f"{value} may not be changed by a transform: {why}")
    return value


class HeaderParams(_Params):
    header: str

    @field_validator("header")
    @classmethod
    def _header(cls, value: str) -> str:
        return _header_name(value)


class SetHeaderParams(HeaderParams):
    value: str = Field(min_length=1)

    @field_validator("value")
    @classmethod
    def _value(cls, value: str) -> str:
        problem = header_value_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


class ParamParams(_Params):
    param: str = Field(min_length=1, description="bracket path: metadata[order_id]")
    where: Where = Field("auto", alias="in")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SetParamParams(ParamParams):
    value: Any


@builtin("set_header", SetHeaderParams)
def set_header(request: Request, context: TransformContext) -> Request:
    """Set a header on every request (replacing the recorded or target's value)."""
    params: SetHeaderParams = context.params
    return replace(request, headers=with_header(request.headers, params.header, params.value))


@builtin("remove_header", HeaderParams)
def remove_header(request: Request, context: TransformContext) -> Request:
    """Send a request without a header."""
    params: HeaderParams = context.params
    return replace(request, headers=without_header(request.headers, params.header))


@builtin("set_param", SetParamParams)
def set_param(request: Request, context: TransformContext) -> Request:
    """Set a parameter (form, query or JSON; `metadata[source]` bracket paths)."""
    params: SetParamParams = context.params
    return edit_param(request, params.param, params.value, params.where, remove=False)


@builtin("remove_param", ParamParams)
def remove_param(request: Request, context: TransformContext) -> Request:
    """Remove a parameter and everything under it (`metadata` removes `metadata[k]`)."""
    params: ParamParams = context.params
    return edit_param(request, params.param, None, params.where, remove=True)


# --- Charges → PaymentIntents -------------------------------------------------------------


class ChargesToPaymentIntentsParams(_Params):
    payment_method_types: list[str] = Field(default_factory=lambda: ["card"], min_length=1)


CHARGES_TO_PAYMENT_INTENTS = "charges_to_payment_intents"
_CAPTURE_PATH = re.compile(r"^/v1/charges/([^/]+)/capture/?$")
# Charge expansions that name something a PaymentIntent has too; any other is on its
# latest charge.
_INTENT_EXPANSIONS = frozenset({"customer", "invoice", "on_behalf_of", "review", "application"})


def _expansion(value: str) -> str | None:
    head = value.split(".", 1)[0]
    if head == "payment_intent":
        return None  # the answer is the PaymentIntent itself
    return value if head in _INTENT_EXPANSIONS else f"latest_charge.{value}"


def _pairs(encoded: str) -> Iterator[tuple[str, str, str, str]]:
    """(raw part, key, value, first path segment) for every pair of a form string."""
    for part in encoded.split("&") if encoded else []:
        raw_key, _, raw_value = part.partition("=")
        key = unquote_plus(raw_key)
        yield part, key, unquote_plus(raw_value), form_key_path(key)[0]


def _intent_body(encoded: str, *, capture: bool, types: list[str]) -> str:
    """A Charge's parameters as a PaymentIntent's (create, or capture)."""
    kept: list[str] = []
    added: list[tuple[str, str]] = []
    expand: list[str] = []
    for part, _key, value, head in _pairs(encoded):
        if head == "expand":
            mapped = _expansion(value)
            if mapped is not None:
                expand.append(mapped)
        elif head == "statement_descriptor":
            # Stripe refuses statement_descriptor on a card PaymentIntent; the suffix is
            # the part a card statement shows after the account's prefix.
            added.append(("statement_descriptor_suffix", value))
        elif capture and head == "amount":
            added.append(("amount_to_capture", value))
        elif not capture and head == "source":
            if is_test_token(value) or value.startswith("tok_"):
                added += [("payment_method_data[type]", "card")]
                added += [("payment_method_data[card][token]", value)]
            else:
                added.append(("payment_method", value))  # pm_, card_ and src_ ids all do
        elif not capture and head == "capture":
            if value == "false":
                added.append(("capture_method", "manual"))
        else:
            kept.append(part)
    if not capture:
        added.append(("confirm", "true"))
        added += [(f"payment_method_types[{i}]", kind) for i, kind in enumerate(types)]
    if "latest_charge" not in expand:
        expand.append("latest_charge")  # the answer carries the charge it made
    added += [(f"expand[{i}]", value) for i, value in enumerate(expand)]
    return "&".join([*kept, encode_form_pairs(added)])


@builtin(CHARGES_TO_PAYMENT_INTENTS, ChargesToPaymentIntentsParams)
def charges_to_payment_intents(request: Request, context: TransformContext) -> Request:
    """Send a recorded `POST /v1/charges` as a confirmed `POST /v1/payment_intents`, and a
    charge's capture as its PaymentIntent's."""
    if request.method.upper() != "POST" or _is_json(request):
        return request
    params: ChargesToPaymentIntentsParams = context.params
    path = request.path.rstrip("/")
    if path == "/v1/charges":
        body = _intent_body(request.text, capture=False, types=params.payment_method_types)
        return replace(request, path="/v1/payment_intents", body=body)
    match = _CAPTURE_PATH.match(request.path)
    if match is not None:
        intent = context.state.get(CHARGES_TO_PAYMENT_INTENTS, {}).get(match.group(1))
        if intent is None:
            return request  # a charge the transform did not make: capture it as it is
        body = _intent_body(request.text, capture=True, types=params.payment_method_types)
        return replace(request, path=f"/v1/payment_intents/{intent}/capture", body=body)
    return request


def _learn_payment_intent(answer: Response, context: TransformContext) -> None:
    """A PaymentIntent answering for a Charge: its latest charge is the recorded charge
    (so later reads and refunds of the charge follow it), and its id is what a capture
    of that charge is sent to."""
    recorded = context.recorded
    if recorded.request.method.upper() != "POST":
        return
    path = recorded.request.path.rstrip("/")
    if path != "/v1/charges" and _CAPTURE_PATH.match(recorded.request.path) is None:
        return
    intent = response_json(answer)
    if not isinstance(intent, dict) or intent.get("object") != "payment_intent":
        return
    latest = intent.get("latest_charge")
    latest_id = latest.get("id") if isinstance(latest, dict) else latest
    if not isinstance(latest_id, str) or not isinstance(intent.get("id"), str):
        return
    context.state.setdefault(CHARGES_TO_PAYMENT_INTENTS, {})[latest_id] = intent["id"]
    charge = response_json(recorded.response)
    if isinstance(charge, dict) and charge.get("object") == "charge":
        if isinstance(latest, dict):
            context.ids.learn(charge, latest)
        elif isinstance(charge.get("id"), str):
            context.ids.pair(charge["id"], latest_id)


BUILTINS[CHARGES_TO_PAYMENT_INTENTS] = Transform(
    charges_to_payment_intents,
    _learn_payment_intent,
    ChargesToPaymentIntentsParams,
    BUILTINS[CHARGES_TO_PAYMENT_INTENTS].summary,
)
