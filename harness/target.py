"""A target as the harness sends to it: a URL it accepts, the headers a scenario may set,
and the key it is sent (from its own environment variable, never from the recording),
with the live-mode guard. Every stage that talks to a target (replay, reconciliation)
reads keys through here."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from harness.errors import InputError, LiveModeRefused
from harness.model import header_value_problem
from harness.stripe import HARNESS_HEADERS, bare_key, is_live_key

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def check_url(value: str) -> str:
    """An absolute http(s) URL with a host, without a trailing slash, spaces or
    credentials (a target's key comes from its api_key_env only)."""
    if re.search(r"[\s\x00-\x1f\x7f]", value):
        raise ValueError("not a URL (it holds a space or a control character)")
    parts = urlsplit(value.replace("{port}", "1"))
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise ValueError("not a URL (bad port)") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not a URL (expected http://host:port or https://host)")
    if parts.query or parts.fragment:
        raise ValueError("not a URL a target can have (no query or fragment allowed)")
    if "@" in parts.netloc:
        raise ValueError(
            "a URL may not hold credentials (user:password@host): they would be sent to the "
            "target and written into run.json; put the key in the environment variable that "
            "api_key_env names"
        )
    return value.rstrip("/")


def check_headers(value: dict[str, str]) -> dict[str, str]:
    """Headers a target is sent on every request: names a server takes, values without a
    line break, and none the harness owns (Authorization, Idempotency-Key…)."""
    for name, text in value.items():
        if not _HEADER_NAME.match(name):
            raise ValueError(f"{name!r} is not a header name")
        why = HARNESS_HEADERS.get(name.lower())
        if why:
            raise ValueError(f"{name} may not be set here: {why}")
        problem = header_value_problem(text)
        if problem is not None:
            raise ValueError(f"{name}: {problem}")
    return value


class KeyedTarget(Protocol):
    """What the key of a target depends on (harness.scenario.TargetSpec has it)."""

    @property
    def name(self) -> str: ...
    @property
    def api_key_env(self) -> str | None: ...
    @property
    def fixed_key(self) -> str | None: ...


def target_key(target: KeyedTarget) -> str | None:
    """The key a target is sent: from its api_key_env, the fixed key of an emulator it
    launches (localstripe, stripe-mock), or none. Never from the recording."""
    if target.api_key_env:
        value = bare_key(os.environ.get(target.api_key_env, ""))
        if not value:
            raise InputError(
                f"target {target.name}: api_key_env: {target.api_key_env} is not set; "
                f"export the target's API key in it"
            )
        return value
    return target.fixed_key


def webhook_secret(target: str, env: str | None) -> str | None:
    """The `whsec_` secret a target signs its events with, from the environment variable
    its `events.webhook_secret_env` names (never from a file)."""
    if env is None:
        return None
    value = os.environ.get(env, "").strip()
    if not value:
        raise InputError(
            f"target {target}: events.webhook_secret_env: {env} is not set; export the "
            "endpoint's signing secret (whsec_...) in it"
        )
    return value


def target_keys(
    targets: Iterable[KeyedTarget], scenario: Path, *, scenario_allows: bool, allow_live: bool
) -> dict[str, str | None]:
    """Every target's key, refusing live-mode keys unless both the scenario
    (`allow_live: true`, `scenario_allows`) and the command line (`--allow-live`) say so."""
    keys: dict[str, str | None] = {}
    for target in targets:
        key = target_key(target)
        if key is not None and is_live_key(key) and not (scenario_allows and allow_live):
            missing = []
            if not scenario_allows:
                missing.append(f"allow_live: true in {scenario}")
            if not allow_live:
                missing.append("--allow-live on the command line")
            raise LiveModeRefused(
                f"target {target.name}: {target.api_key_env} holds a live-mode key "
                f"({key[:8]}…); a replay creates real objects and moves real money. "
                f"To go ahead anyway, give {' and '.join(missing)}"
            )
        keys[target.name] = key
    return keys
