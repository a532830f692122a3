"""How a pydantic validation error is told to a user: the field's path as written in the
file (`targets[1].launch.url`) and the keys the model there knows. Shared by every file
the harness validates (scenarios, compare rules, gates)."""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel


def field_path(loc: Sequence[int | str], prefix: str = "") -> str:
    """`("targets", 1, "url")` → `targets[1].url`, after `prefix` when one is given."""
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The models an annotation can hold: `X`, `X | None`, `list[X]`, `dict[str, X]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _models_in(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list, tuple, set, frozenset, dict):
        found: list[type[BaseModel]] = []
        for arg in typing.get_args(annotation):
            found.extend(_models_in(arg))
        return found
    return []


def model_at(model: type[BaseModel], loc: Sequence[int | str]) -> type[BaseModel] | None:
    """The model whose fields apply at `loc` inside `model` (list positions skipped), or
    None where no single model does."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return None
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part)
        if field is None:
            return None
        models = _models_in(field.annotation)
        current = models[0] if len(models) == 1 else None
    return current


def known_fields(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """The keys the model at `loc` accepts, for an `unknown key` message."""
    found = model_at(model, loc)
    return list(found.model_fields) if found is not None else []
