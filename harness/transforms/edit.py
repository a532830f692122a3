"""Editing a request's parameters by bracket path (`metadata[order_id]`, `expand[]`), in
its form body, query string or JSON body, keys of the others left byte for byte."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, Literal
from urllib.parse import unquote_plus

from harness.formats.untrusted import JSONProblem, load_json
from harness.model import Request
from harness.stripe import (
    encode_form_pairs,
    flatten_form_tree,
    form_key_path,
)

Where = Literal["auto", "form", "query", "json"]


def _location(request: Request, where: Where) -> Literal["form", "query", "json"]:
    if where != "auto":
        return where
    if request.method.upper() in ("GET", "DELETE", "HEAD"):
        return "query"
    return "json" if request.body and request.has_json_body else "form"


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
