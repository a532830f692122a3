"""The `compare:` section of a scenario, or a rules file: ignore, expect and severity
rules plus the settings of normalisation, noise and grouping.

The rules and settings are frozen dataclasses: a compare without rules builds its
defaults without importing pydantic (a tenth of a second of every `shadow compare`).
Given rules are validated by pydantic, imported then, against these same dataclasses
(unknown fields refused), and reported as one line naming the file and the field:
`scenarios/x.yaml: compare.expect[0].reason: field required`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml

from harness.compare.cause import cause_of
from harness.errors import ScenarioError
from harness.formats.untrusted import load_yaml, yaml_problem
from harness.model import Difference, Severity
from harness.stripe.globs import glob_match

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler, TypeAdapter
    from pydantic_core import CoreSchema

# What every rule and the settings refuse: a field they do not have.
_FORBID_EXTRA = {"extra": "forbid"}


class _Limits:
    """An annotation: bounds pydantic checks (as `Field(ge=0, le=100)` would), set on the
    schema it builds for the type, with pydantic's own messages."""

    def __init__(self, **limits: float) -> None:
        self.limits = limits

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return {**handler(source), **self.limits}  # type: ignore[return-value]


class _After:
    """An annotation: pydantic runs `check` on a value it has validated (as a
    field_validator would), its ValueError told at the field. Read only when pydantic
    builds the schema, so defining the dataclasses needs no pydantic."""

    def __init__(self, check: Callable[[Any], Any]) -> None:
        self.check = check

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(self.check, handler(source))


class _Around:
    """An annotation: pydantic validates the value, then `check(raw, validated)` may
    refuse it with a ValueError told at the value (as a model_validator would)."""

    def __init__(self, check: Callable[[Any, Any], None]) -> None:
        self.check = check

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        from pydantic_core import core_schema

        def validate(raw: Any, inner: Callable[[Any], Any]) -> Any:
            validated = inner(raw)
            self.check(raw, validated)
            return validated

        return core_schema.no_info_wrap_validator_function(validate, handler(source))


def _path_pattern(value: str) -> str:
    """`metadata.*` means `$.metadata.*`: a path pattern is anchored at the body's root
    unless it starts with `$`, `*` or `headers.`."""
    value = value.strip()
    if value.startswith(("$", "*", "headers.")):
        return value
    return "$." + value


@dataclass(frozen=True, slots=True, kw_only=True)
class _Rule:
    """A rule matches differences in either of two forms, or both at once: by where they
    were seen (`endpoint` and `path` globs) or by their cause (`object` and `field` globs:
    `object: subscription, field: plan` matches a subscription's plan through every
    endpoint that shows it). Left out, a glob matches anything.

    endpoint: glob over endpoint templates (`POST /v1/customers*`); path: glob over JSON
    paths (`$.sources*`, `metadata.*`); object: glob over object types (`subscription`);
    field: glob over field paths inside the object (`plan`, `metadata.*`)."""

    __pydantic_config__ = _FORBID_EXTRA

    endpoint: str = "*"
    path: Annotated[str, _After(_path_pattern)] = "*"
    object: str | None = None
    field: str | None = None

    def matches_signature(self, difference: Difference) -> bool:
        """Whether the difference's endpoint, path, object type and field fit the globs."""
        if not glob_match(self.endpoint, difference.endpoint):
            return False
        if not glob_match(self.path, difference.path):
            return False
        if self.object is None and self.field is None:
            return True
        cause = cause_of(difference)
        if cause.object is None:
            return False
        return (self.object is None or glob_match(self.object, cause.object)) and (
            self.field is None or glob_match(self.field, cause.field)
        )


# A difference kind, or a cause's: `unpaired` (list items that are not the same object)
# or `renamed` (a field removed beside one added with its value).
RuleKind = Literal["status", "error", "removed", "added", "type", "value", "unpaired", "renamed"]


