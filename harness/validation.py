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


def error_message(error: Any, model: type[BaseModel] | None) -> str:
    """One pydantic error in the words of someone writing YAML: what is wrong, and the keys
    the model there knows."""
    kind = error["type"]
    if kind == "missing":
        return "missing (required)"
    if kind == "extra_forbidden":
        known = ", ".join(model.model_fields) if model is not None else ""
        return "unknown key" + (f" (known keys: {known})" if known else "")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        known = ", ".join(model.model_fields) if model is not None else ""
        return (
            "expected a mapping of keys"
            + (f" ({known})" if known else "")
            + (f", got {_yaml_kind(error.get('input'))}")
        )
    if kind == "string_pattern_mismatch":
        return "use letters, digits, '.', '_' or '-' (up to 64, starting with a letter or digit)"
    if kind in ("value_error", "assertion_error"):
        cause = error.get("ctx", {}).get("error")
        return str(cause) if cause is not None else error["msg"]
    message = str(error["msg"])
    message = message.replace("Input should be", "expected").replace("Input ", "")
    if kind.endswith("_type") or kind.endswith("_parsing"):
        message += f", got {type(error.get('input')).__name__}"
    return message[:1].lower() + message[1:]


def _yaml_kind(value: Any) -> str:
    """What a YAML value is, in the words of someone writing YAML."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    return "nothing" if value is None else type(value).__name__
