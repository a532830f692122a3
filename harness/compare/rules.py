"""The `compare:` section of a scenario, or a rules file: ignore, expect and severity
rules plus the settings of normalisation, noise and grouping.

Validated with pydantic (unknown fields refused) and reported as one line naming the
file and the field: `scenarios/x.yaml: compare.expect[0].reason: field required`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from harness.compare.cause import cause_of
from harness.errors import ScenarioError
from harness.formats.untrusted import load_yaml, yaml_problem
from harness.model import Difference, Severity
from harness.stripe.globs import glob_match
from harness.validation import field_path, known_fields


def _path_pattern(value: str) -> str:
    """`metadata.*` means `$.metadata.*`: a path pattern is anchored at the body's root
    unless it starts with `$`, `*` or `headers.`."""
    value = value.strip()
    if value.startswith(("$", "*", "headers.")):
        return value
    return "$." + value


class _Rule(BaseModel):
    """A rule matches differences in either of two forms, or both at once: by where they
    were seen (`endpoint` and `path` globs) or by their cause (`object` and `field` globs:
    `object: subscription, field: plan` matches a subscription's plan through every
    endpoint that shows it). Left out, a glob matches anything."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint: str = Field("*", description="glob over endpoint templates: `POST /v1/customers*`")
    path: str = Field("*", description="glob over JSON paths: `$.sources*`, `metadata.*`")
    object: str | None = Field(None, description="glob over object types: `subscription`")
    field: str | None = Field(
        None, description="glob over field paths inside the object: `plan`, `metadata.*`"
    )

    @field_validator("path")
    @classmethod
    def _anchor(cls, value: str) -> str:
        return _path_pattern(value)

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


class _KindRule(_Rule):
    kind: RuleKind | None = None

    def matches(self, difference: Difference) -> bool:
        if self.kind is None or self.kind == difference.kind:
            return self.matches_signature(difference)
        # `unpaired` and `renamed` name a cause, whatever its differences' kinds.
        return self.kind == difference.cause_kind and self.matches_signature(difference)


class IgnoreRule(_Rule):
    """Differences at these paths (or of these objects' fields) are noise (reported as
    such, never dropped)."""

    reason: str | None = None

    @model_validator(mode="after")
    def _names_something(self) -> IgnoreRule:
        if "path" not in self.model_fields_set and self.object is None and self.field is None:
            raise ValueError("path: field required (or name a cause: `object: customer`)")
        return self


class ExpectRule(_KindRule):
    """A change the user expects (an API upgrade): shown as expected, not a regression."""

    reason: str = Field(..., min_length=1)

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must say why the change is expected")
        return value.strip()


class SeverityRule(_KindRule):
    """Overrides the default severity of matching differences."""

    severity: Severity


class NoiseSettings(BaseModel):
    """Diffy's thresholds, in percent: a difference is real only when the candidate's
    rate exceeds the secondary's by more than `relative` percent of their sum and by more
    than `absolute` percent of the endpoint's exchanges."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    relative: Annotated[float, Field(ge=0, le=100)] = 20.0
    absolute: Annotated[float, Field(ge=0, le=100)] = 0.03


class CompareConfig(BaseModel):
    """Everything compare can be told; every field has a default that suits Stripe."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules_file: str | None = None
    ignore: list[IgnoreRule] = Field(default_factory=list)
    expect: list[ExpectRule] = Field(default_factory=list)
    severity: list[SeverityRule] = Field(default_factory=list)
    headers: list[str] = Field(default_factory=lambda: ["content-type"])
    mask: list[str] = Field(default_factory=list)
    timestamps: list[str] = Field(default_factory=list)
    timestamp_tolerance: float = Field(5.0, ge=0)
    noise: NoiseSettings = Field(default_factory=lambda: NoiseSettings())
    samples: int = Field(5, ge=0, le=1000)
    # Every candidate expects an API upgrade: differences the catalogue diff between the
    # baseline's and the candidate's versions explains are expected (docs/catalogue.md).
    expect_upgrade: bool = False

    @field_validator("headers")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [h.strip().lower() for h in value]

    def settings_json(self) -> dict[str, Any]:
        """The settings as written into summary.json."""
        return self.model_dump(mode="json", exclude={"rules_file"})


_MESSAGES = {
    "missing": "field required",
    "model_type": "expected a mapping, e.g. {endpoint: 'GET /v1/customers/*', path: '$.sources'}",
    "string_too_short": "must not be empty",
}


def _message(error: Any, model: type[BaseModel], loc: Sequence[int | str]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = known_fields(model, loc[:-1])
        return "unknown field" + (f" (expected one of: {', '.join(allowed)})" if allowed else "")
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    message = str(error["msg"])
    message = message.removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


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
    try:
        return CompareConfig.model_validate(data)
    except ValidationError as exc:
        # A misspelt field also leaves a required one missing: name the misspelling.
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        error = errors[0]
        loc = tuple(error["loc"])
        where = field_path(loc, prefix) or prefix
        raise ScenarioError(f"{source}: {where}: {_message(error, CompareConfig, loc)}") from None


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
    merged = base.model_dump()
    added = extra.model_dump()
    for name in extra.model_fields_set:
        if name in ("ignore", "expect", "severity"):
            merged[name] = merged[name] + added[name]
        else:
            merged[name] = added[name]
    merged["rules_file"] = None
    return CompareConfig.model_validate(merged)


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