@dataclass(frozen=True, slots=True, kw_only=True)
class _KindRule(_Rule):
    kind: RuleKind | None = None

    def matches(self, difference: Difference) -> bool:
        if self.kind is None or self.kind == difference.kind:
            return self.matches_signature(difference)
        # `unpaired` and `renamed` name a cause, whatever its differences' kinds.
        return self.kind == difference.cause_kind and self.matches_signature(difference)


@dataclass(frozen=True, slots=True, kw_only=True)
class IgnoreRule(_Rule):
    """Differences at these paths (or of these objects' fields) are noise (reported as
    such, never dropped)."""

    reason: str | None = None


def _names_something(raw: Any, rule: IgnoreRule) -> None:
    if isinstance(raw, dict) and "path" not in raw and rule.object is None and rule.field is None:
        raise ValueError("path: field required (or name a cause: `object: customer`)")


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must say why the change is expected")
    return value.strip()


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpectRule(_KindRule):
    """A change the user expects (an API upgrade): shown as expected, not a regression."""

    reason: Annotated[str, _Limits(min_length=1), _After(_not_blank)]


@dataclass(frozen=True, slots=True, kw_only=True)
class SeverityRule(_KindRule):
    """Overrides the default severity of matching differences."""

    severity: Severity


@dataclass(frozen=True, slots=True, kw_only=True)
class NoiseSettings:
    """Diffy's thresholds, in percent: a difference is real only when the candidate's
    rate exceeds the secondary's by more than `relative` percent of their sum and by more
    than `absolute` percent of the endpoint's exchanges."""

    __pydantic_config__ = _FORBID_EXTRA

    relative: Annotated[float, _Limits(ge=0, le=100)] = 20.0
    absolute: Annotated[float, _Limits(ge=0, le=100)] = 0.03


def _lower(value: list[str]) -> list[str]:
    return [h.strip().lower() for h in value]


@dataclass(frozen=True, kw_only=True)
class CompareConfig:
    """Everything compare can be told; every field has a default that suits Stripe."""

    __pydantic_config__ = _FORBID_EXTRA

    rules_file: str | None = None
    ignore: list[Annotated[IgnoreRule, _Around(_names_something)]] = field(default_factory=list)
    expect: list[ExpectRule] = field(default_factory=list)
    severity: list[SeverityRule] = field(default_factory=list)
    headers: Annotated[list[str], _After(_lower)] = field(default_factory=lambda: ["content-type"])
    mask: list[str] = field(default_factory=list)
    timestamps: list[str] = field(default_factory=list)
    timestamp_tolerance: Annotated[float, _Limits(ge=0)] = 5.0
    noise: NoiseSettings = field(default_factory=NoiseSettings)
    samples: Annotated[int, _Limits(ge=0, le=1000)] = 5
    # Every candidate expects an API upgrade: differences the catalogue diff between the
    # baseline's and the candidate's versions explains are expected (docs/catalogue.md).
    expect_upgrade: bool = False
    # The fields the validated section gave (merge_configs: only those override).
    given: frozenset[str] = field(default=frozenset(), init=False, compare=False, repr=False)

    def settings_json(self) -> dict[str, Any]:
        """The settings as written into summary.json."""
        return {
            name: _jsonable(getattr(self, name))
            for name in _field_names(CompareConfig)
            if name != "rules_file"
        }


def _jsonable(value: Any) -> Any:
    """A setting as JSON holds it: rules and noise settings as objects of their fields."""
    if dataclasses.is_dataclass(value):
        return {name: _jsonable(getattr(value, name)) for name in _field_names(type(value))}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, Severity):
        return value.value
    return value


def _field_names(kind: type) -> list[str]:
    """The fields a section may give, in their order (`given` is none of them)."""
    return [f.name for f in dataclasses.fields(kind) if f.init]


# The dataclass each field of a section holds, for naming the fields a place accepts.
_NESTED: dict[str, type] = {
    "ignore": IgnoreRule,
    "expect": ExpectRule,
    "severity": SeverityRule,
    "noise": NoiseSettings,
}


