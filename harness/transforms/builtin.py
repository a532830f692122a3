"""The transforms every scenario can name: set or remove a header, set or remove a
parameter (docs/transforms.md)."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from harness.model import Request, header_value_problem
from harness.stripe import (
    HARNESS_HEADERS,
)
from harness.transforms.base import TransformContext, builtin
from harness.transforms.edit import Where, edit_param


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
    return replace(request, headers=request.headers.with_value(params.header, params.value))


@builtin("remove_header", HeaderParams)
def remove_header(request: Request, context: TransformContext) -> Request:
    """Send a request without a header."""
    params: HeaderParams = context.params
    return replace(request, headers=request.headers.without(params.header))


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
