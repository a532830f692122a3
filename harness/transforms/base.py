"""Request transforms: the one signature, the registry of them by name, and the check of a
target's `transforms:` list (see harness.transforms for the whole story)."""

from __future__ import annotations

import contextlib
import difflib
import importlib
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

from harness.errors import NotRegistered, ScenarioProblem
from harness.model import Exchange, Request, Response
from harness.registry import Registry
from harness.stripe import (
    endpoint_template,
)
from harness.stripe.globs import glob_match

ENTRY_POINT_GROUP = "stripe_shadow.transforms"


class Ids(Protocol):
    """What a transform may do with a target's id map (harness.replay.idmap.IdMap)."""

    def get(self, recorded: str) -> str | None: ...

    def pair(self, recorded: str, target: str) -> bool: ...

    def learn(self, recorded: Any, replayed: Any) -> int: ...


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
    ids: Ids
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
        return glob_match(self.endpoint, endpoint_template(request.method, request.path))


# --- the registry ------------------------------------------------------------------------

# Built-ins register themselves here; other packages through the entry point group.
TRANSFORMS: Registry[Any] = Registry("transform", ENTRY_POINT_GROUP)


def builtin(
    name: str, params: type[BaseModel] | None = None, learn: LearnFunction | None = None
) -> Callable[[RewriteFunction], RewriteFunction]:
    """Register a built-in transform under `name`: its rewrite function (decorated), the
    model its parameters are checked with, and what it learns from answers."""

    def register(rewrite: RewriteFunction) -> RewriteFunction:
        summary = (rewrite.__doc__ or "").split("\n")[0]
        TRANSFORMS.register(name, Transform(rewrite, learn, params, summary))
        return rewrite

    return register


def _as_transform(found: Any, name: str) -> Transform:
    if isinstance(found, Transform):
        return found
    if callable(found):
        return Transform(found, getattr(found, "learn", None), None, (found.__doc__ or "").strip())
    raise ScenarioProblem((), f"{name} is a {type(found).__name__}, not a function or Transform")


def known_names() -> list[str]:
    """Built-in names and those the installed packages register as entry points."""
    return sorted(TRANSFORMS)


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
    Raises ScenarioProblem with a sentence saying what to fix."""
    if ":" not in name and name in TRANSFORMS:
        try:
            return _as_transform(TRANSFORMS[name], name)
        except NotRegistered as exc:  # a plugin that cannot be loaded
            raise ScenarioProblem((), str(exc)) from None
    if ":" in name:
        module_name, _, attribute = name.partition(":")
        if not module_name or not attribute:
            raise ScenarioProblem((), f"{name!r}: a dotted path is module:function")
        with _on_path(base):
            try:
                module = importlib.import_module(module_name)
            except Exception as exc:  # a user's module may fail in any way on import
                raise ScenarioProblem(
                    (), f"cannot import {module_name!r} ({type(exc).__name__}: {exc})"
                ) from None
        found: Any = module
        for part in attribute.split("."):
            if not hasattr(found, part):
                raise ScenarioProblem((), f"module {module_name!r} has no {attribute!r}")
            found = getattr(found, part)
        return _as_transform(found, name)
    known = known_names()
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ScenarioProblem(
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
        raise ScenarioProblem((), "expected a list of transforms")
    specs: list[TransformSpec] = []
    for index, entry in enumerate(entries):
        if isinstance(entry, TransformSpec):
            specs.append(entry)
            continue
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, dict):
            raise ScenarioProblem(
                (index,), "expected a transform name or a mapping {name: …, parameters…}"
            )
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ScenarioProblem((index, "name"), "missing (required): the transform's name")
        endpoint = entry.get("endpoint")
        if endpoint is not None and not isinstance(endpoint, str):
            raise ScenarioProblem(
                (index, "endpoint"), "expected a glob over endpoints, e.g. 'POST /v1/charges*'"
            )
        try:
            transform = resolve_transform(name.strip(), base)
        except ScenarioProblem as exc:
            raise ScenarioProblem((index, "name"), str(exc)) from None
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
        raise ScenarioProblem(where, message) from None


def parameters(spec: TransformSpec) -> Any:
    """A spec's parameters as its transform's model (or the plain dict)."""
    model = spec.transform.params
    return model.model_validate(spec.params) if model is not None else spec.params