def _known_fields(loc: Sequence[int | str]) -> list[str]:
    """The fields the place `loc` (of a section) accepts, for an `unknown field` message."""
    names = [part for part in loc if isinstance(part, str)]
    if not names:
        return _field_names(CompareConfig)
    kind = _NESTED.get(names[0])
    return _field_names(kind) if kind is not None and len(names) == 1 else []


_MESSAGES = {
    "missing": "field required",
    "dataclass_type": (
        "expected a mapping, e.g. {endpoint: 'GET /v1/customers/*', path: '$.sources'}"
    ),
    "string_too_short": "must not be empty",
}
# How pydantic says a field is not one the dataclass has.
_UNKNOWN = "unexpected_keyword_argument"


def _message(error: Any, loc: Sequence[int | str]) -> str:
    kind = error["type"]
    if kind == _UNKNOWN:
        allowed = _known_fields(loc[:-1])
        return "unknown field" + (f" (expected one of: {', '.join(allowed)})" if allowed else "")
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    message = str(error["msg"])
    message = message.removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


@functools.cache
def _validator() -> TypeAdapter[CompareConfig]:
    """pydantic's validator of a section, built once, when a section gives anything."""
    from pydantic import TypeAdapter

    return TypeAdapter(CompareConfig)


def parse_compare_config(
    data: dict[str, Any] | None, source: str, *, prefix: str = "compare"
) -> CompareConfig:
    """Validate a `compare:` section (or a rules file's content, with prefix "").

    Raises ScenarioError `SOURCE: compare.expect[0].reason: field required`.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        where = f"{source}: {prefix}" if prefix else source
        raise ScenarioError(
            f"{where}: expected a mapping of compare settings, got {type(data).__name__}"
        )
    if not data:
        return CompareConfig()
    from pydantic import ValidationError

    from harness.validation import field_path

    try:
        config = _validator().validate_python(data)
    except ValidationError as exc:
        # A misspelt field also leaves a required one missing: name the misspelling.
        errors = sorted(exc.errors(), key=lambda e: e["type"] != _UNKNOWN)
        error = errors[0]
        loc = tuple(error["loc"])
        where = field_path(loc, prefix) or prefix
        raise ScenarioError(f"{source}: {where}: {_message(error, loc)}") from None
    object.__setattr__(config, "given", frozenset(data))
    return config


def load_rules_file(path: Path) -> CompareConfig:
    """A separate rules file: YAML with the fields of the `compare:` section at the top."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such rules file") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not a text file (expected YAML rules)") from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot be read as a rules file ({exc.strerror})") from None
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(yaml_problem(exc, str(path), text)) from None
    config = parse_compare_config(data if data is not None else {}, str(path), prefix="")
    if config.rules_file is not None:
        raise ScenarioError(f"{path}: rules_file: a rules file cannot name another rules file")
    return config


def merge_configs(base: CompareConfig, extra: CompareConfig) -> CompareConfig:
    """`extra` after `base`: rule lists are concatenated, settings `extra` sets win."""
    changes: dict[str, Any] = {"rules_file": None}
    for name in extra.given:
        if name in ("ignore", "expect", "severity"):
            changes[name] = getattr(base, name) + getattr(extra, name)
        else:
            changes[name] = getattr(extra, name)
    merged = dataclasses.replace(base, **changes)
    object.__setattr__(merged, "given", frozenset(_field_names(CompareConfig)))
    return merged


def resolve_config(
    section: dict[str, Any] | None,
    scenario_path: Path | None,
    rules_path: Path | None,
) -> CompareConfig:
    """The settings in effect: the scenario's section, then its rules_file (relative to
    the scenario), then `--rules`, each adding rules and overriding settings."""
    source = str(scenario_path) if scenario_path is not None else "scenario"
    config = parse_compare_config(section, source)
    if config.rules_file is not None:
        base_dir = scenario_path.parent if scenario_path is not None else Path.cwd()
        config = merge_configs(config, load_rules_file(base_dir / config.rules_file))
    if rules_path is not None:
        config = merge_configs(config, load_rules_file(rules_path))
    return config
